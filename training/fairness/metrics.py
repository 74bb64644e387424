"""Fairness metrics in fairlearn's signature, computed by group, and the group labels they split by.

The decision metrics run on fairlearn's MetricFrame over rows collapsed into weighted cells. The
risk metrics (AUC, default rate, mean PD, calibration error) and the calibration table by (PD bin,
group) cannot be collapsed (PD is continuous), and MetricFrame on raw rows is slow: fairlearn 0.15
calls np.stack on each column per metric, group and argument, which turns N floats into N 0-d
arrays in Python - seconds per attribute at a million rows. They are computed by `grouped_metrics`
instead: the same metric functions called on each group's rows in table order, groups sorted as
MetricFrame sorts them, so the numbers are MetricFrame's.

Conventions. Decision metrics use fairlearn's (y_true, y_pred) = (repaid, approved), so the true
positive rate is the approval rate among good borrowers (equal opportunity) and the false positive
rate the approval rate among bad ones. Threshold-free metrics use (defaulted, predicted PD).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from scipy.stats import beta, binomtest
from sklearn.metrics import roc_auc_score

from thinfile.training.audit_groups import INTERSECTION_SEP


def default_rate_among_approved(
    y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    """Share of approved applicants who defaulted (y_true = repaid, y_pred = approved)."""
    approved = np.asarray(y_pred) == 1
    w = np.ones(len(approved)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if not w[approved].sum() > 0:
        return math.nan
    return float(1.0 - np.average(np.asarray(y_true)[approved], weights=w[approved]))


def _has_outcome(y_true: np.ndarray, outcome: int, sample_weight: np.ndarray | None) -> bool:
    """Whether any row (of positive weight) has y_true == outcome: the denominator of a rate among such rows."""
    among = np.asarray(y_true) == outcome
    return bool(among.any() if sample_weight is None else np.asarray(sample_weight)[among].sum() > 0)


def tpr_good(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """fairlearn's true positive rate (approved among repaid); NaN with no repaid row, where fairlearn says 0."""
    if not _has_outcome(y_true, 1, sample_weight):
        return math.nan
    return float(true_positive_rate(y_true, y_pred, sample_weight=sample_weight, pos_label=1))


def fpr_bad(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """fairlearn's false positive rate (approved among defaulted); NaN with no defaulted row, where fairlearn says 0."""
    if not _has_outcome(y_true, 0, sample_weight):
        return math.nan
    return float(false_positive_rate(y_true, y_pred, sample_weight=sample_weight, pos_label=1))


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
    "tpr_good": tpr_good,
    "fpr_bad": fpr_bad,
}
RISK_METRICS: dict[str, Callable] = {
    "auc": auc,
    "default_rate": default_rate,
    "pd_mean": mean_prediction,
    "calibration_error": calibration_error,
}
CALIBRATION_METRICS: dict[str, Callable] = {"rows": count, "pd_mean": mean_prediction, "default_rate": default_rate}
CALIBRATION_COLUMNS = ["bin", "group", "rows", "pd_mean", "default_rate"]


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


@dataclass(frozen=True)
class GroupedFrame:
    """Metrics by group as MetricFrame's `by_group` holds them: groups sorted, one float column per metric."""

    by_group: pd.DataFrame


