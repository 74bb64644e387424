"""Each check's interval and when a verdict is within sampling noise; rows in no group said for what they are; the
proxy audit on the groups big enough to fit it. Intervals are checked against the normal approximation by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from thinfile.features.schema import parse_schema
from thinfile.training.fairness.audit import FairnessReport, build_report
from thinfile.training.fairness.report import render_html
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.settings import FairnessAudit, FairnessLimits

Z95 = 1.959963984540054
CUT = Cutoffs(approve=600, refer=550)
FAST = FairnessAudit(proxy_rows=2_000, proxy_rounds=10)
FEATURES = [{"name": "x", "type": "float", "min": -50, "max": 50, "dimension": "capacity", "reason": "x is low"}]
ONE = parse_schema(
    {
        "name": "one",
        "id_column": "id",
        "target": "bad",
        "protected": [{"name": "g", "categories": ["a", "b"]}],
        "features": FEATURES,
    }
)
TWO = parse_schema(
    {
        "name": "two",
        "id_column": "id",
        "target": "bad",
        "protected": [{"name": "g", "categories": ["a", "b"]}, {"name": "m", "categories": ["0", "1", "2"]}],
        "features": FEATURES,
    }
)


def group(name: str, repaid: int, approved_repaid: int, defaulted: int, approved_defaulted: int) -> pd.DataFrame:
    """Exact counts of one group: repaid and defaulted rows, so many of each approved."""
    bad = np.r_[np.zeros(repaid, int), np.ones(defaulted, int)]
    ok = np.r_[np.arange(repaid) < approved_repaid, np.arange(defaulted) < approved_defaulted]
    return pd.DataFrame({"g": name, "bad": bad, "approved": ok})


def table(*groups: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    frame = pd.concat(groups, ignore_index=True)
    frame["id"] = np.arange(len(frame))
    frame["x"] = np.random.default_rng(seed).normal(size=len(frame))
    return frame


def report_on(
    frame: pd.DataFrame, limits: FairnessLimits | None = None, schema=ONE, audit: FairnessAudit = FAST
) -> FairnessReport:
    return build_report(
        frame,
        schema,
        np.full(len(frame), 0.1),
        np.where(frame["approved"], 650.0, 500.0),
        scale=ScoreScale(),
        cutoffs=CUT,
        limits=limits or FairnessLimits(),
        audit=audit,
    )


def wald_difference(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Normal-approximation 95% interval of the difference of two proportions, by hand."""
    p1, p2 = k1 / n1, k2 / n2
    half = Z95 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - half, p1 - p2 + half


def check(report: FairnessReport, metric: str, attribute: str = "g"):
    (c,) = [c for c in report.checks if c.attribute == attribute and c.metric == metric]
    return c


# 20,000 applicants per group, 10% defaulting; among repaid, 80% of a and 70% of b approved: EO difference 0.10.
CLEAR = (group("a", 18_000, 14_400, 2_000, 600), group("b", 18_000, 12_600, 2_000, 600))
# 2,000 applicants against 74: among repaid 75% against 41 of 60 approved, an EO difference of 0.067.
SMALL = (group("a", 1_600, 1_200, 400, 80), group("b", 60, 41, 14, 3))


def test_a_clear_cut_failure_on_many_rows_is_not_called_within_noise() -> None:
    report = report_on(table(*CLEAR))
    eo = check(report, "equal_opportunity_difference")
    low, high = wald_difference(14_400, 18_000, 12_600, 18_000)
    assert high - low < 0.02 and low > 0.05
    assert eo.passed is False and eo.value == pytest.approx(0.1)
    assert (eo.low, eo.high) == (pytest.approx(low, abs=1e-3), pytest.approx(high, abs=1e-3))
    assert not eo.within_noise and eo not in report.within_noise
    assert f"is 0.100 (95% interval {eo.low:.3f} to {eo.high:.3f}), outside the limit 0.05" in eo.sentence
    assert report.headline.startswith("FAIL: 1 of 3 checks are outside the limits.")
    assert "sampling noise" not in report.headline


