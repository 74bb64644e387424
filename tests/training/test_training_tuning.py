"""Defaults fitted to the table, and the short cross-validated search that starts from them."""

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.model_selection import StratifiedKFold

from thinfile.config import Settings
from thinfile.features.schema import load_schema
from thinfile.training.champion import lgb_params
from thinfile.training.data import prepare
from thinfile.training.fairness_stage import fairness_stage
from thinfile.training.pipeline import train_frame
from thinfile.training.settings import EvaluationConfig, PipelineConfig, TrainConfig, tracking_uri, tree_depth
from thinfile.training.split import Split, split_frame
from thinfile.training.tuning import CV_PATIENCE, choose_config, tune_config

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def german():
    schema = load_schema(DATA / "german_credit.yaml")
    return prepare(pd.read_csv(DATA / "german_credit.csv"), schema).frame, schema


def test_fitted_defaults_at_the_synthetic_scale_are_the_fixed_defaults():
    fixed = TrainConfig()
    fitted = fixed.fitted_to(rows=120_000, events=9_750, valid_events=3_250, inputs=40)
    got = [fitted.min_child_samples, fitted.num_leaves, fitted.max_depth, fitted.early_stopping_rounds]
    assert got == [fixed.min_child_samples, fixed.num_leaves, fixed.max_depth, fixed.early_stopping_rounds]
    assert fitted.num_threads == 0


def test_fitted_defaults_on_a_600_row_table_follow_the_documented_rule():
    fitted = TrainConfig().fitted_to(rows=600, events=180, valid_events=60, inputs=20)
    # 0.1% of 600 -> floor 10; 180 / 40 = 4.5 -> 4 leaves, depth 2; 30 * sqrt(1000 / 60) = 122 -> cap 100
    assert (fitted.min_child_samples, fitted.num_leaves, fitted.max_depth) == (10, 4, 2)
    assert (fitted.early_stopping_rounds, fitted.num_threads) == (100, 1)


def test_values_set_explicitly_are_not_fitted():
    fitted = TrainConfig(min_child_samples=50, num_leaves=16).fitted_to(
        rows=600, events=180, valid_events=60, inputs=20
    )
    assert (fitted.min_child_samples, fitted.num_leaves, fitted.max_depth) == (50, 16, 3)


def test_fit_to_table_false_keeps_the_fixed_defaults():
    config = TrainConfig(fit_to_table=False)
    assert config.fitted_to(rows=600, events=180, valid_events=60, inputs=20) == config


@pytest.mark.parametrize(
    ("config", "rows", "searches"),
    [(TrainConfig(), 49_999, True), (TrainConfig(), 50_000, False), (TrainConfig(tune=False), 500, False)]
    + [(TrainConfig(tune=True), 1_000_000, True)],
)
def test_the_search_runs_by_default_only_under_50000_rows(config, rows, searches):
    assert config.searches(rows) is searches


def lightgbm_cv_loss(split: Split, config: TrainConfig) -> float:
    """LightGBM's own 5-fold CV log loss of `config` on train + valid, as the search scores a trial."""
    schema = split.schema
    X = np.vstack([split.X_train, split.X_valid])
    y = np.concatenate([split.y("train"), split.y("valid")])
    folds = list(StratifiedKFold(5, shuffle=True, random_state=config.seed).split(X, y))
    result = lgb.cv(
        lgb_params(schema, config),
        lgb.Dataset(X, y, categorical_feature=schema.categorical_indices),
        num_boost_round=config.max_rounds,
        folds=folds,
        callbacks=[lgb.early_stopping(min(config.early_stopping_rounds, CV_PATIENCE), verbose=False)],
    )
    return float(min(result["valid binary_logloss-mean"]))


def test_the_search_keeps_its_best_trial_which_lightgbm_cv_reproduces(german):
    frame, schema = german
    config = TrainConfig(tune_trials=4).fitted_to(600, 180, 60, inputs=20)
    split = split_frame(frame, schema, config)
    tuned = tune_config(split, config)
    assert len(tuned.trial_losses) == 4 and tuned.loss == min(tuned.trial_losses)
    assert lightgbm_cv_loss(split, tuned.config) == pytest.approx(tuned.loss, rel=1e-9)


def test_the_first_trial_is_the_fitted_defaults_so_the_search_never_ends_worse(german):
    frame, schema = german
    config = TrainConfig(tune_trials=3)
    split = split_frame(frame, schema, config)
    chosen = choose_config(split, config)
    assert chosen.tuned is not None
    y, yv = split.y("train"), split.y("valid")
    fitted = config.fitted_to(len(y), int(y.sum()), int(yv.sum()), inputs=len(split.schema.feature_names))
    assert chosen.tuned.start_loss == pytest.approx(lightgbm_cv_loss(split, fitted), rel=1e-9)
    assert chosen.tuned.loss <= chosen.tuned.start_loss
    assert chosen.config.num_leaves <= 64 and chosen.config.max_depth <= 6


