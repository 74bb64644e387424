"""Hints found by one search over the TreeSHAP tables say what LightGBM itself says when the feature is moved."""

from dataclasses import replace

import numpy as np
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.schema import parse_schema
from thinfile.training.champion import fit_champion
from thinfile.training.scorer.treeshap import ExplainEngineConfig
from thinfile.training.settings import TrainConfig

EPS = 1e-9


@pytest.fixture(scope="module")
def scorer(schema):
    data = generate_frame(schema, rows=40_000, seed=41)
    return fit_champion(data[:30_000], data[30_000:], schema, TrainConfig(max_rounds=150))


@pytest.fixture(scope="module")
def rows(schema):
    return schema.to_matrix(generate_frame(schema, rows=1_500, seed=42))


ENGLISH = {
    "stops_costing": "{name}: {bound} would stop this costing points",
    "wins_back": "{name}: {bound} would win back {points} points",
    "at_least": "at least {value}{unit}",
    "at_most": "at most {value}{unit}",
}
CHINESE = {
    "stops_costing": "{name}：{bound}即不再扣分",
    "wins_back": "{name}：{bound}可挽回{points}分",
    "at_least": "至少{value}{unit}",
    "at_most": "不超过{value}{unit}",
    "at_most_zero": "降为0{unit}",
}


def bound(f, value, words=ENGLISH) -> str:
    shown = f"{int(value)}" if f.type.value in ("int", "bool") else f"{value:.6g}"
    assert "e" not in shown  # the synthetic schema's values read the same in positional notation
    unit = (f" {f.unit}" if words is ENGLISH else f.unit) if f.unit else ""
    if f.monotone < 0 and value == 0 and "at_most_zero" in words:
        return words["at_most_zero"].format(unit=unit)
    return words["at_least" if f.monotone > 0 else "at_most"].format(value=shown, unit=unit)


def hints_by_lightgbm(scorer, X, reason_index, words=ENGLISH) -> list[list[str | None]]:
    """Each reason's hint as a hint claims it: the feature moved to each of the model's candidate values, its points
    from LightGBM's own pred_contrib (-(PDO / ln 2) x slope x contribution), the nearest value with no points lost
    found by bisection; else the points won back at the farthest value."""
    slope, _ = scorer.calibration
    to_points = -scorer.scale.pdo / np.log(2) * slope
    points = to_points * scorer.booster.predict(X, pred_contrib=True)[:, :-1]
    questions, moved = [], []
    for i, js in enumerate(reason_index):
        for k, j in enumerate(js):
            f = scorer.schema.features[j] if j >= 0 else None
            values = scorer.hint_values.get(j)
            if f is None or not f.actionable or f.monotone == 0 or values is None or np.isnan(X[i, j]):
                continue
            candidates = values[values > X[i, j]] if f.monotone > 0 else values[values < X[i, j]][::-1]
            if candidates.size:
                questions.append((i, k, j, candidates, sum(len(m) for m in moved)))
                block = np.repeat(X[i : i + 1], len(candidates), axis=0)
                block[:, j] = candidates
                moved.append(block)
    contrib = scorer.booster.predict(np.concatenate(moved), pred_contrib=True)
    out: list[list[str | None]] = [[None] * reason_index.shape[1] for _ in range(len(X))]
    for i, k, j, candidates, start in questions:
        at = to_points * contrib[start : start + len(candidates), j]
        f = scorer.schema.features[j]
        if at[-1] < -EPS:
            gain = at[-1] - points[i, j]
            if gain >= 1.0:
                text = bound(f, candidates[-1], words)
                out[i][k] = words["wins_back"].format(name=f.display_name, bound=text, points=f"{gain:.0f}")
            continue
        lo, hi = 0, len(candidates) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if at[mid] >= -EPS else (mid + 1, hi)
        out[i][k] = words["stops_costing"].format(name=f.display_name, bound=bound(f, candidates[lo], words))
    return out