def test_a_small_group_failure_whose_interval_crosses_the_limit_is_called_within_noise_in_the_headline() -> None:
    report = report_on(table(*SMALL))
    eo = check(report, "equal_opportunity_difference")
    low, high = wald_difference(1_200, 1_600, 41, 60)
    assert low < 0.05 < high
    assert eo.value == pytest.approx(1_200 / 1_600 - 41 / 60) and eo.passed is False
    assert eo.low is not None and eo.low < 0.05 < eo.value <= eo.high
    assert eo.within_noise and eo in report.within_noise
    assert report.verdict == "fail" and report.headline.startswith("FAIL: ")
    assert report.headline == (
        "FAIL: 1 of 3 checks are outside the limits. The failure and all 2 passes are within sampling noise of "
        "their limits (their 95% interval crosses the limit): more rows are needed to be sure."
    )


def test_a_pass_within_noise_stays_a_pass_and_says_so() -> None:
    lenient = FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=0.1, calibration_gap_max=1)
    report = report_on(table(*SMALL), lenient)
    low, high = wald_difference(1_200, 1_600, 41, 60)
    assert high > 0.1
    assert report.verdict == "pass" and report.headline.startswith("PASS: all 3 checks")
    assert [c.metric for c in report.within_noise] == ["equal_opportunity_difference"]
    assert "1 of the 3 passes is within sampling noise of its limit (its 95% interval" in report.headline


def test_json_carries_each_checks_interval_and_no_nan() -> None:
    frame = table(*CLEAR).assign(m="1")
    frame.loc[:29, "m"] = "2"
    report = report_on(frame, schema=TWO)
    data = json.loads(report.to_json(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    checks = {(c["attribute"], c["metric"]): c for c in data["checks"]}
    eo = checks[("g", "equal_opportunity_difference")]
    assert (eo["low"], eo["high"]) == tuple(
        pytest.approx(b, abs=1e-3) for b in wald_difference(14_400, 18_000, 12_600, 18_000)
    )
    di = checks[("g", "disparate_impact_ratio")]
    p1, p2 = 15_000 / 20_000, 13_200 / 20_000
    half = Z95 * math.sqrt((1 - p1) / (20_000 * p1) + (1 - p2) / (20_000 * p2))
    assert di["low"] == pytest.approx(p2 / p1 * math.exp(-half), abs=2e-3)
    assert di["high"] == pytest.approx(p2 / p1 * math.exp(half), abs=2e-3)
    assert di["within_noise"] is False and eo["within_noise"] is False
    not_run = [c for c in data["checks"] if c["attribute"] == "m"]
    assert len(not_run) == 3 and all(c["passed"] is None and c["low"] is None and c["high"] is None for c in not_run)
    (g,) = [a for a in data["attributes"] if a["name"] == "g"]
    assert g["intervals"]["equal_opportunity_difference"] == {"low": eo["low"], "high": eo["high"]}


def test_html_shows_each_checks_interval_and_lists_verdicts_within_noise() -> None:
    report = report_on(table(*SMALL))
    eo = check(report, "equal_opportunity_difference")
    html = render_html(report)
    assert "95% interval</th>" in html and "within sampling noise</th>" in html
    assert f"{eo.low:.3f} to {eo.high:.3f}" in html
    assert "Within sampling noise: more rows are needed to be sure</h3>" in html
    assert "its interval reaches inside the limit, so more rows are needed to be sure." in html


def test_an_undeclared_value_is_not_called_a_missing_one() -> None:
    frame = table(group("a", 90, 60, 10, 2), group("b", 90, 60, 10, 2)).assign(m="1")
    frame.loc[frame.index[-100:], "m"] = "2"
    frame.loc[0, "m"] = "3"
    report = report_on(frame, FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1), TWO)
    undeclared = int((~frame["m"].isin(["0", "1", "2"])).sum())
    assert undeclared == 1 and frame["m"].notna().all()
    assert f"m: {undeclared} of 200 rows hold a value the schema does not declare" in " ".join(report.coverage)
    assert "g & m: 1 of 200 rows hold a value the schema does not declare in one of its parts" in " ".join(
        report.coverage
    )
    assert not any("have no value" in line for line in report.coverage)
    assert ("m", "3", 1) in [(u.attribute, u.group, u.rows) for u in report.unchecked]


def test_a_long_undeclared_value_is_cut_in_the_not_checked_sentence() -> None:
    frame = table(group("a", 90, 60, 10, 2), group("b", 90, 60, 10, 2)).assign(m="1")
    frame.loc[frame.index[-100:], "m"] = "2"
    frame.loc[0, "m"] = "z" * 10_000
    report = report_on(frame, FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1), TWO)
    (sentence,) = [u.sentence for u in report.unchecked if u.attribute == "m" and u.group.startswith("z")]
    assert sentence.startswith("m = " + "z" * 37 + "...: ") and len(sentence) < 200
    assert "z" * 38 not in render_html(report)


