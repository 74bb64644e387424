"""thinfile's TreeSHAP tables against LightGBM's own pred_contrib on boosters Hypothesis generates.

The boosters cover what a lender's table can make LightGBM build: numerical and categorical splits,
NaN, zeros, values within LightGBM's zero threshold (the float 1e-35f), zero_as_missing,
use_missing=False, monotone constraints, 2-64 leaves, depth -1..8 and single-leaf trees. The rows
explained add what a table can hold beyond the training data: negative and huge category codes,
infinities, -0.0 and both sides of the zero threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import expit

from thinfile.features.schema import parse_schema
from thinfile.training.scorer import scale as scoring
from thinfile.training.scorer import treeshap
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.treeshap import ExplainEngineConfig

ZERO = float(np.float32(1e-35))
TINY = [ZERO, -ZERO, np.nextafter(ZERO, 1.0), -np.nextafter(ZERO, 1.0), np.nextafter(ZERO, 0.0), 1e-35, -1e-35, 5e-36]
PROBES = [np.nan, 0.0, -0.0, *TINY, np.inf, -np.inf, -0.5, -0.99, -1.0, -3.0, 0.5, 1.0, 2.7, 1e10, 2.0**31, 2.0**31 - 1]
HYPOTHESIS = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Case:
    booster: lgb.Booster
    X: np.ndarray
    numeric: int
    levels: tuple[int, ...]

    def scale(self) -> float:
        return max(1.0, float(np.abs(self.booster.predict(self.X, raw_score=True)).max()))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A small table, a LightGBM booster trained on it with drawn parameters, and rows to explain."""
    seed = draw(st.integers(0, 2**32 - 1))
    numeric = draw(st.integers(1, 4))
    levels = tuple(draw(st.lists(st.integers(2, 40), max_size=2)))
    rows = draw(st.integers(150, 600))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, numeric)) * draw(st.sampled_from([1.0, 1e-34, 100.0]))
    for share, values in ((0.2, [0.0]), (0.1, [np.nan]), (0.05, TINY)):
        hit = rng.random(X.shape) < share * draw(st.sampled_from([0.0, 1.0, 2.0]))
        X[hit] = rng.choice(values, size=int(hit.sum()))
    C = np.column_stack([rng.integers(0, k, rows) for k in levels]).astype(float) if levels else np.empty((rows, 0))
    C[rng.random(C.shape) < draw(st.sampled_from([0.0, 0.15]))] = np.nan
    X = np.c_[X, C]
    signal = np.nan_to_num(X[:, 0]) / max(np.nanstd(X[:, 0]), 1e-300)
    if levels:
        signal += np.nan_to_num(C[:, 0]) % 3 - 1
    if draw(st.booleans()):  # a missing value that tells: splits of NaN against every number (threshold inf)
        X[rng.random(rows) < 0.3, numeric - 1] = np.nan
        signal += 2.0 * np.isnan(X[:, numeric - 1])
    y = (rng.random(rows) < expit(signal)).astype(int)
    params = {
        "objective": "binary",
        "verbosity": -1,
        "num_threads": 1,
        "deterministic": True,
        "seed": seed % 10_000,
        "num_leaves": draw(st.integers(2, 64)),
        "max_depth": draw(st.integers(-1, 8)),
        "min_data_in_leaf": draw(st.integers(1, 20)),
        "min_data_per_group": draw(st.integers(1, 10)),
        "max_cat_to_onehot": draw(st.integers(1, 8)),
        "cat_smooth": 1.0,
        "zero_as_missing": draw(st.booleans()),
        "use_missing": draw(st.booleans()),
        "monotone_constraints": [draw(st.integers(-1, 1)) for _ in range(numeric)] + [0] * len(levels),
    }
    cats = list(range(numeric, numeric + len(levels)))
    rounds = draw(st.integers(1, 8))
    init = None
    if draw(st.integers(0, 3)) == 0:  # a first tree that cannot split: a single leaf
        stump = {**params, "min_gain_to_split": 1e9}
        init = lgb.train(stump, lgb.Dataset(X, y, categorical_feature=cats, free_raw_data=False), 1)
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=cats), rounds, init_model=init)
    mixed = X[rng.integers(0, rows, 200)]
    hit = rng.random(mixed.shape) < 0.3
    mixed[hit] = rng.choice(PROBES, size=int(hit.sum()))
    each = X[rng.integers(0, rows, len(PROBES) * X.shape[1])]  # every probe value in every column
    each[np.arange(len(each)), np.repeat(np.arange(X.shape[1]), len(PROBES))] = np.tile(PROBES, X.shape[1])
    return Case(booster, np.r_[X, mixed, each], numeric, levels)


