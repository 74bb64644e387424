"""A model measured on through-the-door applicants against the synthetic truth (`true_pd`), rejects included.

Outcomes of rejects are never observed, but the synthetic world knows each applicant's true default
probability. Every figure here uses it instead of drawn labels, so it carries no label noise:

- expected AUC: each applicant counted as a default with weight `true_pd` and as a repayment with
  weight 1 - `true_pd` (the AUC a model would get, in expectation over outcomes);
- calibration: mean predicted PD minus mean `true_pd`, and the row-weighted gap over equal-count
  bins of predicted PD (expected calibration error against the truth);
- the policy result: at the historical approval rate, the expected bad rate of whom the model
  approves; at the historical expected bad rate, how many it approves (thin-file, rural included).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.metrics import selection_rate
from sklearn.metrics import roc_auc_score

from thinfile.features.schema import Schema
from thinfile.training.evaluate import metric_token, thin_file_mask
from thinfile.training.fairness.metrics import approve_at_bad_rate, grouped_metrics

GROUP_ATTRIBUTE = "residence"
FOCUS_GROUP = "rural"
SEGMENTS = ("all", "rejects", "thin_rejects", "rural_rejects")


def expected_auc(true_pd: np.ndarray, p: np.ndarray) -> float:
    """AUC of `p` against outcomes drawn from `true_pd`, in expectation (each row both a default and a repayment)."""
    n = len(p)
    if n == 0:
        return float("nan")
    y = np.concatenate([np.ones(n), np.zeros(n)])
    w = np.concatenate([true_pd, 1.0 - true_pd])
    return float(roc_auc_score(y, np.concatenate([p, p]), sample_weight=w))


def expected_calibration_error(true_pd: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Row-weighted mean |mean predicted PD - mean true PD| over equal-count bins of predicted PD."""
    if len(p) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, min(bins, len(p)))
    return float(sum(len(i) * abs(p[i].mean() - true_pd[i].mean()) for i in parts) / len(p))


def approve_share(p: np.ndarray, share: float) -> np.ndarray:
    """Approve the lowest-PD `share` of applicants (ties broken by row order)."""
    k = int(round(share * len(p)))
    approved = np.zeros(len(p), dtype=bool)
    approved[np.argsort(p, kind="stable")[:k]] = True
    return approved


@dataclass(frozen=True)
class TruthSet:
    """Through-the-door test applicants seen from the truth: oracle PD, the history's decisions, the segments.

    `target_bad_rate` and `approval_rate` are the history's (expected bad rate among booked, booked share)
    unless given: an exploration sweep holds every share to the same reference.
    """

    true_pd: np.ndarray
    booked: np.ndarray
    thin: np.ndarray
    group: np.ndarray
    target_bad_rate: float
    approval_rate: float

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        schema: Schema,
        *,
        target_bad_rate: float | None = None,
        approval_rate: float | None = None,
    ) -> TruthSet:
        if not schema.oracle_column or schema.oracle_column not in frame.columns:
            raise ValueError(
                "measuring against the truth needs the oracle column (true_pd); only synthetic data has it"
            )
        true_pd = frame[schema.oracle_column].to_numpy(dtype=np.float64)
        booked = (
            frame[schema.booked_column].to_numpy(dtype=bool)
            if schema.booked_column and schema.booked_column in frame.columns
            else np.ones(len(frame), dtype=bool)
        )
        thin = thin_file_mask(frame, schema)
        group_col = GROUP_ATTRIBUTE if GROUP_ATTRIBUTE in frame.columns else None
        group = frame[group_col].astype(str).to_numpy() if group_col else np.full(len(frame), "all")
        return cls(
            true_pd,
            booked,
            thin if thin is not None else np.zeros(len(frame), dtype=bool),
            group,
            float(true_pd[booked].mean()) if target_bad_rate is None else target_bad_rate,
            float(booked.mean()) if approval_rate is None else approval_rate,
        )

    @property
    def focus(self) -> np.ndarray:
        return self.group == FOCUS_GROUP

    def segments(self) -> dict[str, np.ndarray]:
        rejects = ~self.booked
        return {
            "all": np.ones(len(self.booked), dtype=bool),
            "rejects": rejects,
            "thin_rejects": rejects & self.thin,
            "rural_rejects": rejects & self.focus,
        }

    def history(self) -> dict[str, float]:
        """What the historical policy did on these applicants."""
        return {
            "hist_approval_rate": float(self.booked.mean()),
            "hist_expected_bad_rate": float(self.true_pd[self.booked].mean()),
            "hist_approval_thin_file": _share(self.booked, self.thin),
            f"hist_approval_{FOCUS_GROUP}": _share(self.booked, self.focus),
        }