def test_labelled_codes_name_the_groups_and_an_undeclared_code_is_told_against_the_codes() -> None:
    labelled = parse_schema(
        {
            "name": "two",
            "id_column": "id",
            "target": "bad",
            "protected": [
                {"name": "g", "categories": ["a", "b"]},
                {"name": "m", "categories": ["0", "1", "2"], "labels": {"1": "one", "2": "two"}},
            ],
            "features": FEATURES,
        }
    )
    frame = table(group("a", 90, 60, 10, 2), group("b", 90, 60, 10, 2)).assign(m=1)
    frame.loc[frame.index[-100:], "m"] = 2
    frame.loc[0, "m"] = 3
    report = report_on(frame, FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1), labelled)
    (m,) = [a for a in report.attributes if a.name == "m"]
    rows = m.groups["rows"].to_dict()
    assert (rows["one"], rows["two"]) == (int((frame["m"] == 1).sum()), int((frame["m"] == 2).sum()))
    (sentence,) = [u.sentence for u in report.unchecked if u.attribute == "m" and u.group == "3"]
    assert "(declared: 0, 1 (one), 2 (two))" in sentence


def test_missing_and_undeclared_values_are_counted_apart() -> None:
    frame = table(group("a", 90, 60, 10, 2), group("b", 90, 60, 10, 2)).assign(m="1")
    frame.loc[frame.index[-100:], "m"] = "2"
    frame.loc[[0, 1], "m"] = None
    frame.loc[2, "m"] = "3"
    report = report_on(frame, FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1), TWO)
    lines = " ".join(report.coverage)
    assert "m: 2 of 200 rows have no value; they belong to no m group" in lines
    assert "m: 1 of 200 rows hold a value the schema does not declare" in lines
    assert "g & m: 2 of 200 rows have no value in one of its parts" in lines
    (m,) = [a for a in json.loads(report.to_json())["attributes"] if a["name"] == "m"]
    assert (m["rows_with_no_value"], m["rows_with_undeclared_value"], m["rows_in_no_group"]) == (2, 1, 3)


def proxy_table(sizes: dict[str, int]) -> pd.DataFrame:
    """Groups of m with these sizes; x carries m (its mean is m's code), g is random."""
    rng = np.random.default_rng(5)
    m = np.concatenate([np.full(n, code) for code, n in sizes.items()])
    frame = pd.DataFrame({"m": m, "g": rng.choice(["a", "b"], len(m)), "bad": (rng.random(len(m)) < 0.2).astype(int)})
    frame["approved"] = rng.random(len(m)) < 0.6
    frame["id"] = np.arange(len(m))
    frame["x"] = m.astype(float) * 2 + rng.normal(size=len(m))
    return frame


def test_proxy_audit_runs_on_the_large_groups_and_names_the_tiny_one_left_out() -> None:
    frame = proxy_table({"1": 555, "2": 630, "0": 2})
    report = report_on(frame, schema=TWO)
    (p,) = [p for p in report.proxies if p.attribute == "m"]
    assert p.left_out == {"0": int((frame["m"] == "0").sum())} == {"0": 2}
    assert p.rows == int(frame["m"].isin(["1", "2"]).sum()) == 1_185
    assert p.auc > 0.8
    assert "m" not in report.proxy_skipped and "proxy audit could not run" not in report.headline
    assert any(n.startswith("proxy audit of m:") and "left out 0 (2 rows)" in n for n in report.notes)
    assert json.loads(report.to_json())["proxies"][1]["groups_left_out"] == {"0": 2}
    assert "0 (2 rows)" in render_html(report)


def test_a_proxy_audit_that_cannot_run_is_said_in_the_headline() -> None:
    report = report_on(proxy_table({"1": 555, "2": 30, "0": 2}), schema=TWO)
    assert [p.attribute for p in report.proxies] == ["g"]
    assert "only 1 has at least 50 rows (left out: 2 (30 rows), 0 (2 rows))" in report.proxy_skipped["m"]
    assert report.headline.split(":")[0] == report.verdict.upper()
    assert "The proxy audit could not run for m" in report.headline
    assert report.proxy_skipped["m"][1:] in render_html(report)
