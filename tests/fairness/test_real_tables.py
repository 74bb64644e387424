"""The audit on a real public credit table (German credit, tests/data): no crash, strict JSON, honest verdict."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

import pandas as pd
import pytest

from thinfile.commands.fairness import check_lines
from thinfile.config import Settings
from thinfile.features.schema import load_schema
from thinfile.training.audit_groups import crossed_too_small
from thinfile.training.champion import fit_champion
from thinfile.training.data import load_training_table, prepare
from thinfile.training.fairness import VERDICTS, FairnessReport, fairness_report, render_html, write_report
from thinfile.training.scorecard import fit_bureau_scorecard
from thinfile.training.split import split_frame

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def german(fast: Settings) -> tuple[FairnessReport, pd.DataFrame]:
    """The champion's report on the 200 held-out rows of the German credit table, bureau scorecard as baseline."""
    schema = load_schema(DATA / "german_credit.yaml")
    prepared = prepare(load_training_table(DATA / "german_credit.csv"), schema)
    parts = split_frame(prepared.frame, schema, fast.train)
    scorer = fit_champion(parts.train, parts.valid, schema, fast.train, fast.scale, fast.cutoffs)
    baseline = fit_bureau_scorecard(parts.train, schema)
    report = fairness_report(
        scorer, parts.test, baseline=baseline, limits=fast.fairness, audit=fast.audit, data={"source": "german"}
    )
    return report, parts.test


def test_real_table_gives_strict_json_and_a_page(german: tuple[FairnessReport, pd.DataFrame], tmp_path: Path) -> None:
    report, _ = german
    html, js = write_report(report, tmp_path)
    data = json.loads(js.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert data["verdict"] in VERDICTS and data["verdict"] == report.verdict
    assert f'<div class="verdict {report.verdict}">' in html.read_text()


def test_real_table_small_groups_are_listed_with_their_true_size(german: tuple[FairnessReport, pd.DataFrame]) -> None:
    report, test = german
    single = [u for u in report.unchecked if " & " not in u.attribute]
    assert single, "the 200 held-out rows should leave at least one age band under 50 rows"
    for u in single:
        assert u.rows == int((test[u.attribute].astype(str) == u.group).sum()) < report.audit.min_group_rows
    assert report.verdict != "pass"


def test_real_table_console_says_each_failing_or_noisy_check_once(german: tuple[FairnessReport, pd.DataFrame]) -> None:
    report, _ = german
    failing_within_noise = [c for c in report.failures if c.within_noise]
    assert failing_within_noise, "the 200 held-out rows should leave a failure whose interval crosses its limit"
    text = "\n".join(check_lines(report))
    for c in [*report.failures, *report.within_noise]:
        assert text.count(c.sentence) == 1, c.sentence
    assert text.count("within sampling noise") == len(failing_within_noise) + bool(report.passes_within_noise)


def test_real_table_page_lists_a_failure_within_noise_only_among_the_failures(
    german: tuple[FairnessReport, pd.DataFrame],
) -> None:
    report, _ = german
    page = render_html(report)
    assert report.passes_within_noise, "the page's list of checks within sampling noise should be there to read"
    failures = page.split("<h3>Outside the limits</h3>")[1].split("</ul>")[0]
    noise = page.split("Within sampling noise: more rows are needed to be sure</h3>")[1].split("</ul>")[0]
    for c in (c for c in report.failures if c.within_noise):
        assert failures.count(escape(c.sentence)) == 1 and escape(c.sentence) not in noise, c.sentence


def test_real_table_crossed_groups_warned_before_training_are_those_the_audit_lists_unjudged(
    german: tuple[FairnessReport, pd.DataFrame],
) -> None:
    report, test = german
    schema = load_schema(DATA / "german_credit.yaml")
    unjudged = {(u.group, u.rows) for u in report.unchecked if " & " in u.attribute and u.rows > 0}
    assert len(unjudged) >= 2, "the 200 held-out rows should leave crossed groups under 50 rows"
    (warning,) = crossed_too_small(test, schema, report.audit.min_group_rows)
    assert f"{len(unjudged)} of " in warning
    for group, rows in sorted(unjudged, key=lambda gr: gr[1])[:5]:
        assert f"'{group}' {rows} rows" in warning
    crossed = [a for a in report.attributes if " & " in a.name]
    if crossed and all(c.passed is None for c in report.checks if c.attribute == crossed[0].name):
        assert "the crossed checks will not run" in warning
