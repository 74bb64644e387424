"""The risk frame, the calibration table and the lending loop's fairness figures are computed per group without
fairlearn's MetricFrame (slow on raw rows); each must equal MetricFrame computed the old way, which these
tests call directly as the reference: same numbers (1e-12), same NaN, same index, columns and order."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, count, mean_prediction
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.training.fairness.metrics import (
    RISK_METRICS,
    calibration_table,
    default_rate,
    pd_bins,
    risk_frame,
)
from thinfile.training.lending_loop.measure import FAIR_DECISIONS, FAIR_RISK, TruthSet, fairness_metrics


def _frame(metrics: dict, y: np.ndarray, p: np.ndarray, groups: np.ndarray, control=None) -> MetricFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=groups, control_features=control)


def _reference_calibration(y: np.ndarray, p: np.ndarray, groups: np.ndarray, bins: np.ndarray) -> pd.DataFrame:
    """The audit's calibration table as it was built on MetricFrame."""
    metrics = {"rows": count, "pd_mean": mean_prediction, "default_rate": default_rate}
    calib = _frame(metrics, y, p, groups, control=bins).by_group.reset_index()
    calib.columns = ["bin", "group", "rows", "pd_mean", "default_rate"]
    calib = calib[calib["rows"] > 0].reset_index(drop=True)
    calib["rows"] = calib["rows"].astype(int)
    return calib


def _table(seed: int, labels: str, ties: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Several groups of uneven size, one holding only defaults, one only repayments, one of a single row."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(150, 600))
    names = ["b", "a", "d & x", "c", "e", "solo"] if labels == "str" else ["2", "10", "1", "30", "4", "7"]
    g = rng.choice(np.array(names[:5], dtype=object), n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    g[int(rng.integers(n))] = names[5]
    y = (rng.random(n) < 0.2).astype(np.int64)
    y[g == names[3]] = 0
    y[g == names[4]] = 1
    p = rng.beta(2, 6, n)
    if ties:
        p = np.round(p, 2)
    if labels == "int":
        g = g.astype(np.int64)
    return y, p, g


def _assert_same(new: pd.DataFrame, ref: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, ref, check_exact=False, rtol=1e-12, atol=1e-12)


CASES = [(seed, labels, ties) for seed in range(4) for labels in ("str", "strint", "int") for ties in (False, True)]


@pytest.mark.parametrize(("seed", "labels", "ties"), CASES)
def test_risk_frame_is_metricframes(seed: int, labels: str, ties: bool) -> None:
    y, p, g = _table(seed, labels, ties)
    new = risk_frame(y, p, g).by_group
    ref = _frame(RISK_METRICS, y, p, g).by_group
    _assert_same(new, ref)
    assert new["auc"].isna().sum() >= 3  # the one-class groups and the single row


@pytest.mark.parametrize(("seed", "labels", "ties"), CASES)
@pytest.mark.parametrize("n_bins", [1, 5, 10])
def test_calibration_table_is_metricframes(seed: int, labels: str, ties: bool, n_bins: int) -> None:
    y, p, g = _table(seed, labels, ties)
    bins = pd_bins(p, n_bins)
    _assert_same(calibration_table(y, p, g, bins), _reference_calibration(y, p, g, bins))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["x", "y", "z", "0", "12"]), st.booleans(), st.floats(0.0, 1.0)),
        min_size=2,  # MetricFrame squeezes a one-row table to no dimension and refuses it
        max_size=60,
    ),
    st.integers(1, 6),
)
def test_any_small_table(rows: list[tuple[str, bool, float]], n_bins: int) -> None:
    g = np.array([r[0] for r in rows], dtype=object)
    y = np.array([int(r[1]) for r in rows], dtype=np.int64)
    p = np.array([r[2] for r in rows])
    _assert_same(risk_frame(y, p, g).by_group, _frame(RISK_METRICS, y, p, g).by_group)
    bins = pd_bins(p, n_bins)
    _assert_same(calibration_table(y, p, g, bins), _reference_calibration(y, p, g, bins))


def _reference_loop(p: np.ndarray, truth: TruthSet, approved: np.ndarray) -> dict[str, float]:
    """The lending loop's fairness figures as they were computed on MetricFrame."""
    from thinfile.training.evaluate import metric_token

    decisions = _frame(FAIR_DECISIONS, truth.true_pd, approved.astype(np.int64), truth.group)
    risk = _frame(FAIR_RISK, truth.true_pd, p, truth.group)
    out: dict[str, float] = {}
    for metric, by_group in decisions.by_group.items():
        for group, value in by_group.items():
            out[f"fair_{metric}_{metric_token(group)}"] = float(value)
    for group, value in risk.by_group["auc"].items():
        out[f"fair_truth_auc_{metric_token(group)}"] = float(value)
    out["fair_di_ratio"] = float(decisions.ratio(method="between_groups")["approval"])
    out["fair_eo_diff"] = float(decisions.difference(method="between_groups")["approval_among_good"])
    return out


@pytest.mark.parametrize("seed", range(4))
def test_lending_loop_fairness_is_metricframes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    true_pd = rng.beta(2, 8, n)
    group = rng.choice(np.array(["urban", "rural", "semi-urban"]), n)
    group[0] = "island"
    p = np.clip(true_pd + rng.normal(0, 0.05, n), 0.001, 0.999)
    approved = p < np.quantile(p, 0.6)
    approved[group == "semi-urban"] = False  # a group nobody is approved in: NaN bad rate
    truth = TruthSet(true_pd, approved, rng.random(n) < 0.3, group, 0.1, 0.6)
    new, ref = fairness_metrics(p, truth, approved), _reference_loop(p, truth, approved)
    assert list(new) == list(ref)
    np.testing.assert_allclose(list(new.values()), list(ref.values()), rtol=1e-12, atol=1e-12)
