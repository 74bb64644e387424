"""A rate whose denominator is empty (TPR of a group with no repaid rows, FPR of one with no defaulted rows) is null,
not fairlearn's 0; the group is left out of the differences that rate enters, and the verdict never passes for it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, true_positive_rate
from test_metrics import CUT, LENIENT, SCALE, TINY, strict_json

from thinfile.commands.fairness import groups_checked
from thinfile.features.schema import parse_schema
from thinfile.training.fairness.audit import FairnessReport, build_report
from thinfile.training.fairness.report import render_html
from thinfile.training.settings import FairnessAudit, FairnessLimits

THREE = parse_schema(
    {
        **TINY.model_dump(mode="json"),
        "protected": [{"name": "g", "categories": ["a", "b", "c"]}, {"name": "h", "categories": ["u", "v"]}],
    }
)
G3 = np.array(["a"] * 6 + ["b"] * 6 + ["c"] * 3)
#                    a                 b                 c
BAD3 = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0])
APPROVED3 = np.array([1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0], dtype=bool)


def three_groups(bad: np.ndarray, limits: FairnessLimits = LENIENT) -> FairnessReport:
    frame = pd.DataFrame(
        {
            "id": range(15),
            "x": np.linspace(0, 1, 15),
            "g": G3,
            "h": ["u", "v"] * 7 + ["u"],
            "bad": bad,
            "true_pd": np.full(15, 0.3),
        }
    )
    return build_report(
        frame,
        THREE,
        np.full(15, 0.4),
        np.where(APPROVED3, 650.0, 500.0),
        scale=SCALE,
        cutoffs=CUT,
        limits=limits,
        audit=FairnessAudit(min_group_rows=1),
    )


def fairlearn_rates(bad: np.ndarray, groups: list[str]) -> pd.DataFrame:
    """TPR and FPR by group from fairlearn on the raw rows of `groups` (each has both outcomes)."""
    keep = np.isin(G3, groups)
    return MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=1 - bad[keep],
        y_pred=APPROVED3[keep].astype(int),
        sensitive_features=G3[keep],
    ).by_group


def test_a_group_with_no_defaulted_rows_has_no_fpr_and_is_left_out_of_equalised_odds() -> None:
    report = three_groups(BAD3)
    g = report.attribute("g")
    both = fairlearn_rates(BAD3, ["a", "b"])
    assert both.loc["a", "fpr"] == 1.0 and both.loc["b", "fpr"] == pytest.approx(1 / 3)  # fairlearn would say 0 for c
    assert np.isnan(g.groups.loc["c", "fpr_bad"])
    assert g.groups.loc["c", "tpr_good"] == pytest.approx(2 / 3)
    # TPRs a 2/3, b 1/3, c 2/3; FPRs a 1, b 1/3: the odds difference is the FPR one, over a and b alone
    assert g.eo_diff == pytest.approx(2 / 3 - 1 / 3)
    assert g.eod_diff == pytest.approx(both["fpr"].max() - both["fpr"].min())
    assert list(g.left_out["equalised_odds_difference"]) == ["c"]
    assert g.left_out["equal_opportunity_difference"] == {}
    data = strict_json(report.to_json())
    (c,) = [r for r in data["attributes"][0]["groups"] if r["group"] == "c"]
    assert c["fpr_bad"] is None and c["fpr_bad_low"] is None
    assert "c" in data["attributes"][0]["left_out"]["equalised_odds_difference"]
    assert report.verdict == "pass"  # the odds difference is no check: a group without an FPR does not block a pass


def test_a_group_with_no_repaid_rows_is_left_out_of_equal_opportunity_and_the_verdict_is_incomplete() -> None:
    bad = np.r_[BAD3[:12], 1, 1, 1]
    report = three_groups(bad)
    g = report.attribute("g")
    both = fairlearn_rates(bad, ["a", "b"])
    assert np.isnan(g.groups.loc["c", "tpr_good"]) and np.isnan(g.groups.loc["c", "oracle_tpr_good"])
    assert g.groups.loc["c", "fpr_bad"] == pytest.approx(2 / 3)
    assert g.eo_diff == pytest.approx(both["tpr"].max() - both["tpr"].min())
    (check,) = [c for c in report.checks if c.attribute == "g" and c.metric == "equal_opportunity_difference"]
    assert check.passed and check.value == pytest.approx(1 / 3)
    assert check.low is not None and check.high is not None and check.low <= 1 / 3 <= check.high
    assert ("g", "c", 3) in [(u.attribute, u.group, u.rows) for u in report.unchecked]
    assert report.verdict == "incomplete" and report.headline.startswith("INCOMPLETE")
    assert groups_checked(g) == "2 of 3"  # a and b are in every check; c is in all but equal opportunity
    strict = three_groups(bad, FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=0.3))
    assert strict.verdict == "fail"  # a failure over the groups that have a TPR stands


def test_the_html_says_n_a_for_a_missing_rate_and_names_the_group_left_out() -> None:
    html = render_html(three_groups(BAD3))
    table = next(t for t in re.findall(r"<table.*?</table>", html, re.S) if '<td class="l">c</td>' in t)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", table)
    row = next(r for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S) if r.startswith('<td class="l">c</td>'))
    cells = dict(zip(headers, re.findall(r"<td[^>]*>(.*?)</td>", row), strict=True))
    assert cells["approved | defaulted (FPR)"] == "n/a"
    assert cells["approved | repaid (TPR)"].startswith("66.7%")
    assert "leaves out c (no defaulted rows" in html
