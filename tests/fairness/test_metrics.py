"""The report's numbers are fairlearn's: checked against fairlearn and scikit-learn called directly."""

from __future__ import annotations

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

from thinfile.features.schema import parse_schema
from thinfile.training.fairness.audit import (
    ERR_MISSING_COLUMNS,
    ERR_NO_PROTECTED,
    FairnessAudit,
    FairnessError,
    FairnessLimits,
    approve_at_bad_rate,
    build_report,
    decision_frame,
)
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale

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


def tiny_report(limits: FairnessLimits | None = None, oracle: np.ndarray | None = None):
    score = np.where(APPROVED, 650.0, 500.0)
    return build_report(
        tiny_frame(oracle),
        TINY,
        PD,
        score,
        scale=SCALE,
        cutoffs=CUT,
        limits=limits or FairnessLimits(),
        audit=FairnessAudit(min_group_rows=1),
    )


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
    assert bool(a.groups.loc["b", "four_fifths_flag"]) and not bool(a.groups.loc["a", "four_fifths_flag"])


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
    lenient = tiny_report(FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1, calibration_gap_max=1))
    assert lenient.passed and lenient.headline.startswith("PASS")
    strict = tiny_report(FairnessLimits(disparate_impact_min=0.8))
    assert not strict.passed and strict.headline.startswith("FAIL")
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
    assert str(err.value) == ERR_MISSING_COLUMNS.format(columns="h")
    bare = parse_schema({**TINY.model_dump(mode="json"), "protected": []})
    with pytest.raises(FairnessError) as err:
        build_report(tiny_frame(), bare, PD, np.full(20, 650.0), scale=SCALE, cutoffs=CUT)
    assert str(err.value) == ERR_NO_PROTECTED.format(schema="tiny")
    with pytest.raises(FairnessError, match="pd has 3 values for 20 rows"):
        build_report(tiny_frame(), TINY, PD[:3], np.full(20, 650.0), scale=SCALE, cutoffs=CUT)
