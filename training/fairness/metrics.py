"""Fairness metrics in fairlearn's signature, computed with MetricFrame, and the group labels they split by.

Conventions. Decision metrics use fairlearn's (y_true, y_pred) = (repaid, approved), so the true
positive rate is the approval rate among good borrowers (equal opportunity) and the false positive
rate the approval rate among bad ones. Threshold-free metrics use (defaulted, predicted PD).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

MISSING_GROUP = "(missing)"
INTERSECTION_SEP = " & "


def default_rate_among_approved(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Share of approved applicants who defaulted (y_true = repaid, y_pred = approved)."""
    approved = np.asarray(y_pred) == 1
    w = np.ones(len(approved)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if not w[approved].sum() > 0:
        return math.nan
    return float(1.0 - np.average(np.asarray(y_true)[approved], weights=w[approved]))


def rows(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Number of rows (the sum of weights when rows were collapsed into weighted cells)."""
    return float(len(y_true) if sample_weight is None else np.sum(sample_weight))


def auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """ROC AUC of predicted PD against defaults; NaN when a group has only one outcome."""
    y = np.asarray(y_true)
    return float(roc_auc_score(y, np.asarray(y_pred))) if len(np.unique(y)) == 2 else math.nan


def default_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true))


def calibration_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Observed minus predicted default rate (positive: the model under-states the group's risk)."""
    return float(np.mean(y_true) - np.mean(y_pred))


DECISION_METRICS: dict[str, Callable] = {
    "rows": rows,
    "approval_rate": selection_rate,
    "default_rate_approved": default_rate_among_approved,
    "tpr_good": true_positive_rate,
    "fpr_bad": false_positive_rate,
}
RISK_METRICS: dict[str, Callable] = {
    "auc": auc,
    "default_rate": default_rate,
    "pd_mean": mean_prediction,
    "calibration_error": calibration_error,
}


def _metric_frame(
    metrics: dict[str, Callable],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    control: np.ndarray | None = None,
    weight: np.ndarray | None = None,
) -> MetricFrame:
    params = {name: {"sample_weight": weight} for name in metrics} if weight is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return MetricFrame(
            metrics=metrics,
            y_true=y_true,
            y_pred=y_pred,
            sensitive_features=groups,
            control_features=control,
            sample_params=params,
        )


def decision_frame(
    repaid: np.ndarray,
    approved: np.ndarray,
    groups: np.ndarray,
    metrics: dict[str, Callable] | None = None,
) -> MetricFrame:
    """Approval rate, default rate among approved, TPR among good and FPR among bad borrowers, by group.

    Outcome and decision are both 0/1, so rows are first collapsed into (group, repaid, approved)
    cells weighted by their counts: the same numbers as on the raw rows, at any table size.
    """
    cells = (
        pd.DataFrame({"g": groups, "y": np.asarray(repaid, dtype=np.int64), "a": np.asarray(approved, dtype=np.int64)})
        .value_counts(sort=False)
        .reset_index()
    )
    return _metric_frame(
        metrics or DECISION_METRICS,
        cells["y"].to_numpy(),
        cells["a"].to_numpy(),
        cells["g"].to_numpy(),
        weight=cells["count"].to_numpy(dtype=np.float64),
    )


def risk_frame(defaulted: np.ndarray, pd_: np.ndarray, groups: np.ndarray) -> MetricFrame:
    """AUC, default rate, mean predicted PD and calibration error, by group."""
    return _metric_frame(RISK_METRICS, defaulted, pd_, groups)


def group_labels(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One string label per row: the group of one attribute, or 'a & b' for an intersection."""
    parts = [frame[c].astype("string").fillna(MISSING_GROUP).to_numpy(dtype=object) for c in columns]
    out = parts[0].astype(str)
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, INTERSECTION_SEP), p.astype(str))
    return out.astype(object)


def pd_bins(pd_: np.ndarray, bins: int) -> np.ndarray:
    """Equal-count bin number (1..bins) of each row's predicted PD, over the whole table."""
    order = np.argsort(pd_, kind="stable")
    out = np.empty(len(pd_), dtype=np.int64)
    for i, idx in enumerate(np.array_split(order, min(bins, len(pd_))), start=1):
        out[idx] = i
    return out


def approve_at_bad_rate(pd_: np.ndarray, defaulted: np.ndarray, target: float) -> np.ndarray:
    """Approve the lowest-PD applicants, as many as keep the bad rate among approved <= target.

    The cut falls only between distinct PD values, so applicants a model cannot tell apart are
    approved or declined together.
    """
    order = np.argsort(pd_, kind="stable")
    p, y = pd_[order], defaulted[order]
    rate = np.cumsum(y) / np.arange(1, len(y) + 1)
    block_end = np.r_[p[1:] != p[:-1], True]
    ok = np.flatnonzero(block_end & (rate <= target + 1e-12))
    approved = np.zeros(len(pd_), dtype=bool)
    if ok.size:
        approved[order[: ok[-1] + 1]] = True
    return approved
