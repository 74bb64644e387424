import numpy as np
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.schema import DIMENSIONS, Dimension
from thinfile.training.champion import fit_champion
from thinfile.training.scorer import scale as scoring
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.settings import TrainConfig


@pytest.fixture(scope="module")
def scorer(schema):
    data = generate_frame(schema, rows=24_000, seed=31)
    return fit_champion(data[:18_000], data[18_000:], schema, TrainConfig(max_rounds=120))


@pytest.fixture(scope="module")
def rows(schema):
    return schema.to_matrix(generate_frame(schema, rows=3_000, seed=32))


def lightgbm_points(scorer, X):
    """Each feature's points by hand from LightGBM's own pred_contrib: -(PDO / ln 2) x calibrated log-odds."""
    slope, _ = scorer.calibration
    return -scorer.scale.pdo / np.log(2) * slope * scorer.booster.predict(X, pred_contrib=True)[:, :-1]


def test_base_plus_feature_points_equal_the_score_of_the_boosters_own_prediction(scorer, rows):
    slope, intercept = scorer.calibration
    margin = slope * scorer.booster.predict(rows, raw_score=True) + intercept
    s = scorer.scale
    by_hand = s.base_score + s.pdo / np.log(2) * (-margin - np.log(s.base_odds))
    e = scorer.explain(rows)
    assert np.abs(e.base_points + e.points.sum(axis=1) - by_hand).max() < 1e-6


def test_dimension_sub_scores_add_up_to_the_feature_points(scorer, rows):
    e = scorer.explain(rows)
    assert np.allclose(e.dimensions.sum(axis=1), e.points.sum(axis=1), atol=1e-9)
    assert e.dimensions.shape == (len(rows), len(DIMENSIONS))


def test_score_is_the_scale_applied_to_the_calibrated_pd(scorer, rows):
    e = scorer.explain(rows)
    assert np.allclose(e.score, scoring.pd_to_score(scorer.predict_pd(rows), scorer.scale), atol=1e-6)
    assert e.score.min() >= 350 and e.score.max() <= 950


def test_a_score_shown_at_the_cut_off_is_decided_as_shown(scorer, rows):
    unclipped = scorer.explain(rows).score_unclipped
    rounds_up = (unclipped > 360) & (unclipped < 940) & (np.round(unclipped, 2) - unclipped > 1e-4)
    k = int(np.flatnonzero(rounds_up)[0])
    cutoff = round(float(unclipped[k]), 2)  # the score a person is shown, above the unrounded one
    e = scorer.with_cutoffs(approve=cutoff, refer=cutoff - 10).explain(rows)
    shown = [r["score"] for r in e.records()]
    assert shown[k] == cutoff and e.decision[k] == "approve"
    assert all((s >= cutoff) == (d == "approve") for s, d in zip(shown, e.decision, strict=True))
    assert np.abs(np.array(shown) - np.clip(unclipped, 350, 950)).max() <= 0.005 + 1e-9


def test_precomputed_treeshap_equals_lightgbm_pred_contrib(scorer, rows):
    assert np.isnan(rows).mean() > 0.3
    fast = scorer.contributions(rows)
    reference = scorer.contributions(rows, exact_engine="lightgbm")
    assert np.abs(fast - reference).max() < 1e-9


def test_precomputed_treeshap_equals_pred_contrib_on_large_inputs_run_in_parallel(scorer, schema):
    many = schema.to_matrix(generate_frame(schema, rows=12_000, seed=33))
    assert np.abs(scorer.contributions(many) - scorer.contributions(many, exact_engine="lightgbm")).max() < 1e-9


def test_reasons_are_the_features_that_lowered_the_score_most_in_order(scorer, rows):
    e = scorer.explain(rows)
    for i in range(200):
        lost = [r["points_lost"] for r in e.reasons(i)]
        assert lost == sorted(lost, reverse=True) and all(p > 0 for p in lost)
        expected = np.sort(-e.points[i][e.points[i] < 0])[::-1][:4]
        assert np.allclose(lost, expected, atol=1e-3)