def assert_equal_to_pred_contrib(case: Case, config: ExplainEngineConfig) -> treeshap.TreeTables:
    tables = treeshap.build_tables(case.booster, config)
    ours = treeshap.contributions(tables, case.X, booster=case.booster, config=config)
    theirs = case.booster.predict(case.X, pred_contrib=True)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * case.scale())
    return tables


@pytest.mark.slow
@HYPOTHESIS
@given(cases())
def test_tables_equal_pred_contrib_on_any_booster(case: Case) -> None:
    assert_equal_to_pred_contrib(case, ExplainEngineConfig())


@pytest.mark.slow
@HYPOTHESIS
@given(cases())
def test_per_leaf_tables_equal_pred_contrib_on_any_booster(case: Case) -> None:
    assert_equal_to_pred_contrib(case, ExplainEngineConfig(max_pattern_splits=0))


@pytest.mark.slow
@HYPOTHESIS
@given(cases(), st.integers(0, 3), st.integers(0, 2_000))
def test_trees_over_the_table_budget_are_explained_by_pred_contrib_exactly(
    case: Case, leaf_features: int, total: int
) -> None:
    config = ExplainEngineConfig(max_leaf_entries=max(1, 2**leaf_features * leaf_features), max_total_entries=total)
    tables = assert_equal_to_pred_contrib(case, config)
    assert tables.table_entries <= total


@pytest.mark.slow
@HYPOTHESIS
@given(cases(), st.sampled_from([10, 0]))
def test_table_margins_equal_the_boosters_raw_prediction_to_the_last_bit(case: Case, pattern_splits: int) -> None:
    tables = treeshap.build_tables(case.booster, ExplainEngineConfig(max_pattern_splits=pattern_splits))
    np.testing.assert_array_equal(treeshap.margins(tables, case.X), case.booster.predict(case.X, raw_score=True))


def schema_for(case: Case) -> dict:
    common = {"dimension": "behaviour", "reason": "generated input", "nullable": True}
    features = [{"name": f"x{j}", "type": "float", "min": -1e3, "max": 1e3, **common} for j in range(case.numeric)]
    features += [
        {"name": f"c{j}", "type": "category", "categories": [str(v) for v in range(k)], **common}
        for j, k in enumerate(case.levels)
    ]
    return {"name": "generated", "id_column": "id", "target": "bad", "features": features}


@pytest.mark.slow
@HYPOTHESIS
@given(cases(), st.floats(0.5, 1.5), st.floats(-1.0, 1.0))
def test_explained_scores_equal_the_boosters_calibrated_prediction(case: Case, slope: float, intercept: float) -> None:
    scorer = Scorer(schema=parse_schema(schema_for(case)), booster=case.booster, calibration=(slope, intercept))
    explained = scorer.explain(case.X)
    margin = slope * case.booster.predict(case.X, raw_score=True) + intercept
    np.testing.assert_allclose(explained.margin, margin, rtol=0, atol=1e-9 * case.scale())
    np.testing.assert_allclose(explained.score, scoring.pd_to_score(expit(margin), scorer.scale), rtol=0, atol=1e-6)


def test_nan_in_a_categorical_split_goes_right_whatever_the_missing_type() -> None:
    """Issue 9's reproducer: a gap-free categorical column, then a row where it is missing."""
    rng = np.random.default_rng(0)
    c = rng.integers(0, 4, 4000).astype(float)
    X = np.c_[rng.standard_normal(4000), c]
    y = (rng.random(4000) < np.where(c == 0, 0.7, 0.2)).astype(int)
    params = {"objective": "binary", "verbosity": -1, "num_leaves": 4, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(X, y, categorical_feature=[1]), 5)
    row = np.array([[0.3, np.nan]])
    ours = treeshap.contributions(treeshap.build_tables(booster), row)
    np.testing.assert_allclose(ours, booster.predict(row, pred_contrib=True), rtol=0, atol=1e-12)
    assert ours[0, 1] == pytest.approx(-0.2197, abs=1e-4)


