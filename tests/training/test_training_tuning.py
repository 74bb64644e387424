from thinfile.config import PipelineConfig, Settings, TrainConfig
from thinfile.training.split import split_frame
from thinfile.training.tuning import tune_config


def test_search_returns_a_config_within_the_searched_space_and_no_worse_than_its_trials(population, schema):
    config = TrainConfig(tune=True, tune_trials=3, max_rounds=60)
    split = split_frame(population, schema, config)
    tuned, loss = tune_config(split.train, split.valid, schema, config)
    assert 4 <= tuned.num_leaves <= 32 and 2 <= tuned.max_depth <= 6
    assert tuned.seed == config.seed and tuned.max_rounds == 60
    assert 0 < loss < 0.3


def test_train_with_tune_logs_the_searched_parameters(population, schema):
    from thinfile.training.pipeline import train_frame

    settings = Settings(train=TrainConfig(tune=True, tune_trials=2, max_rounds=40),
                        pipeline=PipelineConfig(baselines=False, global_explanations=False, timing_rows=500,
                                                explain_timing_rows=200, plot_rows=2_000))
    messages = []
    result = train_frame(population, schema, settings, progress=messages.append)
    assert any(m.startswith("best of the search") for m in messages)
    assert result.champion.metrics["auc"] > 0.7