def hints_in_records(explanation) -> list[list[str | None]]:
    top = explanation.reason_index.shape[1]
    return [[r["hint"] for r in rec["reasons"]] + [None] * (top - len(rec["reasons"])) for rec in explanation.records()]


def assert_same_hints(scorer, rows) -> None:
    explanation = scorer.explain(rows)
    ours = hints_in_records(explanation)
    expected = hints_by_lightgbm(scorer, rows, explanation.reason_index)
    texts = [h for row in expected for h in row if h]
    assert sum("stop this costing" in h for h in texts) > 200 and sum("win back" in h for h in texts) > 5
    assert ours == expected


def test_hints_from_one_table_search_are_lightgbms_bisection_with_the_feature_moved(scorer, rows):
    assert scorer.tables is not None and scorer.tables.lightgbm_trees == 0
    assert_same_hints(scorer, rows)


def test_hints_from_per_leaf_tables_are_lightgbms_bisection_with_the_feature_moved(scorer, rows):
    leaves = replace(scorer, engine=ExplainEngineConfig(max_pattern_splits=0))
    assert leaves.tables is not None and (leaves.tables.tree_kind == 2).all()
    assert_same_hints(leaves, rows[:600])


def test_hints_of_a_model_partly_over_the_table_budget_are_lightgbms_bisection(scorer, rows):
    partly = replace(scorer, engine=ExplainEngineConfig(max_total_entries=20_000, max_lightgbm_runs=100))
    assert partly.tables is not None and 0 < partly.tables.lightgbm_trees < partly.tables.n_trees
    assert_same_hints(partly, rows[:600])


def test_hints_read_in_the_wording_the_schema_gives(scorer, rows):
    schema = parse_schema({**scorer.schema.model_dump(mode="json", exclude_none=True), "wording": CHINESE})
    chinese = replace(scorer, schema=schema)
    explanation = chinese.explain(rows[:600])
    expected = hints_by_lightgbm(chinese, rows[:600], explanation.reason_index, CHINESE)
    assert any("即不再扣分" in h for row in expected for h in row if h)
    assert any("降为0" in h for row in expected for h in row if h)
    assert hints_in_records(explanation) == expected


def test_a_single_hint_is_the_hint_its_reason_carries(scorer, rows):
    explanation = scorer.explain(rows[:200])
    records = explanation.records()
    for i in range(200):
        for k, reason in enumerate(records[i]["reasons"]):
            assert explanation.hint(i, int(explanation.reason_index[i, k])) == reason["hint"]


def test_the_search_reads_the_contribution_lightgbm_gives_with_the_feature_at_the_farthest_value(scorer, rows):
    X = rows[:300]
    reasons = scorer.explain(X).reason_index
    slope, _ = scorer.calibration
    last, value, _ = scorer.contribution_search(X, reasons, -1.0, 0.0)
    asked = np.argwhere(~np.isnan(value))
    assert len(asked) > 300
    moved = X[asked[:, 0]].copy()
    features = reasons[asked[:, 0], asked[:, 1]]
    farthest = np.array([scorer.hint_values[j][-1 if scorer.schema.features[j].monotone > 0 else 0] for j in features])
    moved[np.arange(len(moved)), features] = farthest
    by_lightgbm = slope * scorer.booster.predict(moved, pred_contrib=True)[np.arange(len(moved)), features]
    np.testing.assert_allclose(last[asked[:, 0], asked[:, 1]], by_lightgbm, rtol=0, atol=1e-9)


def test_hint_texts_are_kept_once_per_feature_and_hint_value_however_many_rows_ask(scorer, rows):
    fresh = replace(scorer)
    explanation = fresh.explain(rows)
    explanation.records()
    kept = explanation.hint_texts
    assert kept is fresh.explain(rows[:1]).hint_texts  # one store per scorer, not per call
    assert 0 < len(kept) <= sum(len(v) for v in fresh.hint_values.values()) < len(rows)
    assert all(value in fresh.hint_values[j] for j, value in kept)