@pytest.fixture(scope="module")
def deep_booster() -> lgb.Booster:
    """Unbounded depth, 64 leaves, 12 features: paths with many distinct features."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3000, 12))
    y = (rng.random(3000) < expit(X @ rng.standard_normal(12) + np.sin(3 * X[:, 0]))).astype(int)
    params = {
        "objective": "binary",
        "verbosity": -1,
        "num_leaves": 64,
        "max_depth": -1,
        "min_data_in_leaf": 5,
        "num_threads": 1,
    }
    return lgb.train(params, lgb.Dataset(X, y), 12)


def test_a_booster_partly_over_the_budget_is_explained_by_both_engines_and_says_so(deep_booster) -> None:
    X = np.random.default_rng(6).standard_normal((300, 12))
    config = ExplainEngineConfig(max_leaf_entries=2**10 * 10, max_total_entries=40_000, max_lightgbm_runs=100)
    tables = treeshap.build_tables(deep_booster, config)
    assert 0 < tables.lightgbm_trees < tables.n_trees
    over = tables.lightgbm_trees
    assert tables.note == f"{over} of 12 trees explained by LightGBM's pred_contrib (over the table budget)"
    ours = treeshap.contributions(tables, X, booster=deep_booster, config=config)
    np.testing.assert_allclose(ours, deep_booster.predict(X, pred_contrib=True), rtol=0, atol=1e-9)


def test_over_budget_trees_in_many_runs_send_the_whole_model_to_pred_contrib(deep_booster) -> None:
    config = ExplainEngineConfig(max_total_entries=0, max_lightgbm_runs=0)
    tables = treeshap.build_tables(deep_booster, config)
    assert tables.whole_model_by_lightgbm and tables.table_entries == 0
    assert tables.note.startswith("all 12 trees explained by LightGBM's pred_contrib")
    X = np.random.default_rng(7).standard_normal((50, 12))
    ours = treeshap.contributions(tables, X, booster=deep_booster, config=config)
    np.testing.assert_allclose(ours, deep_booster.predict(X, pred_contrib=True), rtol=0, atol=1e-12)


def test_contributions_refuse_to_leave_out_over_budget_trees_without_the_booster(deep_booster) -> None:
    tables = treeshap.build_tables(deep_booster, ExplainEngineConfig(max_total_entries=0))
    with pytest.raises(ValueError, match="pass the booster"):
        treeshap.contributions(tables, np.zeros((1, 12)))


def test_margins_refuse_a_model_with_trees_left_to_lightgbm(deep_booster) -> None:
    tables = treeshap.build_tables(deep_booster, ExplainEngineConfig(max_leaf_entries=1))
    with pytest.raises(ValueError, match="predict with the booster"):
        treeshap.margins(tables, np.zeros((1, 12)))


@pytest.mark.parametrize(
    "engine",
    [ExplainEngineConfig(predict_rows=0), ExplainEngineConfig(predict_rows=0, max_leaf_entries=1)],
    ids=["tables", "over-budget-lightgbm"],
)
def test_the_scorers_pd_is_the_calibrated_lightgbm_prediction(deep_booster, engine: ExplainEngineConfig) -> None:
    schema = parse_schema(schema_for(Case(deep_booster, np.zeros((1, 12)), 12, ())))
    scorer = Scorer(schema=schema, booster=deep_booster, calibration=(0.9, -0.2), engine=engine)
    X = np.random.default_rng(8).standard_normal((7_000, 12))
    X[::5, 3] = np.nan
    np.testing.assert_array_equal(scorer.margin(X), 0.9 * deep_booster.predict(X, raw_score=True) - 0.2)
    np.testing.assert_allclose(scorer.predict_pd(X), expit(0.9 * deep_booster.predict(X, raw_score=True) - 0.2))


def test_a_small_prediction_does_not_build_the_tables(deep_booster) -> None:
    schema = parse_schema(schema_for(Case(deep_booster, np.zeros((1, 12)), 12, ())))
    scorer = Scorer(schema=schema, booster=deep_booster, engine=ExplainEngineConfig(predict_rows=1_000))
    scorer.margin(np.zeros((999, 12)))
    assert scorer._tables is None
    scorer.margin(np.zeros((1_000, 12)))
    assert scorer._tables is not None


def test_the_scorer_names_its_explanation_engine(deep_booster) -> None:
    schema = parse_schema(schema_for(Case(deep_booster, np.zeros((1, 12)), 12, ())))
    within = Scorer(schema=schema, booster=deep_booster)
    assert within.explain_engine == "all 12 trees explained by thinfile's precomputed TreeSHAP tables"
    over = Scorer(schema=schema, booster=deep_booster, engine=ExplainEngineConfig(max_leaf_entries=1))
    assert over.explain_engine == "12 of 12 trees explained by LightGBM's pred_contrib (over the table budget)"


def test_a_split_of_missing_against_every_number_sends_infinity_with_the_numbers() -> None:
    """A split whose threshold is +inf (the model text keeps it; the JSON dump writes 1e300)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(2000)
    x[rng.random(2000) < 0.3] = np.nan
    y = (rng.random(2000) < expit(-1 + 2 * np.isnan(x))).astype(int)
    booster = lgb.train({"objective": "binary", "verbosity": -1, "num_leaves": 2}, lgb.Dataset(x[:, None], y), 1)
    rows = np.array([[np.inf], [1e300], [1.0], [np.nan]])
    ours = treeshap.contributions(treeshap.build_tables(booster), rows)
    np.testing.assert_allclose(ours, booster.predict(rows, pred_contrib=True), rtol=0, atol=1e-12)
    assert ours[0, 0] == ours[2, 0] != ours[3, 0]