def _share(approved: np.ndarray, mask: np.ndarray) -> float:
    return float(approved[mask].mean()) if mask.any() else float("nan")


def truth_metrics(p: np.ndarray, truth: TruthSet) -> dict[str, float]:
    """Expected AUC and calibration by segment, and the policy result at the history's rate and bad rate."""
    p = np.asarray(p, dtype=np.float64)
    m: dict[str, float] = {}
    for name, mask in truth.segments().items():
        suffix = "" if name == "all" else f"_{name}"
        m[f"truth_auc{suffix}"] = expected_auc(truth.true_pd[mask], p[mask])
        m[f"truth_calibration_gap{suffix}"] = (
            float(p[mask].mean() - truth.true_pd[mask].mean()) if mask.any() else np.nan
        )
    m["truth_ece"] = expected_calibration_error(truth.true_pd, p)
    m["truth_rows"] = float(len(p))
    m["truth_oracle_auc"] = expected_auc(truth.true_pd, truth.true_pd)

    at_rate = approve_share(p, truth.approval_rate)
    m["policy_bad_rate_at_hist_approval"] = float(truth.true_pd[at_rate].mean()) if at_rate.any() else np.nan
    at_bad = approve_at_bad_rate(p, truth.true_pd, truth.target_bad_rate)
    m["policy_approval_at_hist_bad_rate"] = float(at_bad.mean())
    m["policy_approval_thin_file_at_hist_bad_rate"] = _share(at_bad, truth.thin)
    m[f"policy_approval_{FOCUS_GROUP}_at_hist_bad_rate"] = _share(at_bad, truth.focus)
    m["policy_thin_file_lift_at_hist_bad_rate"] = _share(at_bad, truth.thin) - _share(truth.booked, truth.thin)
    m[f"policy_{FOCUS_GROUP}_lift_at_hist_bad_rate"] = _share(at_bad, truth.focus) - _share(truth.booked, truth.focus)
    m.update(fairness_metrics(p, truth, at_rate))
    return {k: float(v) for k, v in m.items() if not np.isnan(v)}


def _expected_bad_rate_approved(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    approved = np.asarray(y_pred) == 1
    return float(np.mean(np.asarray(y_true)[approved])) if approved.any() else float("nan")


def _expected_approval_among_good(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    good = 1.0 - np.asarray(y_true, dtype=np.float64)
    return float(np.sum(good * np.asarray(y_pred)) / np.sum(good))


def _expected_auc_metric(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return expected_auc(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64))


FAIR_DECISIONS = {
    "approval": selection_rate,
    "expected_bad_rate": _expected_bad_rate_approved,
    "approval_among_good": _expected_approval_among_good,
}
FAIR_RISK = {"auc": _expected_auc_metric}


def fairness_metrics(p: np.ndarray, truth: TruthSet, approved: np.ndarray) -> dict[str, float]:
    """Across residence (y_true = true_pd): approval, its ratio, bad rate and AUC by group.

    Decisions are the model's at the historical approval rate; 'good' counts are expected (1 - true_pd).
    The outcome is a probability, so rows cannot be collapsed into cells for fairlearn's MetricFrame,
    which is slow on raw rows (np.stack per row); the same metric functions run per group in
    `grouped_metrics`, and the ratio and difference are MetricFrame's between_groups ones.
    """
    keys, names = [truth.group], ["sensitive_feature_0"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        decisions = grouped_metrics(FAIR_DECISIONS, truth.true_pd, approved.astype(np.int64), keys, names)
        risk = grouped_metrics(FAIR_RISK, truth.true_pd, p, keys, names)
    out: dict[str, float] = {}
    for metric, by_group in decisions.items():
        for group, value in by_group.items():
            out[f"fair_{metric}_{metric_token(group)}"] = float(value)
    for group, value in risk["auc"].items():
        out[f"fair_truth_auc_{metric_token(group)}"] = float(value)
    approval, among_good = decisions["approval"], decisions["approval_among_good"]
    out["fair_di_ratio"] = float(approval.min() / approval.max())
    out["fair_eo_diff"] = float((among_good - among_good.min()).abs().max())
    return out
