"""A model measured on through-the-door applicants against the synthetic truth (`true_pd`), rejects included.

Outcomes of rejects are never observed, but the synthetic world knows each applicant's true default
probability. Every figure here uses it instead of drawn labels, so it carries no label noise:

- expected AUC: each applicant counted as a default with weight `true_pd` and as a repayment with
  weight 1 - `true_pd` (the AUC a model would get, in expectation over outcomes);
- calibration: mean predicted PD minus mean `true_pd`, and the row-weighted gap over equal-count
  bins of predicted PD (expected calibration error against the truth);
- the policy result: at the historical approval rate, the expected bad rate of whom the model
  approves; at the historical expected bad rate, how many it approves (thin-file, rural included).

How far each figure would move with another sample of test applicants: a bootstrap over them (`Bootstrap`,
`truth_draws`), every model measured on one test set resampled the same way, so that two models' difference has
its own (paired) interval. Every resample is a row of counts (how often each applicant is drawn), and each figure
is computed from the counts as weights, all resamples at once, without copying applicants.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

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


INTERVAL_FIGURES = (
    "truth_auc",
    "truth_auc_rejects",
    "truth_auc_thin_rejects",
    "truth_auc_rural_rejects",
    "truth_calibration_gap",
    "truth_calibration_gap_rejects",
    "policy_bad_rate_at_hist_approval",
    "policy_approval_at_hist_bad_rate",
    "policy_approval_thin_file_at_hist_bad_rate",
    f"policy_approval_{FOCUS_GROUP}_at_hist_bad_rate",
)
"""The figures of `truth_metrics` that the loop compares between models, each given a bootstrap interval."""
LEVEL = 0.95
BOOTSTRAP_STREAM = 0xB007
"""Mixed with the loop's seed: the resamples are a stream of their own, not a copy of another draw from that seed."""
CHUNK_CELLS = 2_000_000
"""Resamples x applicants computed at once (16 MB as float64): the draws are made a chunk of resamples at a time."""


@dataclass
class Bootstrap:
    """`draws` resamples (with replacement) of test applicants, seeded: the same `n` gets the same resamples, so every
    model measured on one test set is resampled alike (paired) and a report is reproducible."""

    draws: int
    seed: int
    seconds: float = 0.0
    """spent drawing resamples and computing figures on them (`measure` adds its own)"""
    _counts: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def measure(
        self, p: np.ndarray, truth: TruthSet, figures: Sequence[str] = INTERVAL_FIGURES
    ) -> dict[str, np.ndarray]:
        """`truth_draws` of `p` on this bootstrap's resamples of `truth`'s applicants (none when `draws` is 0)."""
        if not self.draws:
            return {}
        start = time.perf_counter()
        try:
            return truth_draws(p, truth, self.counts(len(p)), figures)
        finally:
            self.seconds += time.perf_counter() - start

    def counts(self, n: int) -> np.ndarray:
        """draws x n (uint16): how often each of `n` applicants is drawn in each resample (each row sums to `n`)."""
        if n not in self._counts:
            rng = np.random.default_rng([self.seed, BOOTSTRAP_STREAM, n])
            counts = np.empty((self.draws, n), dtype=np.uint16)
            for row in range(self.draws):
                counts[row] = np.bincount(rng.integers(0, n, size=n), minlength=n)
            self._counts[n] = counts
        return self._counts[n]


