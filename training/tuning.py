"""A short search for the champion's hyper-parameters (optuna TPE), each trial scored by cross-validation.

`choose_config` is what training runs: the table-fitted defaults (TrainConfig.fitted_to), then, on small
tables or on request, a search that starts from them. Every trial is scored by stratified k-fold
cross-validation (LightGBM's `cv`, early-stopped) on the training and validation rows together, so a small
table's choice does not hang on one noisy validation part; the test part is never seen. The first trial is
the fitted defaults, so the search can only keep or improve their cross-validated log loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import optuna
from sklearn.model_selection import StratifiedKFold

from thinfile.features.schema import Schema
from thinfile.training.champion import lgb_params
from thinfile.training.settings import MAX_LEAVES, TrainConfig, tree_depth
from thinfile.training.split import Split, group_parts

Folds = list[tuple[np.ndarray, np.ndarray]]
CV_PATIENCE = 20  # rounds without improvement of the folds' mean loss (a smooth curve) before a trial stops


@dataclass(frozen=True)
class Tuned:
    """The best config of a search, its cross-validated log loss, and every trial's loss (the first: the start)."""

    config: TrainConfig
    loss: float
    trial_losses: list[float]
    seconds: float = 0.0

    @property
    def start_loss(self) -> float:
        return self.trial_losses[0]


@dataclass(frozen=True)
class Chosen:
    """The champion's hyper-parameters and how they were chosen, in one line and as run parameters."""

    config: TrainConfig
    how: str
    tuned: Tuned | None = None
    fitted: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.config
        shape = (
            f"{c.num_leaves} leaves, depth {tree_depth(c)}, min_child_samples {c.min_child_samples}, "
            f"learning rate {c.learning_rate:.3f}, early stopping {c.early_stopping_rounds}"
        )
        if self.tuned is None:
            return f"hyper-parameters ({self.how}): {shape}"
        t = self.tuned
        return (
            f"hyper-parameters ({self.how}, {t.seconds:.0f} s): {shape}; cross-validated log loss "
            f"{t.loss:.4f} against {t.start_loss:.4f} for the table-fitted defaults"
        )

    def params(self) -> dict[str, object]:
        out: dict[str, object] = {"train.chosen_by": self.how}
        if self.tuned is not None:
            out |= {"train.search_cv_logloss": round(self.tuned.loss, 6)}
            out |= {"train.search_start_cv_logloss": round(self.tuned.start_loss, 6)}
        return out


def cv_logloss(schema: Schema, X: np.ndarray, y: np.ndarray, config: TrainConfig, folds: Folds | None = None) -> float:
    """Mean out-of-fold log loss of early-stopped LightGBM with `config`, over `folds` (default: `cv_folds`)."""
    data = lgb.Dataset(X, y, categorical_feature=schema.categorical_indices, free_raw_data=False)
    result = lgb.cv(
        lgb_params(schema, config),
        data,
        num_boost_round=config.max_rounds,
        folds=cv_folds(y, config) if folds is None else folds,
        callbacks=[lgb.early_stopping(min(config.early_stopping_rounds, CV_PATIENCE), verbose=False)],
    )
    losses: list[float] = result["valid binary_logloss-mean"]  # type: ignore[assignment]
    return float(min(losses))


def cv_folds(y: np.ndarray, config: TrainConfig, groups: np.ndarray | None = None) -> Folds:
    """The search's (train, held-out) folds: stratified, and whole borrowers when `groups` gives each row's (a fold
    no borrower fell in is left out)."""
    if groups is None:
        return list(StratifiedKFold(config.tune_folds, shuffle=True, random_state=config.seed).split(y, y))
    fold = group_parts(y, groups, [1.0] * config.tune_folds, config.seed)
    held = [np.flatnonzero(fold == k) for k in range(config.tune_folds)]
    return [(np.flatnonzero(fold != k), rows) for k, rows in enumerate(held) if len(rows)]


SEARCHED = ("max_depth", "num_leaves", "min_child_samples", "learning_rate", "lambda_l2", "feature_fraction")


