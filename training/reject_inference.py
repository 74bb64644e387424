"""Reject inference: train on booked loans plus what a method infers about the applicants never booked.

A lender sees outcomes only for the loans it booked (the known good/bad, KGB, sample). Each method
here turns (booked rows with outcomes, rejected rows without) into one weighted training sample:

- ``none``: booked rows only (the floor a lender gets by ignoring rejects).
- ``reweight``: booked rows weighted by 1 / P(booked | inputs), the selection probability fitted on
  every applicant (inverse-probability weighting; "augmentation" in Banasik & Crook 2007). It can
  only reweight where booked loans exist: it creates no support.
- ``augment``: hard-cutoff augmentation (Siddiqi 2006, ch. 9): rejects scored by the KGB model, the
  riskiest labelled bad and the rest good, as many bad as the KGB model expects times `risk_factor`.
- ``parcel``: parceling (Siddiqi 2006): each reject labelled bad at random with probability
  `risk_factor` x its KGB PD (rejects assumed riskier than accepts with the same score).
- ``fuzzy``: fuzzy augmentation (Siddiqi 2006; Ehrhardt et al. 2021): each reject entered twice, as
  bad with weight PD and as good with weight 1 - PD. For a likelihood-fitted model this leaves the
  KGB fit where it was (tested); a tree model may still move where booked loans are scarce.
- ``ceiling``: every applicant with their outcome (only the synthetic world has rejects' outcomes):
  the reference no method can beat.

References: Hand & Henley (1993), "Can reject inference ever work?", IMA J. Math. Appl. Business &
Industry; Banasik & Crook (2007), "Reject inference, augmentation, and sample selection", EJOR;
Siddiqi (2006), *Credit Risk Scorecards*; Ehrhardt et al. (2021), "Reject inference methods in credit
scoring", J. Applied Statistics.

The PyPI package `rejectkit` (0.3, beta) implements several of these behind scikit-learn's
`check_array`, which refuses missing values; thin-file model matrices are mostly missing values
(LightGBM routes them), so the methods are kept here, each a few lines over arrays.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from thinfile.features.schema import Schema
from thinfile.training.champion import fit_scorer, lgb_params, train_booster
from thinfile.training.settings import RejectInference, TrainConfig
from thinfile.training.split import Split

REFERENCE_METHODS: tuple[str, ...] = ("ceiling",)


class RejectInferenceError(ValueError):
    """Reject inference asked of a table that cannot support it; the message says what to do."""


@dataclass(frozen=True)
class Sample:
    """A weighted training sample: rows, outcomes (0/1) and weights (None: all 1)."""

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None = None


def _stack(booked: Sample, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Sample:
    base = booked.weight if booked.weight is not None else np.ones(len(booked.y))
    return Sample(np.vstack([booked.X, X]), np.concatenate([booked.y, y]), np.concatenate([base, w]))


def reweight(booked: Sample, p_booked: np.ndarray, max_weight: float) -> Sample:
    """Booked rows weighted by 1 / P(booked | x), capped at `max_weight`, scaled to mean 1."""
    w = np.minimum(1.0 / np.clip(p_booked, 1.0 / max_weight, 1.0), max_weight)
    return Sample(booked.X, booked.y, w / w.mean())


def hard_cutoff(
    booked: Sample, X_rejects: np.ndarray, pd_rejects: np.ndarray, risk_factor: float, weight: float
) -> Sample:
    """Rejects labelled bad where their KGB PD is highest: round(risk_factor x sum of PD) of them, the rest good."""
    n_bad = int(round(min(1.0, risk_factor * float(np.mean(pd_rejects))) * len(pd_rejects)))
    y = np.zeros(len(pd_rejects), dtype=np.int64)
    y[np.argsort(-pd_rejects, kind="stable")[:n_bad]] = 1
    return _stack(booked, X_rejects, y, np.full(len(y), weight))


def parcel(
    booked: Sample,
    X_rejects: np.ndarray,
    pd_rejects: np.ndarray,
    risk_factor: float,
    weight: float,
    rng: np.random.Generator,
) -> Sample:
    """Each reject labelled bad with probability min(1, risk_factor x KGB PD), at random."""
    y = (rng.random(len(pd_rejects)) < np.minimum(1.0, risk_factor * pd_rejects)).astype(np.int64)
    return _stack(booked, X_rejects, y, np.full(len(y), weight))


def fuzzy(booked: Sample, X_rejects: np.ndarray, pd_rejects: np.ndarray, weight: float) -> Sample:
    """Each reject twice: as bad with weight PD, as good with weight 1 - PD (times `weight`)."""
    n = len(pd_rejects)
    X = np.vstack([X_rejects, X_rejects])
    y = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
    return _stack(booked, X, y, weight * np.concatenate([pd_rejects, 1.0 - pd_rejects]))


@dataclass(frozen=True)
class Inferred:
    """The champion's training and validation samples for one method, what it cost and what it did."""

    method: str
    train: Sample
    valid: Sample
    params: dict[str, object]
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)