def truth_draws(
    p: np.ndarray, truth: TruthSet, counts: np.ndarray, figures: Sequence[str] = INTERVAL_FIGURES
) -> dict[str, np.ndarray]:
    """Each of `figures` (of INTERVAL_FIGURES) on each resample of `truth`'s applicants (`counts`: resamples x
    applicants, as `Bootstrap.counts` gives), computed as `truth_metrics` computes it on the resample: the expanded
    applicants, each as often as it was drawn, in row order. NaN where a resample has no applicant of a segment.

    Sums over applicants are einsum's (BLAS's matrix-vector product is many times slower here on a busy machine)."""
    p = np.asarray(p, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    ps, ys = p[order], truth.true_pd[order]
    segments = {name: mask[order] for name, mask in truth.segments().items() if _segment_figures(name, figures)}
    policy = any(f.startswith("policy_") for f in figures)
    chunk = max(1, CHUNK_CELLS // max(len(p), 1))
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, len(counts), chunk):
        c = counts[start : start + chunk][:, order].astype(np.float64)
        bad = c * ys  # each drawn applicant a default with weight true_pd, a repayment with 1 - true_pd
        drawn, defaults = np.cumsum(c, axis=1), np.cumsum(bad, axis=1)  # up to and including each applicant
        out: dict[str, np.ndarray] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for name, mask in segments.items():
                if not mask.any():  # no applicant of the segment to draw
                    out.update(dict.fromkeys(_segment_figures(name, figures), np.full(len(c), np.nan)))
                    continue
                if name == "all":
                    cs, bs, cum = c, bad, (drawn, defaults)
                else:
                    cs, bs = c[:, mask], bad[:, mask]
                    cum = (np.cumsum(cs, axis=1), np.cumsum(bs, axis=1))
                auc, gap = _suffixed("truth_auc", name), _suffixed("truth_calibration_gap", name)
                if auc in figures:
                    out[auc] = _weighted_auc(ps[mask], *cum)
                if gap in figures:
                    out[gap] = (np.einsum("ij,j->i", cs, ps[mask]) - cum[1][:, -1]) / cum[0][:, -1]
            if policy:
                out.update(_policy_draws(ps, ys, c, bad, drawn, defaults, truth, truth.thin[order], truth.focus[order]))
        parts.append(out)
    return {key: np.concatenate([part[key] for part in parts]) for key in figures}


def _suffixed(figure: str, segment: str) -> str:
    """A figure's name in `truth_metrics` for one segment (`all` has no suffix)."""
    return figure if segment == "all" else f"{figure}_{segment}"


def _segment_figures(segment: str, figures: Sequence[str]) -> list[str]:
    """Which of `figures` are measured on the applicants of `segment` (its AUC, its calibration gap)."""
    return [f for f in (_suffixed("truth_auc", segment), _suffixed("truth_calibration_gap", segment)) if f in figures]


def _ends(p: np.ndarray) -> np.ndarray | None:
    """Where each run of equal values of sorted `p` ends; None when every value differs (each ends where it is)."""
    ends = np.flatnonzero(np.r_[p[1:] != p[:-1], True])
    return ends if len(ends) < len(p) else None


def _weighted_auc(p: np.ndarray, drawn: np.ndarray, defaults: np.ndarray) -> np.ndarray:
    """`expected_auc` per resample of applicants sorted by `p`, from the counts drawn and the defaults (counts times
    true_pd) up to each applicant: the Mann-Whitney sum of each default weight times the repayment weight below it,
    ties in `p` counted half (a run of equal PDs taken whole: its defaults times the repayments below it and half of
    its own, 0.5 x (repayments up to the run's start + up to its end))."""
    if p.size == 0:
        return np.full(len(drawn), np.nan)
    ends = _ends(p)
    if ends is not None:
        drawn, defaults = drawn[:, ends], defaults[:, ends]
    repaid = drawn - defaults
    pairs = np.einsum("ij,ij->i", defaults[:, 1:] - defaults[:, :-1], repaid[:, 1:] + repaid[:, :-1])
    pairs += defaults[:, 0] * repaid[:, 0]
    return 0.5 * pairs / (defaults[:, -1] * repaid[:, -1])


def _policy_draws(
    p: np.ndarray,
    true_pd: np.ndarray,
    c: np.ndarray,
    bad: np.ndarray,
    drawn: np.ndarray,
    defaults: np.ndarray,
    truth: TruthSet,
    thin: np.ndarray,
    focus: np.ndarray,
) -> dict[str, np.ndarray]:
    """The policy figures of `truth_metrics` per resample (applicants sorted by `p`, `c` their counts, `bad` the
    counts times `true_pd`, `drawn` and `defaults` their sums up to each applicant): `approve_share` and
    `approve_at_bad_rate` on the expanded applicants."""
    n, rows = len(p), np.arange(len(c))
    k = int(round(truth.approval_rate * n))
    out = {"policy_bad_rate_at_hist_approval": np.full(len(c), np.nan)}
    if k:  # the first k applicants drawn, in order of PD: whole applicants up to the k-th, and part of that one
        at = np.array([np.searchsorted(row, k) for row in drawn])  # each row of `drawn` rises: where it reaches k
        before = drawn[rows, at] - c[rows, at]
        out["policy_bad_rate_at_hist_approval"] = (defaults[rows, at] - bad[rows, at] + (k - before) * true_pd[at]) / k
    ends = _ends(p)  # the cut falls only after the last of equal PDs
    rate = defaults / drawn if ends is None else defaults[:, ends] / drawn[:, ends]
    ends = np.arange(n) if ends is None else ends
    ok = rate <= truth.target_bad_rate + 1e-12  # the bad rate approving up to each distinct PD
    last = np.where(ok.any(axis=1), ends[ok.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)], -1)
    out["policy_approval_at_hist_bad_rate"] = np.where(last >= 0, drawn[rows, np.maximum(last, 0)], 0.0) / n
    for key, mask in (("thin_file", thin), (FOCUS_GROUP, focus)):
        weight = mask.astype(np.float64)
        approved = [np.einsum("i,i->", row[: end + 1], weight[: end + 1]) for row, end in zip(c, last, strict=True)]
        out[f"policy_approval_{key}_at_hist_bad_rate"] = np.array(approved) / np.einsum("ij,j->i", c, weight)
    return out


def interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The percentile interval of `draws` at `level` (NaN draws left out; NaN when none is left)."""
    finite = np.asarray(draws, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def intervals(draws: dict[str, np.ndarray], level: float = LEVEL) -> dict[str, float]:
    """`<figure>_low` and `<figure>_high` of each figure's draws (those with a finite interval)."""
    out: dict[str, float] = {}
    for key, values in draws.items():
        low, high = interval(values, level)
        if np.isfinite(low):
            out[f"{key}_low"], out[f"{key}_high"] = low, high
    return out