def grouped_metrics(
    metrics: Mapping[str, Callable],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    keys: list[np.ndarray],
    names: list[str],
) -> pd.DataFrame:
    """Each metric(y_true, y_pred) on the rows of each cell of `keys` that holds any, as MetricFrame computes it.

    The rows of a cell are passed in table order and the cells come sorted by key (the first key
    outermost), indexed by `names`; a cell without rows is left out (MetricFrame lists it with NaN).
    Unlike MetricFrame on raw rows, the cost is one sort of the table, not Python work per row.
    """
    codes, uniques = [], []
    for k in keys:
        c, u = pd.factorize(np.asarray(k), sort=True)
        if (c < 0).any():
            raise ValueError("a group key is missing (NaN); label it before grouping")
        codes.append(c)
        uniques.append(np.asarray(u))
    shape = tuple(max(len(u), 1) for u in uniques)
    cell = np.ravel_multi_index(codes, shape) if len(codes[0]) else np.zeros(0, dtype=np.int64)
    order = np.argsort(cell, kind="stable")
    ordered = cell[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(ordered) else np.zeros(0, np.int64)
    parts = np.split(order, starts[1:])
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    values = {name: [f(yt[i], yp[i]) for i in parts] if len(ordered) else [] for name, f in metrics.items()}
    at = np.unravel_index(ordered[starts], shape)
    levels = [u.take(a) for u, a in zip(uniques, at, strict=True)]
    index = pd.Index(levels[0], name=names[0]) if len(keys) == 1 else pd.MultiIndex.from_arrays(levels, names=names)
    return pd.DataFrame(values, index=index, columns=list(metrics), dtype=np.float64)


def risk_frame(defaulted: np.ndarray, pd_: np.ndarray, groups: np.ndarray) -> GroupedFrame:
    """AUC, default rate, mean predicted PD and calibration error, by group (MetricFrame's numbers, see module)."""
    return GroupedFrame(grouped_metrics(RISK_METRICS, defaulted, pd_, [groups], ["sensitive_feature_0"]))


def calibration_table(defaulted: np.ndarray, pd_: np.ndarray, groups: np.ndarray, bins: np.ndarray) -> pd.DataFrame:
    """Rows, mean predicted PD and default rate by (PD bin, group), one record per cell holding rows."""
    table = grouped_metrics(
        CALIBRATION_METRICS, defaulted, pd_, [bins, groups], ["control_feature_0", "sensitive_feature_0"]
    ).reset_index()
    table.columns = CALIBRATION_COLUMNS
    table["rows"] = table["rows"].astype(int)
    return table


def intersection_categories(categories: list[Collection[str]]) -> list[str]:
    """Every declared combination, in declaration order: ['a & u', 'a & v', 'b & u', ...]."""
    out = [""]
    for i, cats in enumerate(categories):
        out = [f"{o}{INTERSECTION_SEP if i else ''}{c}" for o in out for c in cats]
    return out


def wilson_interval(successes: np.ndarray, trials: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of each rate successes/trials (scipy's binomtest); NaN where there are no trials."""
    k = np.rint(np.asarray(successes, dtype=np.float64)).astype(np.int64)
    n = np.rint(np.asarray(trials, dtype=np.float64)).astype(np.int64)
    low, high = np.full(len(n), np.nan), np.full(len(n), np.nan)
    for i in np.flatnonzero(n > 0):
        ci = binomtest(int(k[i]), int(n[i])).proportion_ci(confidence, method="wilson")
        low[i], high[i] = ci.low, ci.high
    return low, high


def rate_draws(successes: np.ndarray, trials: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Parametric bootstrap of each rate successes/trials: `draws` x groups from its Beta(k + 1/2, n - k + 1/2)."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    return beta.rvs(k + 0.5, n - k + 0.5, size=(draws, len(k)), random_state=rng)


def range_interval(draws: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """A `confidence` interval of the spread (largest minus smallest) of groups' values, from their draws x groups.

    The spread is an extremum: recomputed per draw, noise alone makes it grow, so the draws of a
    spread between groups that are alike lie almost all above its value. Instead every pair of groups
    gets a percentile interval of its difference, all at one level chosen so that in `confidence` of
    the draws every pair lies inside its interval at once (simultaneous bands). With that confidence
    every pairwise difference is inside its band, so the spread, the largest of their absolute
    values, lies between the largest distance of a band from zero and the largest absolute end of
    a band. With two groups the bands are the plain central percentile interval of their difference.
    (None, None) when any draw is not finite or there are fewer than two groups.
    """
    values = np.asarray(draws, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 2 or not len(values) or not np.isfinite(values).all():
        return None, None
    first, second = np.triu_indices(values.shape[1], 1)
    diff = values[:, first] - values[:, second]
    ranks = np.argsort(np.argsort(diff, axis=0), axis=0)
    depth = np.minimum(ranks, len(values) - 1 - ranks).min(axis=1)
    inside = np.sort(depth)[::-1][max(math.ceil(confidence * len(values) - 1e-9), 1) - 1]
    ordered = np.sort(diff, axis=0)
    low, high = ordered[inside], ordered[len(values) - 1 - inside]
    nearest = np.where((low <= 0) & (high >= 0), 0.0, np.minimum(np.abs(low), np.abs(high)))
    return float(nearest.max()), float(np.maximum(np.abs(low), np.abs(high)).max())


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
