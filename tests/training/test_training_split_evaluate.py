"""Split and evaluation: seeded, stratified or out-of-time; metrics equal scikit-learn's and share names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from thinfile.features.schema import Schema, parse_schema
from thinfile.training.evaluate import (
    calibration_table,
    evaluate,
    expected_calibration_error,
    metric_token,
)
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale, pd_to_score
from thinfile.training.settings import TrainConfig
from thinfile.training.split import SplitError, split_frame


def test_stratified_split_is_seeded_disjoint_and_keeps_the_default_rate(
    population: pd.DataFrame, schema: Schema
) -> None:
    a = split_frame(population, schema, TrainConfig(seed=3))
    b = split_frame(population, schema, TrainConfig(seed=3))
    c = split_frame(population, schema, TrainConfig(seed=4))
    ids = [set(part[schema.id_column]) for part in (a.train, a.valid, a.test)]
    assert sum(map(len, ids)) == len(population) and len(ids[0] | ids[1] | ids[2]) == len(population)
    assert a.test[schema.id_column].tolist() == b.test[schema.id_column].tolist()
    assert a.test[schema.id_column].tolist() != c.test[schema.id_column].tolist()
    rate = population[schema.target].mean()
    for part in (a.train, a.valid, a.test):
        assert part[schema.target].mean() == pytest.approx(rate, abs=0.002)
    assert a.method == "stratified" and len(a.test) == pytest.approx(0.2 * len(population), abs=1)


def test_out_of_time_split_trains_on_the_oldest_and_tests_on_the_newest(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(2_000, seed=1)
    split = split_frame(table, foreign_schema, TrainConfig())
    assert split.method == "out_of_time"
    assert split.train["applied_on"].max() <= split.valid["applied_on"].min()
    assert split.valid["applied_on"].max() <= split.test["applied_on"].min()
    assert (len(split.train), len(split.valid), len(split.test)) == (1_200, 400, 400)


def test_out_of_time_split_names_unreadable_dates(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(500, seed=1).astype({"applied_on": object})
    table.loc[[3, 7], "applied_on"] = "not a date"
    with pytest.raises(SplitError, match="2 rows have no date .*id L000003: 'not a date', id L000007: 'not a date'"):
        split_frame(table, foreign_schema, TrainConfig())


def test_split_refuses_sizes_that_leave_nothing_to_train(population: pd.DataFrame, schema: Schema) -> None:
    with pytest.raises(SplitError, match="leaves no rows to train on"):
        split_frame(population, schema, TrainConfig(test_size=0.5, valid_size=0.5))


def test_evaluation_agrees_with_scikit_learn(population: pd.DataFrame, schema: Schema) -> None:
    p = population[schema.oracle_column].to_numpy()
    y = population[schema.target].to_numpy()
    ev = evaluate(p, population, schema, ScoreScale())
    assert ev.metrics["auc"] == pytest.approx(roc_auc_score(y, p))
    assert ev.metrics["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1)
    assert ev.metrics["brier"] == pytest.approx(brier_score_loss(y, p))
    assert ev.metrics["log_loss"] == pytest.approx(log_loss(y, p))
    assert ev.metrics["oracle_gap"] == pytest.approx(0.0)
    rural = population["residence"].astype(str).to_numpy() == "rural"
    assert ev.metrics["auc_residence_rural"] == pytest.approx(roc_auc_score(y[rural], p[rural]))
    assert {"auc_age_band_18_24", "auc_age_band_55plus", "auc_gender_female", "auc_thin_file"} <= set(ev.metrics)


def test_true_pd_is_calibrated_and_a_shifted_pd_is_not(population: pd.DataFrame, schema: Schema) -> None:
    p = population[schema.oracle_column].to_numpy()
    y = population[schema.target].to_numpy()
    score = np.zeros_like(p)
    assert expected_calibration_error(calibration_table(y, p, score, 10)) < 0.01
    assert expected_calibration_error(calibration_table(y, np.clip(p * 1.5, 0, 1), score, 10)) > 0.03


def test_approval_and_bad_rate_at_each_band_cutoff(population: pd.DataFrame, schema: Schema) -> None:
    p = population[schema.oracle_column].to_numpy()
    ev = evaluate(p, population, schema, ScoreScale())
    rates = [ev.metrics[f"approval_rate_at_{c}"] for c in (550, 600, 650, 700)]
    assert rates == sorted(rates, reverse=True) and 0 < rates[-1] < rates[0] < 1
    bads = [ev.metrics[f"bad_rate_at_{c}"] for c in (550, 600, 650, 700)]
    assert bads == sorted(bads, reverse=True)
    custom = evaluate(p, population, schema, ScoreScale(), cutoffs=[620.5])
    assert "approval_rate_at_620_5" in custom.metrics and "approval_rate_at_600" not in custom.metrics


def test_a_group_with_too_few_defaults_or_repayments_gets_no_auc(population: pd.DataFrame, schema: Schema) -> None:
    table = population.head(4_000).copy()
    y = table[schema.target].to_numpy()
    rural = table["residence"].astype(str).to_numpy() == "rural"
    keep_bads = np.flatnonzero(rural & (y == 1))[:3]
    drop = np.flatnonzero(rural & (y == 1))[3:]
    table = table.drop(index=table.index[drop]).reset_index(drop=True)
    p = table[schema.oracle_column].to_numpy()
    assert len(keep_bads) == 3
    ev = evaluate(p, table, schema, ScoreScale(), group_min_class_rows=4)
    assert "auc_residence_rural" not in ev.metrics and "auc_residence_urban" in ev.metrics
    three = evaluate(p, table, schema, ScoreScale(), group_min_class_rows=3)
    rural = table["residence"].astype(str).to_numpy() == "rural"
    y = table[schema.target].to_numpy()
    assert three.metrics["auc_residence_rural"] == pytest.approx(roc_auc_score(y[rural], p[rural]))


def test_approval_and_bad_rate_at_the_lending_policys_cutoff(population: pd.DataFrame, schema: Schema) -> None:
    p = population[schema.oracle_column].to_numpy()
    y = population[schema.target].to_numpy()
    scale = ScoreScale()
    ev = evaluate(p, population, schema, scale, policy=Cutoffs(approve=612.25, refer=562.25))
    approved = pd_to_score(p, scale) >= 612.25
    assert ev.metrics["policy_cutoff"] == 612.25
    assert ev.metrics["approval_rate_at_policy"] == pytest.approx(approved.mean())
    assert ev.metrics["bad_rate_at_policy"] == pytest.approx(y[approved].mean())
    assert "approval_rate_at_650" in ev.metrics and "approval_rate_at_612_25" not in ev.metrics


def test_group_names_become_valid_metric_names() -> None:
    assert metric_token("55+") == "55plus"
    assert metric_token("18-24") == "18_24"
    assert metric_token("very good") == "very_good"


def test_chinese_group_names_become_distinct_metric_names_mlflow_accepts() -> None:
    from mlflow.utils.validation import _validate_metric_name

    groups = ["男", "女", "农村", "城市", "城市 & 19-29"]
    names = [f"auc_性别_{metric_token(g)}" for g in groups]
    assert len(set(names)) == len(groups)
    for name in names:
        _validate_metric_name(name)


def test_groups_whose_names_differ_only_in_punctuation_keep_one_auc_each(
    population: pd.DataFrame, schema: Schema
) -> None:
    spec = schema.model_dump(mode="json", exclude_none=True)
    residence = next(p for p in spec["protected"] if p["name"] == "residence")
    residence["labels"] = {"rural": "single-never", "urban": "single never"}
    named = parse_schema(spec, "punctuation test")
    p = population[schema.oracle_column].to_numpy()
    y = population[schema.target].to_numpy()
    rural = population["residence"].astype(str).to_numpy() == "rural"
    metrics = evaluate(p, population, named, ScoreScale()).metrics
    assert metrics["auc_residence_single_never"] == pytest.approx(roc_auc_score(y[~rural], p[~rural]))
    assert metrics["auc_residence_single_never_2"] == pytest.approx(roc_auc_score(y[rural], p[rural]))


def test_platt_never_turns_the_ranking_upside_down() -> None:
    import numpy as np

    from thinfile.training.champion import platt_if_it_helps

    rng = np.random.default_rng(0)
    margin = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(margin))).astype(int)  # outcomes run against the margin
    a, _ = platt_if_it_helps(margin, y, seed=1)
    assert a > 0


def test_platt_is_left_out_when_the_half_it_would_be_fitted_on_holds_no_default() -> None:
    import numpy as np

    from thinfile.training.champion import platt_if_it_helps

    margin = np.random.default_rng(0).normal(size=60)
    assert platt_if_it_helps(margin, np.zeros(60, dtype=int), seed=1) == (1.0, 0.0)
    for seed in range(20):  # one default: on some seeds it falls in the half not fitted on
        y = np.zeros(60, dtype=int)
        y[7] = 1
        a, _ = platt_if_it_helps(margin, y, seed=seed)
        assert a > 0