@dataclass(frozen=True)
class Space:
    """The searched ranges for a table of `rows` rows; values set explicitly in the config are kept, not searched."""

    config: TrainConfig
    rows: int
    keep: frozenset[str] = frozenset()

    @property
    def searched(self) -> list[str]:
        return [k for k in SEARCHED if k not in self.keep]

    def ranges(self, depth: int) -> dict[str, tuple[float, float, bool]]:
        """(low, high, log scale) of each parameter; the leaves' range follows the tree's depth."""
        return {
            "max_depth": (2, 6, False),
            "num_leaves": (2, min(MAX_LEAVES, 2**depth), False),
            "min_child_samples": (5, max(10, min(300, self.rows // 20)), True),
            "learning_rate": (0.02, 0.2, True),
            "lambda_l2": (1e-3, 30.0, True),
            "feature_fraction": (0.5, 1.0, False),
        }

    def _depth(self) -> int:
        return int(np.clip(self.config.max_depth if self.config.max_depth > 0 else 6, 2, 6))

    def suggest(self, trial: optuna.Trial) -> dict[str, float | int]:
        values: dict[str, float | int] = {}
        depth = self._depth()
        for name in SEARCHED:
            if name in self.keep:
                continue
            low, high, log = self.ranges(depth)[name]
            if isinstance(getattr(self.config, name), int):
                values[name] = trial.suggest_int(name, int(low), int(high), log=log)
            else:
                values[name] = trial.suggest_float(name, low, high, log=log)
            if name == "max_depth":
                depth = int(values[name])
        return values

    def start(self) -> dict[str, float | int]:
        """The config's own values as the first trial, moved into the ranges where they lie outside."""
        values: dict[str, float | int] = {}
        depth = self._depth()
        for name in self.searched:
            low, high, _ = self.ranges(depth)[name]
            value = depth if name == "max_depth" else getattr(self.config, name)
            values[name] = type(value)(np.clip(value, low, high))
        return values


def tune_config(
    split: Split, config: TrainConfig, keep: frozenset[str] = frozenset(), folds: Folds | None = None
) -> Tuned:
    """Search tree shape, leaf size, learning rate and regularisation by cross-validated log loss.

    Parameters named in `keep` (set explicitly by the user) keep the config's value. Trees stay within 64 leaves
    so thinfile's fast exact TreeSHAP keeps serving the reason codes. `folds`: over the train then validation rows
    (default: `cv_folds` of them).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    schema = split.schema
    X = np.vstack([split.X_train, split.X_valid])
    y = np.concatenate([split.y("train"), split.y("valid")])
    folds = cv_folds(y, config, split.borrowers("train", "valid")) if folds is None else folds
    space = Space(config, len(y), keep)
    start = time.perf_counter()

    stopped: list[KeyboardInterrupt] = []

    def objective(trial: optuna.Trial) -> float:
        try:
            return cv_logloss(schema, X, y, config.model_copy(update=space.suggest(trial)), folds)
        except KeyboardInterrupt as err:
            # optuna logs a trial that raises, Ctrl-C too, as failed with its traceback (at WARNING, whatever
            # `catch` says); a pruned trial is one INFO line, below the verbosity set above. So Ctrl-C ends
            # the search as a pruned trial and is raised again once optuna has returned.
            stopped.append(err)
            trial.study.stop()
            raise optuna.TrialPruned("stopped by Ctrl-C") from None

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.enqueue_trial(space.start())
    study.optimize(objective, n_trials=config.tune_trials)
    if stopped:
        raise stopped[0]
    losses = [float(trial.value) for trial in study.trials if trial.value is not None]
    best = config.model_copy(update=study.best_params)
    return Tuned(best, float(study.best_value), losses, time.perf_counter() - start)


def choose_config(split: Split, config: TrainConfig, progress: Callable[[str], None] | None = None) -> Chosen:
    """The champion's config for this split: table-fitted defaults, then the search where it applies."""
    y, yv = split.y("train"), split.y("valid")
    fitted = config.fitted_to(len(y), int(y.sum()), int(yv.sum()), inputs=len(split.schema.feature_names))
    changed = {k: getattr(fitted, k) for k in fitted.model_fields_set - config.model_fields_set}
    rows = sum(split.sizes().values())
    base = "table-fitted defaults" if changed else "configured values"
    keep = frozenset(config.model_fields_set & set(SEARCHED))
    if not fitted.searches(rows) or keep == set(SEARCHED):
        return Chosen(fitted, base, fitted=changed)
    groups = split.borrowers("train", "valid")
    folds = cv_folds(np.concatenate([y, yv]), fitted, groups)  # the rows tune_config searches on, in its order
    if progress is not None:
        progress(
            f"searching hyper-parameters: {fitted.tune_trials} trials, each scored by {len(folds)}-fold "
            f"cross-validation on {len(split.rows_of('train')) + len(split.rows_of('valid')):,} rows"
            + (" (each borrower's loans in one fold)" if groups is not None else "")
        )
    tuned = tune_config(split, fitted, keep, folds)
    how = f"cross-validated search: {len(tuned.trial_losses)} trials x {len(folds)} folds from the {base}"
    if keep:
        how += f" (kept as set: {', '.join(sorted(keep))})"
    return Chosen(tuned.config, how, tuned, changed)
