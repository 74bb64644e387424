import pytest
from sklearn.metrics import log_loss

from thinfile.config import Settings
from thinfile.training.champion import TrainConfig, train_booster
from thinfile.training.pipeline import PipelineConfig
from thinfile.training.runlog import EvaluationConfig
from thinfile.training.split import split_frame
from thinfile.training.tuning import tune_config


def test_search_returns_the_best_of_its_trials_and_that_config_reproduces_its_loss(population, schema):
    config = TrainConfig(tune=True, tune_trials=3, max_rounds=60)
    split = split_frame(population, schema, config)
    tuned = tune_config(split, config)
    assert len(tuned.trial_losses) == 3 and tuned.loss == min(tuned.trial_losses)
    assert 4 <= tuned.config.num_leaves <= 32 and 2 <= tuned.config.max_depth <= 6
    assert tuned.config.seed == config.seed and tuned.config.max_rounds == 60
    booster = train_booster(schema, split.X_train, split.y("train"), split.X_valid, split.y("valid"), tuned.config)
    refit = booster.predict(split.X_valid, num_iteration=booster.best_iteration)
    assert log_loss(split.y("valid"), refit) == pytest.approx(tuned.loss, rel=1e-9)


def test_train_with_tune_logs_the_searched_parameters(population, schema):
    from thinfile.training.pipeline import train_frame

    settings = Settings(
        train=TrainConfig(tune=True, tune_trials=2, max_rounds=40),
        pipeline=PipelineConfig(baselines=False, global_explanations=False),
        evaluation=EvaluationConfig(timing_rows=500, explain_timing_rows=200, plot_rows=2_000),
    )
    messages = []
    result = train_frame(population, schema, settings, progress=messages.append)
    assert any(m.startswith("best of the search") for m in messages)
    assert result.champion.metrics["auc"] > 0.7
