"""Fit the champion: monotone LightGBM on the schema's model inputs, early-stopped, Platt-checked."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from thinfile.features.schema import Schema
from thinfile.features.words import counted
from thinfile.training.scorer import scale as scoring
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.settings import TrainConfig
from thinfile.training.stability import build_reference

REFERENCE_ROWS = 50_000


def lgb_params(schema: Schema, config: TrainConfig) -> dict:
    """LightGBM parameters from the typed config and the schema's monotone directions."""
    return {
        "objective": "binary",
        "learning_rate": config.learning_rate,
        "num_leaves": config.num_leaves,
        "max_depth": config.max_depth,
        "min_data_in_leaf": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "bagging_fraction": config.bagging_fraction,
        "bagging_freq": config.bagging_freq,
        "lambda_l2": config.lambda_l2,
        # creditworthiness direction (+1 better) is the opposite of the default log-odds direction
        "monotone_constraints": [-m for m in schema.monotone_constraints],
        "monotone_constraints_method": "intermediate",
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": config.num_threads,
        "verbosity": -1,
    }


def rarely_missing(schema: Schema, X: np.ndarray, min_rows: int) -> dict[str, int]:
    """Nullable inputs missing in some, but fewer than `min_rows`, training rows (LightGBM's smallest leaf): too few
    for the trees to learn what a missing value means, so the branch it takes is an accident of those rows."""
    missing = np.isnan(X).sum(axis=0)
    return {f.name: int(n) for f, n in zip(schema.features, missing, strict=True) if f.nullable and 0 < n < min_rows}


def missing_sentence(name: str, rows: int, of: int) -> str:
    return (
        f"{name} is missing in only {counted(rows, 'training row')} of {of:,}: what a missing {name} scores was not "
        "learnt and may score well; if it is always known make it not nullable, else train on more rows without it"
    )


def train_booster(
    schema: Schema,
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray,
    yv: np.ndarray,
    config: TrainConfig,
    weight: np.ndarray | None = None,
    params: dict | None = None,
) -> lgb.Booster:
    """Early-stopped LightGBM on model matrices built by `Schema.to_matrix`."""
    cats = schema.categorical_indices
    train = lgb.Dataset(X, y, weight=weight, categorical_feature=cats, free_raw_data=True)
    valid = lgb.Dataset(Xv, yv, categorical_feature=cats, reference=train)
    return lgb.train(
        params or lgb_params(schema, config),
        train,
        num_boost_round=config.max_rounds,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )


def platt_if_it_helps(margin: np.ndarray, y: np.ndarray, seed: int) -> tuple[float, float]:
    """Platt (a, b) fitted on one half of validation, kept only if it lowers log loss on the other half and keeps
    the ranking (a positive slope: a score never turns upside down on a small or odd validation set). None is
    fitted, (1, 0), when the half it would be fitted on holds only one outcome (a small book's few defaults)."""
    rng = np.random.default_rng(seed)
    half = rng.random(len(y)) < 0.5
    if len(np.unique(y[half])) < 2:
        return 1.0, 0.0
    raw = expit(margin)
    fit = LogisticRegression(C=1e6).fit(margin[half, None], y[half])
    a, b = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    calibrated = expit(a * margin[~half] + b)
    if a <= 0 or log_loss(y[~half], calibrated, labels=[0, 1]) >= log_loss(y[~half], raw[~half], labels=[0, 1]):
        return 1.0, 0.0
    full = LogisticRegression(C=1e6).fit(margin[:, None], y)
    a, b = float(full.coef_[0, 0]), float(full.intercept_[0])
    return (a, b) if a > 0 else (1.0, 0.0)


def fit_champion(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    schema: Schema,
    config: TrainConfig | None = None,
    scale: ScoreScale | None = None,
    cutoffs: Cutoffs | None = None,
    weight: np.ndarray | None = None,
) -> Scorer:
    """Train, calibrate and package the champion scorer from training and validation rows."""
    y, yv = train[schema.target].to_numpy(dtype=np.int64), valid[schema.target].to_numpy(dtype=np.int64)
    X, Xv = schema.to_matrix(train), schema.to_matrix(valid)
    return fit_scorer(schema, X, y, Xv, yv, config, scale, cutoffs, weight).scorer


@dataclass(frozen=True)
class FittedScorer:
    """A fitted scorer and the PDs it gives its validation rows (computed for calibration; reused, not recomputed)."""

    scorer: Scorer
    valid_pd: np.ndarray


def fit_scorer(
    schema: Schema,
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray,
    yv: np.ndarray,
    config: TrainConfig | None = None,
    scale: ScoreScale | None = None,
    cutoffs: Cutoffs | None = None,
    weight: np.ndarray | None = None,
) -> FittedScorer:
    """Train, calibrate and package the champion scorer from model matrices (built once by the Split); with it,
    its PDs of the validation rows `Xv`."""
    config = config or TrainConfig()
    scale = scale or ScoreScale()
    cutoffs = cutoffs or Cutoffs()
    booster = train_booster(schema, X, y, Xv, yv, config, weight=weight)
    booster.free_dataset()
    scorer = Scorer(
        schema=schema,
        booster=booster,
        scale=scale,
        cutoffs=cutoffs,
        meta={"family": "lightgbm", "best_iteration": booster.best_iteration},
    )
    valid_margin = scorer.margin(Xv)
    calibration = platt_if_it_helps(valid_margin, yv, config.seed)
    scorer.calibration = calibration
    train_sample = X[np.random.default_rng(config.seed).permutation(len(X))[:REFERENCE_ROWS]]
    scorer.reference = build_reference(
        schema, train_sample, scoring.pd_to_score(scorer.predict_pd(train_sample), scale)
    )
    a, b = calibration
    return FittedScorer(scorer, np.asarray(expit(a * valid_margin + b)))
