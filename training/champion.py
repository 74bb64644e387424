"""Fit the champion: monotone LightGBM on the schema's model inputs, early-stopped, Platt-checked."""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import Field
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from thinfile.features.schema import Schema
from thinfile.features.settings import Section
from thinfile.training.scorer import scale as scoring
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.stability import build_reference

MAX_LEAVES = 64  # leaves per tree: beyond this thinfile's exact TreeSHAP tables stop being the fast path
EVENTS_PER_LEAF = 40
MIN_TRIALS = 8


class TrainConfig(Section):
    """Hyper-parameters of the champion and the split; fitted to the table unless set explicitly.

    The fixed values below are those of the synthetic 200,000-row world (chosen in bench/train_shape.py).
    On another table, `fitted_to` scales what is not set explicitly to the training rows n, the defaults
    among them e and the defaults among validation rows e_v:

    - min_child_samples = 0.1% of n, between 10 and 100;
    - num_leaves = the largest power of two <= e / 40 (about 40 defaults per leaf of the deepest tree),
      between 4 and 8, and max_depth = log2(num_leaves) (the trees stay complete and shallow);
    - early_stopping_rounds = 30 x sqrt(1000 / e_v), between 30 and 100 (a small validation part is a
      noisy signal: wait longer before stopping);
    - num_threads = 1 under `single_thread_below_rows` training rows (LightGBM's threads cost more than
      they save on small data, many times more on a busy machine), else all cores;
    - tune_trials = 200,000 / n, between 8 and 20 (the search's cost grows with rows x trials).

    On 120,000 training rows with ~10,000 defaults that gives back 100, 8 leaves at depth 3 and 30.
    Then, on tables under `tune_below_rows` rows (or always with `tune=True`), a short cross-validated
    search (training.tuning) starts from those values; trees stay within 64 leaves, where thinfile's exact
    TreeSHAP is fastest. `tune=False` keeps the fitted values.
    """

    seed: int = 7
    test_size: float = Field(0.2, gt=0, lt=1)
    valid_size: float = Field(0.2, gt=0, lt=1)
    learning_rate: float = 0.05
    num_leaves: int = Field(8, ge=2, le=MAX_LEAVES)
    max_depth: int = 3
    max_rounds: int = 400
    early_stopping_rounds: int = 30
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    num_threads: int = 0
    fit_to_table: bool = Field(True, description="scale leaf size, tree shape and early stopping to the table")
    tune: bool | None = Field(
        None, description="cross-validated search first: None = on tables under tune_below_rows rows"
    )
    tune_trials: int = Field(
        20, ge=1, description="trials of the search (the first is the fitted defaults); fewer on larger tables"
    )
    tune_row_trials: int = Field(
        200_000, ge=0, description="unless tune_trials is set: trials x training rows at most this (8 trials at least)"
    )
    tune_folds: int = Field(5, ge=2, description="folds of the cross-validation that scores each trial")
    tune_below_rows: int = Field(50_000, ge=0, description="search by default on tables with fewer usable rows")
    single_thread_below_rows: int = Field(50_000, ge=0, description="fit on one thread below this many training rows")

    def fitted_to(self, rows: int, events: int, valid_events: int) -> TrainConfig:
        """This config with leaf size, tree shape and early stopping scaled to the table (see the class doc);
        fields set explicitly are kept."""
        if not self.fit_to_table:
            return self
        leaves = 2 ** int(np.clip(np.floor(np.log2(max(events, 1) / EVENTS_PER_LEAF)), 2, 3))
        fitted: dict[str, int] = {
            "min_child_samples": int(np.clip(round(rows / 1000), 10, 100)),
            "num_leaves": leaves,
            "max_depth": int(np.log2(leaves)),
            "early_stopping_rounds": int(np.clip(round(30 * np.sqrt(1000 / max(valid_events, 1))), 30, 100)),
            "num_threads": 1 if rows < self.single_thread_below_rows else 0,
            "tune_trials": int(np.clip(self.tune_row_trials // max(rows, 1), MIN_TRIALS, self.tune_trials)),
        }
        if "num_leaves" in self.model_fields_set or "max_depth" in self.model_fields_set:
            fitted.pop("num_leaves"), fitted.pop("max_depth")
        update = {k: v for k, v in fitted.items() if k not in self.model_fields_set}
        return self.model_copy(update=update) if update else self

    def searches(self, rows: int) -> bool:
        """Whether the cross-validated search runs on a table with `rows` usable rows."""
        return self.tune if self.tune is not None else rows < self.tune_below_rows


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
    the ranking (a positive slope: a score never turns upside down on a small or odd validation set)."""
    rng = np.random.default_rng(seed)
    half = rng.random(len(y)) < 0.5
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
    valid_margin = np.asarray(booster.predict(Xv, raw_score=True), dtype=np.float64)
    calibration = platt_if_it_helps(valid_margin, yv, config.seed)
    scorer = Scorer(
        schema=schema,
        booster=booster,
        scale=scale,
        cutoffs=cutoffs,
        calibration=calibration,
        meta={"family": "lightgbm", "best_iteration": booster.best_iteration},
    )
    train_sample = X[np.random.default_rng(config.seed).permutation(len(X))[:REFERENCE_ROWS]]
    scorer.reference = build_reference(
        schema, train_sample, scoring.pd_to_score(scorer.predict_pd(train_sample), scale)
    )
    a, b = calibration
    return FittedScorer(scorer, np.asarray(expit(a * valid_margin + b)))