def booked_mask(frame_part: object, schema: Schema) -> np.ndarray:
    """True where the earlier policy booked the row (every row when the schema names no booked column)."""
    if not schema.booked_column:
        return np.ones(len(frame_part), dtype=bool)  # type: ignore[arg-type]
    return np.asarray(frame_part[schema.booked_column], dtype=bool)  # type: ignore[index]


def booked_split(ttd: Split) -> Split:
    """The rows a lender can evaluate on: the booked rows of each part of a through-the-door split."""
    return ttd.where(booked_mask(ttd.frame, ttd.schema), f"{ttd.method}, booked rows")


def check_method(config: RejectInference, schema: Schema) -> None:
    if config.method != "none" and not schema.booked_column:
        raise RejectInferenceError(
            f"reject inference ({config.method}) needs to know who was booked: schema {schema.name!r} names no "
            "booked_column; add `booked_column: <column>` (1 = booked, 0 = rejected) to the schema file"
        )


def _labels(raw: np.ndarray, what: str) -> np.ndarray:
    if np.isnan(raw).any():
        raise RejectInferenceError(
            f"the {what} needs an outcome for every applicant, but {int(np.isnan(raw).sum()):,} rejects have none "
            "(only the synthetic world knows rejects' outcomes)"
        )
    return raw.astype(np.int64)


def infer(
    config: RejectInference,
    ttd: Split,
    train: TrainConfig,
    kgb_pd: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Inferred:
    """The champion's training sample under `config.method`, from a through-the-door split.

    `kgb_pd` scores rejects with the booked-only model; when None it is fitted here (the same LightGBM
    learner and settings as the champion, on booked rows only).
    """
    schema = ttd.schema
    start = time.perf_counter()
    booked_all = booked_mask(ttd.frame, schema)
    target = np.asarray(ttd.frame[schema.target], dtype=np.float64)
    train_rows, valid_rows = ttd.rows_of("train"), ttd.rows_of("valid")
    is_b, is_bv = booked_all[train_rows], booked_all[valid_rows]
    y_all, yv_all = target[train_rows], target[valid_rows]
    booked = Sample(ttd.X_train[is_b], y_all[is_b].astype(np.int64))
    valid = Sample(ttd.X_valid[is_bv], yv_all[is_bv].astype(np.int64))
    X_rejects = ttd.X_train[~is_b]
    metrics = {"rows_booked": float(is_b.sum()), "rows_rejected_applicants": float((~is_b).sum())}
    method = config.method
    if method == "none":
        sample = booked
    elif method == "ceiling":
        sample = Sample(ttd.X_train, _labels(y_all, "ceiling"))
        valid = Sample(ttd.X_valid, _labels(yv_all, "ceiling"))
    elif method == "reweight":
        quick = train.model_copy(update={"max_rounds": config.selection_rounds, "learning_rate": 0.1})
        params = {k: v for k, v in lgb_params(schema, quick).items() if not k.startswith("monotone")}
        selection = train_booster(
            schema, ttd.X_train, is_b.astype(np.int64), ttd.X_valid, is_bv.astype(np.int64), quick, params=params
        )
        p_booked = np.asarray(selection.predict(booked.X, num_iteration=selection.best_iteration))
        sample = reweight(booked, p_booked, config.max_weight)
        metrics["reweight_capped_share"] = float(np.mean(p_booked < 1.0 / config.max_weight))
    else:
        if kgb_pd is None:
            kgb = fit_scorer(schema, booked.X, booked.y, valid.X, valid.y, train).scorer
            kgb_pd = kgb.predict_pd
        pd_rejects = np.asarray(kgb_pd(X_rejects), dtype=np.float64)
        metrics["kgb_pd_mean_rejects"] = float(pd_rejects.mean()) if len(pd_rejects) else float("nan")
        if method == "augment":
            sample = hard_cutoff(booked, X_rejects, pd_rejects, config.risk_factor, config.reject_weight)
        elif method == "parcel":
            rng = np.random.default_rng(config.seed)
            sample = parcel(booked, X_rejects, pd_rejects, config.risk_factor, config.reject_weight, rng)
        else:
            sample = fuzzy(booked, X_rejects, pd_rejects, config.reject_weight)
    metrics["rows_inferred"] = float(len(sample.y) - len(booked.y)) if method != "ceiling" else 0.0
    return Inferred(method, sample, valid, config.params(), time.perf_counter() - start, metrics)