def test_reason_codes_are_the_features_lightgbm_says_cost_the_most_points(scorer, rows):
    e = scorer.explain(rows)
    points = lightgbm_points(scorer, rows)
    most_lost = np.sort(np.minimum(points, 0.0), axis=1)[:, : e.reason_index.shape[1]]
    given = np.where(e.reason_index >= 0, np.take_along_axis(points, np.maximum(e.reason_index, 0), axis=1), 0.0)
    assert (e.reason_index >= 0).sum() > len(rows)
    assert np.abs(given - most_lost).max() < 1e-6


@pytest.mark.parametrize("direction", [1, -1])
def test_a_monotone_feature_never_costs_more_points_for_a_better_value(scorer, schema, rows, direction):
    for j, f in enumerate(schema.features):
        if f.monotone != direction:
            continue
        present = rows[~np.isnan(rows[:, j])][:300]
        lo, hi = np.quantile(present[:, j], [0.2, 0.8])
        if lo == hi:
            continue
        worse, better = present.copy(), present.copy()
        worse[:, j], better[:, j] = (lo, hi) if direction > 0 else (hi, lo)
        gain = scorer.explain(better).points[:, j] - scorer.explain(worse).points[:, j]
        assert gain.min() >= -1e-9, f.name


def test_moving_to_the_hinted_value_stops_the_feature_costing_points(scorer, schema, rows):
    e = scorer.explain(rows)
    checked = set()
    for i in range(len(rows)):
        for reason in e.reasons(i):
            if not reason["hint"] or "stop this costing points" not in reason["hint"]:
                continue
            j = schema.feature_names.index(reason["code"])
            target = float(
                reason["hint"].split(" at least " if " at least " in reason["hint"] else " at most ")[1].split()[0]
            )
            moved = rows[i : i + 1].copy()
            moved[0, j] = target
            assert scorer.explain(moved).points[0, j] >= -1e-6, reason
            checked.add(reason["code"])
    assert len(checked) >= 3


def test_hints_are_given_only_for_actionable_features_with_a_value(scorer, schema, rows):
    e = scorer.explain(rows)
    for i in range(len(rows)):
        for reason in e.reasons(i):
            f = schema.by_name[reason["code"]]
            if reason["hint"]:
                assert f.actionable and f.monotone != 0 and reason["value"] is not None


def test_records_carry_text_value_points_and_hint(scorer, rows, schema):
    record = scorer.explain(rows[:50]).records()
    with_reasons = next(r for r in record if r["reasons"])
    reason = with_reasons["reasons"][0]
    assert set(reason) == {"code", "text", "value", "points_lost", "hint"}
    f = schema.by_name[reason["code"]]
    assert reason["text"] == (f.reason if reason["value"] is not None else schema.reason_when_missing(f))


def test_a_missing_value_that_costs_points_is_explained_as_missing(scorer, rows, schema):
    e = scorer.explain(rows)
    table = e.to_frame()
    for i in range(len(rows)):
        for k, reason in enumerate(e.reasons(i)):
            assert table.loc[i, f"reason_{k + 1}_text"] == reason["text"]
            if reason["value"] is None:
                assert reason["text"].startswith("No record of:")
                return
    raise AssertionError("no missing value among the reasons of 3,000 mostly thin-file rows")


def test_records_carry_every_dimensions_points_summed_from_lightgbm_contributions(scorer, rows, schema):
    records = scorer.explain(rows[:50]).records()
    points = lightgbm_points(scorer, rows[:50])
    for i, record in enumerate(records):
        by_hand = {
            d.value: sum(points[i, j] for j, f in enumerate(schema.features) if f.dimension is d) for d in Dimension
        }
        assert record["dimensions"] == pytest.approx(by_hand, abs=1e-4)


def test_saved_and_reloaded_scorer_gives_identical_scores(scorer, rows, tmp_path):
    again = Scorer.load(scorer.save(tmp_path / "s"))
    assert np.array_equal(again.explain(rows).score, scorer.explain(rows).score)


def test_score_scale_anchors(rows):
    scale = ScoreScale()
    assert scoring.pd_to_score(1 / 21, scale) == pytest.approx(650)
    assert scoring.pd_to_score(1 / 41, scale) == pytest.approx(650 + 50 * np.log2(40 / 20))
    assert list(scoring.bands(np.array([350, 549.9, 550, 600, 650, 700, 950]), scale)) == [
        "poor",
        "poor",
        "fair",
        "good",
        "very good",
        "excellent",
        "excellent",
    ]
