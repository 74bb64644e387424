"""The report's numbers are fairlearn's and scipy's (checked against them called directly, or by hand); the verdict
never claims more than was checked."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

from thinfile.features.schema import MISSING_GROUP, parse_schema
from thinfile.training.fairness.audit import (
    BASELINE_CANNOT_REACH,
    ERR_MISSING_COLUMNS,
    ERR_NO_PROTECTED,
    FairnessError,
    build_report,
    table_name,
    versus_limit,
)
from thinfile.training.fairness.impact import WHY_MISSING, WHY_UNDECLARED, disparate_impact
from thinfile.training.fairness.metrics import (
    approve_at_bad_rate,
    decision_frame,
    wilson_interval,
)
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.settings import FairnessAudit, FairnessLimits

TINY = parse_schema(
    {
        "name": "tiny",
        "id_column": "id",
        "target": "bad",
        "oracle_column": "true_pd",
        "protected": [{"name": "g", "categories": ["a", "b"]}, {"name": "h", "categories": ["u", "v"]}],
        "features": [{"name": "x", "type": "float", "min": 0, "max": 1, "dimension": "capacity", "reason": "x is low"}],
    }
)
CUT = Cutoffs(approve=600, refer=550)
SCALE = ScoreScale()
#                a  a  a  a  a  a  a  a  a  a  b  b  b  b  b  b  b  b  b  b
BAD = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
APPROVED = np.array([1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
PD = np.array(
    [0.02, 0.03, 0.05, 0.04, 0.2, 0.06, 0.07, 0.3, 0.4, 0.05, 0.03, 0.06, 0.15, 0.2, 0.08, 0.25, 0.35, 0.5, 0.18, 0.04]
)
G = np.array(["a"] * 10 + ["b"] * 10)
H = np.array(["u", "v"] * 10)


def tiny_frame(oracle: np.ndarray | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(20),
            "x": np.linspace(0, 1, 20),
            "g": G,
            "h": H,
            "bad": BAD,
            "true_pd": PD if oracle is None else oracle,
        }
    )


LENIENT = FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1, calibration_gap_max=1)


def tiny_report(
    limits: FairnessLimits | None = None,
    oracle: np.ndarray | None = None,
    frame: pd.DataFrame | None = None,
    min_group_rows: int = 1,
    **kwargs: object,
):
    score = np.where(APPROVED, 650.0, 500.0)
    return build_report(
        tiny_frame(oracle) if frame is None else frame,
        TINY,
        PD,
        score,
        scale=SCALE,
        cutoffs=CUT,
        limits=limits or FairnessLimits(),
        audit=FairnessAudit(min_group_rows=min_group_rows),
        **kwargs,  # type: ignore[arg-type]
    )


def strict_json(text: str) -> dict:
    """Parse JSON refusing NaN and Infinity (Python's json accepts them by default)."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_decision_metrics_agree_with_fairlearn() -> None:
    a = tiny_report().attribute("g")
    good, approved = 1 - BAD, APPROVED.astype(int)
    direct = MetricFrame(
        metrics={"sel": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
        y_true=good,
        y_pred=approved,
        sensitive_features=G,
    )
    assert a.groups["approval_rate"].to_dict() == pytest.approx(direct.by_group["sel"].to_dict())
    assert a.groups["tpr_good"].to_dict() == pytest.approx(direct.by_group["tpr"].to_dict())
    assert a.groups["fpr_bad"].to_dict() == pytest.approx(direct.by_group["fpr"].to_dict())
    assert a.di_ratio == pytest.approx(demographic_parity_ratio(good, approved, sensitive_features=G))
    assert a.eo_diff == pytest.approx(equal_opportunity_difference(good, approved, sensitive_features=G))
    assert a.eod_diff == pytest.approx(equalized_odds_difference(good, approved, sensitive_features=G))


def test_hand_counted_values() -> None:
    a = tiny_report().attribute("g")
    assert a.groups.loc["a", "approval_rate"] == pytest.approx(7 / 10)
    assert a.groups.loc["b", "approval_rate"] == pytest.approx(4 / 10)
    assert a.groups.loc["a", "default_rate_approved"] == pytest.approx(1 / 7)
    assert a.groups.loc["b", "default_rate_approved"] == pytest.approx(1 / 4)
    assert a.di_ratio == pytest.approx(4 / 7)
    assert a.reference_group == "a" and a.worst_group == "b"
    assert bool(a.groups.loc["b", "below_di_limit"]) and not bool(a.groups.loc["a", "below_di_limit"])


def test_threshold_free_metrics_agree_with_sklearn() -> None:
    a = tiny_report().attribute("g")
    for g in ("a", "b"):
        m = g == G
        assert a.groups.loc[g, "auc"] == pytest.approx(roc_auc_score(BAD[m], PD[m]))
        assert a.groups.loc[g, "calibration_error"] == pytest.approx(BAD[m].mean() - PD[m].mean())
    errors = [BAD[g == G].mean() - PD[g == G].mean() for g in ("a", "b")]
    assert a.calibration_gap == pytest.approx(max(errors) - min(errors))
    cal = a.calibration
    assert cal["rows"].sum() == 20
    assert cal.groupby("group")["rows"].sum().to_dict() == {"a": 10, "b": 10}


def test_intersection_of_the_first_two_protected_attributes() -> None:
    report = tiny_report()
    assert [a.name for a in report.attributes] == ["g", "h", "g & h"]
    inter = report.attribute("g & h")
    labels = np.char.add(np.char.add(G, " & "), H)
    direct = MetricFrame(metrics=selection_rate, y_true=1 - BAD, y_pred=APPROVED.astype(int), sensitive_features=labels)
    assert inter.groups["approval_rate"].to_dict() == pytest.approx(direct.by_group.to_dict())


def test_collapsed_cells_give_the_raw_row_numbers() -> None:
    rng = np.random.default_rng(0)
    n = 5_000
    groups = rng.choice(["p", "q", "r", "s"], n)
    good = (rng.random(n) < 0.9).astype(int)
    approved = (rng.random(n) < np.where(groups == "p", 0.5, 0.7)).astype(int)
    fast = decision_frame(good, approved, groups).by_group
    raw = MetricFrame(
        metrics={"approval_rate": selection_rate, "tpr_good": true_positive_rate, "fpr_bad": false_positive_rate},
        y_true=good,
        y_pred=approved,
        sensitive_features=groups,
    )
    for col in ("approval_rate", "tpr_good", "fpr_bad"):
        np.testing.assert_allclose(fast[col].to_numpy(), raw.by_group[col].to_numpy(), rtol=1e-12)
    assert fast["rows"].sum() == n


def test_limits_decide_pass_and_fail_and_the_headline_says_so() -> None:
    lenient = tiny_report(LENIENT)
    assert lenient.verdict == "pass" and lenient.passed and lenient.headline.startswith("PASS")
    strict = tiny_report(FairnessLimits(disparate_impact_min=0.8))
    assert strict.verdict == "fail" and not strict.passed and strict.headline.startswith("FAIL")
    failed = {(c.attribute, c.metric) for c in strict.failures}
    assert ("g", "disparate_impact_ratio") in failed
    assert all("outside the limit" in c.sentence for c in strict.failures)


def test_oracle_shortfall_is_said_in_words() -> None:
    oracle = np.where(G == "b", 0.01, 0.5)  # the oracle would approve every b applicant and no a applicant
    report = tiny_report(oracle=oracle)
    a = report.attribute("g")
    assert a.groups.loc["b", "oracle_approval_rate"] == 1.0
    words = " ".join(a.findings)
    assert "approves fewer b applicants than their risk warrants" in words
    assert "penalising a thin footprint, not risk" in words
    assert "fewer a applicants than their risk warrants" not in words


def test_approve_at_bad_rate_meets_the_target_and_never_splits_ties() -> None:
    rng = np.random.default_rng(1)
    p = np.round(rng.random(2_000) * 0.3, 2)
    y = (rng.random(2_000) < p).astype(int)
    ok = approve_at_bad_rate(p, y, 0.08)
    assert y[ok].mean() <= 0.08
    for value in np.unique(p):
        same = p == value
        assert ok[same].all() or not ok[same].any()
    assert ok.sum() > 0


def test_clear_errors_for_tables_that_cannot_be_audited() -> None:
    with pytest.raises(FairnessError) as err:
        build_report(tiny_frame().drop(columns=["h"]), TINY, PD, np.full(20, 650.0), scale=SCALE, cutoffs=CUT)
    assert str(err.value) == ERR_MISSING_COLUMNS.format(table="the table", columns="h")
    bare = parse_schema({**TINY.model_dump(mode="json"), "protected": []})
    with pytest.raises(FairnessError) as err:
        build_report(tiny_frame(), bare, PD, np.full(20, 650.0), scale=SCALE, cutoffs=CUT)
    assert str(err.value) == ERR_NO_PROTECTED.format(schema="tiny")
    with pytest.raises(FairnessError, match="pd has 3 values for 20 rows"):
        build_report(tiny_frame(), TINY, PD[:3], np.full(20, 650.0), scale=SCALE, cutoffs=CUT)


def test_errors_name_the_table_they_are_about() -> None:
    with pytest.raises(FairnessError, match=r"^table loans\.csv lacks column\(s\) h: .*--schema"):
        build_report(
            tiny_frame().drop(columns=["h"]),
            TINY,
            PD,
            np.full(20, 650.0),
            scale=SCALE,
            cutoffs=CUT,
            data={"source": "loans.csv"},
        )
    bad_target = tiny_frame().assign(bad=[2] + list(BAD[1:]))
    with pytest.raises(FairnessError, match=r"^table loans\.csv: target column 'bad' must hold 0/1 .* found 2\."):
        build_report(bad_target, TINY, PD, np.full(20, 650.0), scale=SCALE, cutoffs=CUT, data={"source": "loans.csv"})


def test_wilson_interval_matches_the_formula_by_hand() -> None:
    low, high = wilson_interval(np.array([7, 0, 3]), np.array([10, 5, 0]), 0.95)
    z = 1.959963984540054
    for k, n, lo, hi in ((7, 10, low[0], high[0]), (0, 5, low[1], high[1])):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        assert (lo, hi) == (pytest.approx(centre - half), pytest.approx(centre + half))
    assert np.isnan(low[2]) and np.isnan(high[2])


def test_every_group_rate_carries_its_confidence_interval() -> None:
    a = tiny_report().attribute("g")
    low, high = wilson_interval(np.array([7, 4]), np.array([10, 10]), 0.95)
    np.testing.assert_allclose(a.groups["approval_rate_low"], low)
    np.testing.assert_allclose(a.groups["approval_rate_high"], high)
    for rate in ("default_rate_approved", "tpr_good", "fpr_bad", "default_rate", "approve_or_refer_rate"):
        inside = (a.groups[f"{rate}_low"] <= a.groups[rate]) & (a.groups[rate] <= a.groups[f"{rate}_high"])
        assert inside.all(), rate


def test_disparate_impact_counts_only_declared_groups_with_enough_rows() -> None:
    di = disparate_impact(
        {"a": 100, "b": 80, "c": 10, MISSING_GROUP: 30, "zz": 40},
        {"a": 60, "b": 36, "c": 1, MISSING_GROUP: 3, "zz": 4},
        min_rows=50,
        categories=["a", "b", "c", "d"],
    )
    assert di.ratio == pytest.approx((36 / 80) / (60 / 100))
    assert (di.reference, di.worst) == ("a", "b")
    assert di.counted == ["a", "b"]
    why = di.groups["why_not"].to_dict()
    assert why[MISSING_GROUP] == WHY_MISSING and why["zz"] == WHY_UNDECLARED
    assert why["d"] == "no rows" and why["c"].startswith("10 rows")
    assert sorted(di.unchecked.index) == ["c", "d"]
    assert di.below(0.8) == ["b"] and di.below(0.7) == []


def test_disparate_impact_needs_two_counted_groups() -> None:
    di = disparate_impact({"a": 100, "b": 10}, {"a": 50, "b": 9}, min_rows=50)
    assert di.ratio is None and di.counted == ["a"]


def test_a_small_group_makes_the_verdict_incomplete_never_pass() -> None:
    report = tiny_report(LENIENT, min_group_rows=6)
    inter = report.attribute("g & h")
    assert inter.checked_groups == []
    assert {(u.attribute, u.group, u.rows) for u in report.unchecked} == {
        ("g & h", "a & u", 5),
        ("g & h", "a & v", 5),
        ("g & h", "b & u", 5),
        ("g & h", "b & v", 5),
    }
    assert report.verdict == "incomplete" and not report.passed
    assert report.headline.startswith("INCOMPLETE") and "4 group(s) could not be checked" in report.headline
    assert [c.passed for c in report.checks if c.attribute == "g"] == [True, True, True]
    assert all(c.passed is None for c in report.checks if c.attribute == "g & h")
    assert strict_json(report.to_json())["verdict"] == "incomplete"


def test_a_failed_check_makes_the_verdict_fail_even_when_incomplete() -> None:
    report = tiny_report(FairnessLimits(), min_group_rows=6)
    assert report.verdict == "fail" and report.unchecked
    assert "also incomplete" in report.headline


def test_the_metrics_of_a_failing_audit_count_the_checks_that_did_not_run() -> None:
    report = tiny_report(FairnessLimits(), min_group_rows=6)
    metrics = report.metrics()
    not_run = sum(c.passed is None for c in report.checks)
    assert not_run and metrics["fair_incomplete"] == 0.0  # the verdict is fail, not incomplete
    assert metrics["fair_checks_not_run"] == not_run and metrics["fair_unchecked_groups"] == len(report.unchecked)


def test_no_check_that_can_run_is_an_error_not_a_pass() -> None:
    with pytest.raises(FairnessError, match=r"^table tiny\.parquet: no fairness check could run on its 20 rows") as err:
        tiny_report(LENIENT, min_group_rows=11, data={"source": "tiny.parquet"})
    assert "--min-group-rows (now 11)" in str(err.value)
    assert "g: only" not in str(err.value) and "g: no group has at least 11 rows" in str(err.value)


def test_values_outside_the_declared_categories_are_listed_not_audited() -> None:
    frame = tiny_frame()
    frame.loc[[0, 1, 10], "g"] = "c"
    report = tiny_report(LENIENT, frame=frame)
    g = report.attribute("g")
    assert list(g.groups.index) == ["a", "b"]
    assert g.groups["rows"].to_dict() == {"a": 8, "b": 9}
    (u,) = [u for u in report.unchecked if u.attribute == "g"]
    assert (u.group, u.rows) == ("c", 3) and u.reason.startswith(WHY_UNDECLARED)
    assert report.verdict == "incomplete"
    assert "g & h" not in {x.attribute for x in report.unchecked}


def test_missing_values_belong_to_no_group_and_say_so() -> None:
    frame = tiny_frame()
    frame.loc[[0, 1], "g"] = np.nan
    report = tiny_report(LENIENT, frame=frame)
    g = report.attribute("g")
    assert MISSING_GROUP not in g.groups.index and g.groups["rows"].sum() == 18
    assert any(line.startswith("g: 2 of 20 rows have no value") for line in report.coverage)
    assert report.attribute("g & h").groups["rows"].sum() == 18
    assert report.verdict == "pass"


def test_integer_coded_protected_values_match_their_declared_categories() -> None:
    coded = parse_schema(
        {
            **TINY.model_dump(mode="json"),
            "protected": [{"name": "g", "categories": ["1", "2"]}, {"name": "h", "categories": ["u", "v"]}],
        }
    )
    frame = tiny_frame().assign(g=np.where(G == "a", 1.0, 2.0))
    frame.loc[0, "g"] = np.nan
    score = np.where(APPROVED, 650.0, 500.0)
    report = build_report(frame, coded, PD, score, scale=SCALE, cutoffs=CUT, audit=FairnessAudit(min_group_rows=1))
    assert report.attribute("g").groups["rows"].to_dict() == {"1": 9, "2": 10}
    assert not [u for u in report.unchecked if u.attribute == "g"]


def test_baseline_that_cannot_reach_the_bad_rate_is_said_not_crashed() -> None:
    flat = np.full(20, 0.3)
    report = tiny_report(baseline_pd=flat)
    inc = report.inclusion
    assert inc is not None and not inc.baseline_reaches
    assert inc.baseline_note is not None and inc.baseline_note.startswith(BASELINE_CANNOT_REACH)
    assert "35.0%" in inc.baseline_note
    data = strict_json(report.to_json())
    segments = data["inclusion"]["segments"]
    assert all(s["lift"] is None and s["baseline_approval_rate"] is None for s in segments)
    assert data["inclusion"]["baseline_reaches_target"] is False
    assert any(BASELINE_CANNOT_REACH in n for n in data["notes"])


def test_a_value_next_to_its_limit_is_printed_apart_from_it() -> None:
    assert versus_limit(0.79996, 0.8) == "0.79996"
    assert versus_limit(0.812, 0.8) == "0.812"


def test_a_group_of_one_row_is_said_as_one_row() -> None:
    di = disparate_impact({"a": 100, "b": 100, "c": 1}, {"a": 50, "b": 40, "c": 1}, min_rows=50)
    assert di.groups.loc["c", "why_not"] == "1 row, fewer than the 50 needed to check it"


def test_a_source_that_names_its_table_is_not_named_a_table_twice() -> None:
    assert table_name({"source": "table loans.csv (held-out test part)"}) == "table loans.csv (held-out test part)"
    assert table_name({"source": "loans.csv"}) == "table loans.csv"
    assert table_name(None) == "the table"
