"""An optional small hyper-parameter search for the champion (optuna, TPE), scored on validation log loss."""

from __future__ import annotations

from dataclasses import dataclass

from thinfile.training.champion import TrainConfig, train_booster
from thinfile.training.split import Split

MISSING_OPTUNA = "the hyper-parameter search needs optuna: pip install 'thinfile[tune]'"


@dataclass(frozen=True)
class Tuned:
    """The best config of a search, its validation log loss, and every trial's loss."""

    config: TrainConfig
    loss: float
    trial_losses: list[float]


def tune_config(split: Split, config: TrainConfig) -> Tuned:
    """Search tree shape, learning rate and regularisation; return the best config and its validation log loss.

    Trees stay within 64 leaves so thinfile's fast exact TreeSHAP keeps serving the reason codes.
    """
    try:
        import optuna
    except ModuleNotFoundError:
        raise ModuleNotFoundError(MISSING_OPTUNA) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    schema = split.schema
    X, Xv, y, yv = split.X_train, split.X_valid, split.y("train"), split.y("valid")

    def candidate(trial: optuna.Trial) -> TrainConfig:
        return config.model_copy(
            update={
                "num_leaves": trial.suggest_int("num_leaves", 4, 32),
                "max_depth": trial.suggest_int("max_depth", 2, 6),
                "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
                "min_child_samples": trial.suggest_int("min_child_samples", 20, 500, log=True),
                "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
            }
        )

    def objective(trial: optuna.Trial) -> float:
        booster = train_booster(schema, X, y, Xv, yv, candidate(trial))
        return float(booster.best_score["valid_0"]["binary_logloss"])

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.seed))
    study.optimize(objective, n_trials=config.tune_trials)
    losses = [float(trial.value) for trial in study.trials if trial.value is not None]
    return Tuned(config.model_copy(update=study.best_params), float(study.best_value), losses)