def test_no_tune_keeps_the_fitted_defaults_and_says_so(german):
    frame, schema = german
    split = split_frame(frame, schema, TrainConfig())
    chosen = choose_config(split, TrainConfig(tune=False))
    assert chosen.tuned is None and chosen.how == "table-fitted defaults"
    assert chosen.fitted["min_child_samples"] == 10


@pytest.fixture(scope="module")
def trained_german(german, training_home):
    """German credit trained once (3 trials), in the training area's store."""
    frame, schema = german
    settings = Settings(
        train=TrainConfig(tune_trials=3),
        pipeline=PipelineConfig(baselines=False, global_explanations=False, register_champion=False),
        evaluation=EvaluationConfig(timing_rows=500, explain_timing_rows=200, plot_rows=1_000),
    )
    messages: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(training_home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        return train_frame(frame, schema, settings, progress=messages.append), settings, messages


@pytest.mark.slow
def test_train_logs_how_the_hyper_parameters_were_chosen(trained_german):
    result, _, messages = trained_german
    assert any(m.startswith("searching hyper-parameters: 3 trials") for m in messages)
    params = MlflowClient(tracking_uri()).get_run(result.champion.run_id).data.params
    assert params["train.chosen_by"].startswith("cross-validated search: 3 trials x 5 folds")
    assert float(params["train.search_cv_logloss"]) <= float(params["train.search_start_cv_logloss"])
    assert int(params["train.num_threads"]) == 1


@pytest.mark.slow
def test_the_fairness_challenger_is_fitted_with_the_champions_chosen_hyper_parameters(trained_german, tmp_path):
    result, settings, _ = trained_german
    stage = fairness_stage(result, settings, out_dir=tmp_path)
    client = MlflowClient(tracking_uri())
    champion = client.get_run(result.champion.run_id).data.params
    challenger = client.get_run(stage.run_ids["challenger"]).data.params
    shape = ("train.num_leaves", "train.max_depth", "train.min_child_samples", "train.learning_rate")
    assert {k: challenger[k] for k in shape} == {k: champion[k] for k in shape}


def test_the_search_has_fewer_trials_on_larger_tables():
    # 200,000 / 18,000 = 11 trials; 200,000 / 600 = 333 -> at most 20; 200,000 / 40,000 = 5 -> at least 8
    trials = [
        TrainConfig().fitted_to(rows=n, events=n // 10, valid_events=n // 30, inputs=20).tune_trials
        for n in (18_000, 600)
    ]
    assert trials + [TrainConfig().fitted_to(rows=40_000, events=4_000, valid_events=1_300, inputs=10).tune_trials] == [
        11,
        20,
        8,
    ]
    assert TrainConfig(tune_trials=3).fitted_to(rows=600, events=60, valid_events=20, inputs=20).tune_trials == 3


@pytest.mark.parametrize(
    ("rows", "inputs", "trials"),
    [(3_600, 205, 10), (3_000, 216, 12), (600, 300, 20), (18_000, 40, 11), (18_000, 60, 8)],
    ids=["the widened UCI sample", "the trial's 5,000 x 216", "small and wide", "40 inputs: rows alone", "wider"],
)
def test_a_wide_table_is_searched_with_fewer_trials(rows: int, inputs: int, trials: int) -> None:
    # 8,000,000 / (3,600 x 205) = 10.8; / (3,000 x 216) = 12.3; / (600 x 300) = 44 -> 20; / (18,000 x 40) = 11.1
    # beside 200,000 / 18,000 = 11.1; / (18,000 x 60) = 7.4 -> at least 8
    config = TrainConfig().fitted_to(rows=rows, events=rows // 5, valid_events=rows // 15, inputs=inputs)
    assert config.tune_trials == trials


def test_the_search_keeps_values_set_explicitly(german):
    frame, schema = german
    config = TrainConfig(learning_rate=0.1, max_depth=3, tune_trials=3)
    chosen = choose_config(split_frame(frame, schema, config), config)
    assert (chosen.config.learning_rate, chosen.config.max_depth) == (0.1, 3)
    assert chosen.how.endswith("(kept as set: learning_rate, max_depth)")


@pytest.mark.parametrize(("leaves", "depth"), [(2, 4), (4, 4), (8, 3), (3, -1)])
def test_the_depth_a_card_states_is_the_deepest_tree_lightgbm_grows(leaves: int, depth: int) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4_000, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=4_000) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": leaves, "max_depth": depth, "min_data_in_leaf": 5, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=20)

    def deepest(node: dict) -> int:
        return 0 if "leaf_index" in node else 1 + max(deepest(node["left_child"]), deepest(node["right_child"]))

    grown = max(deepest(t["tree_structure"]) for t in booster.dump_model()["tree_info"])
    assert grown == tree_depth(TrainConfig(num_leaves=leaves, max_depth=depth))
