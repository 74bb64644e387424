"""Global explanations: SHAP values in score points equal LightGBM's own pred_contrib scaled by hand; PNGs logged."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import mlflow
import numpy as np

from thinfile.config import Settings
from thinfile.features.schema import DIMENSIONS
from thinfile.training.global_explain import (
    log_global_explanations,
    shap_explanation,
    top_features,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.split import Split
from thinfile.training.tracking import experiment_id


def _lightgbm_points(scorer: Scorer, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature score points and base score by hand from LightGBM's own TreeSHAP (pred_contrib)."""
    contrib = scorer.booster.predict(X, pred_contrib=True)
    a, b = scorer.calibration
    points_per_logit = scorer.scale.pdo / math.log(2)
    even_odds_score = scorer.scale.base_score - points_per_logit * math.log(scorer.scale.base_odds)
    return -points_per_logit * a * contrib[:, :-1], even_odds_score - points_per_logit * (a * contrib[:, -1] + b)


def test_shap_values_are_lightgbm_contributions_in_score_points(champion: Scorer, split: Split) -> None:
    rows = split.test.head(300)
    X = champion.schema.to_matrix(rows)
    points, base = _lightgbm_points(champion, X)

    values, _ = shap_explanation(champion, rows)

    np.testing.assert_allclose(values.values, points, atol=1e-6)
    np.testing.assert_allclose(values.base_values, base, atol=1e-6)
    np.testing.assert_array_equal(values.data, X)
    assert values.feature_names == champion.schema.feature_names


def test_dimension_subscores_sum_the_points_of_their_features(champion: Scorer, split: Split) -> None:
    rows = split.test.head(300)
    points, _ = _lightgbm_points(champion, champion.schema.to_matrix(rows))

    _, dims = shap_explanation(champion, rows)

    dimension_of = champion.schema.dimension_of
    for k, dim in enumerate(DIMENSIONS):
        cols = [j for j, name in enumerate(champion.schema.feature_names) if dimension_of[name] == dim]
        np.testing.assert_allclose(dims[:, k], points[:, cols].sum(axis=1), atol=1e-6)


def test_top_features_rank_by_mean_absolute_points() -> None:
    points = np.array([[1.0, -5.0, 0.1], [-1.0, 5.0, 0.2]])
    assert top_features(points, ["a", "b", "c"], 2) == ["b", "a"]


def test_plots_written_and_logged_without_pyplot_figures(
    champion: Scorer, split: Split, fast: Settings, tmp_path: Path
) -> None:
    open_before = plt.get_fignums()
    with mlflow.start_run(experiment_id=experiment_id()) as run:
        pass
    paths = log_global_explanations(champion, split.test, run.info.run_id, tmp_path, fast.explanations)
    assert plt.get_fignums() == open_before
    names = {p.name for p in paths}
    assert {
        "shap_beeswarm.png",
        "points_by_dimension.png",
        "points_by_dimension_by_residence.png",
        "feature_points_by_residence.png",
    } <= names
    assert sum(n.startswith("dependence_") for n in names) == fast.explanations.dependence_plots
    for p in paths:
        assert mpimg.imread(p)[..., :3].std() > 0.02
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "explanations")}
    assert logged == {f"explanations/{n}" for n in names}
