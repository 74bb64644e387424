"""Global explanations: PNGs written from the scorer's exact points, and logged to a run."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import mlflow
import numpy as np

from thinfile.config import Settings
from thinfile.training.global_explain import (
    log_global_explanations,
    shap_explanation,
    top_features,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.split import Split
from thinfile.training.tracking import experiment_id


def test_shap_values_are_the_exact_score_points(champion: Scorer, split: Split) -> None:
    values, dims = shap_explanation(champion, split.test.head(300))
    ex = champion.explain(split.test.head(300))
    np.testing.assert_allclose(values.values.sum(axis=1) + values.base_values, ex.score_unclipped, atol=1e-6)
    np.testing.assert_allclose(dims.sum(axis=1), values.values.sum(axis=1), atol=1e-6)


def test_top_features_rank_by_mean_absolute_points() -> None:
    points = np.array([[1.0, -5.0, 0.1], [-1.0, 5.0, 0.2]])
    assert top_features(points, ["a", "b", "c"], 2) == ["b", "a"]


def test_plots_written_and_logged(champion: Scorer, split: Split, fast: Settings, tmp_path: Path) -> None:
    with mlflow.start_run(experiment_id=experiment_id()) as run:
        pass
    paths = log_global_explanations(champion, split.test, run.info.run_id, fast.explanations, out_dir=tmp_path)
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
