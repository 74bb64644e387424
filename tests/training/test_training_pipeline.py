"""The whole pipeline on the shared population: honest metrics, three comparable runs, registry and aliases."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from thinfile.features.schema import FeatureType, Schema
from thinfile.features.validate import validate_table
from thinfile.training.pipeline import TrainResult
from thinfile.training.registry import EXAMPLE_ROWS, EXPERIMENT_NAME, StoreError, load_scorer, model_input_example
from thinfile.training.scorecard import ALL_INPUTS_FAMILY, BUREAU_FAMILY, load_baseline
from thinfile.training.settings import CHAMPION_ALIAS, FairnessLimits, tracking_uri
from thinfile.training.tracking import BUREAU_BASELINE_TAG, PromotionError, promote

pytestmark = pytest.mark.slow
SHARED = (
    "auc",
    "gini",
    "ks",
    "brier",
    "log_loss",
    "ece",
    "psi_score",
    "oracle_auc",
    "oracle_gap",
    "auc_thin_file",
    "auc_residence_rural",
    "auc_residence_urban",
    "approval_rate_at_600",
    "bad_rate_at_600",
    "predict_rows_per_s",
    "explain_rows_per_s",
)


MODEL_NAME = "thinfile-synthetic"  # the built-in schema's name names its registered model


def _client() -> MlflowClient:
    return MlflowClient(tracking_uri())


def test_champion_is_close_to_the_oracle_and_calibrated(trained: TrainResult) -> None:
    m = trained.champion.metrics
    assert m["oracle_gap"] < 0.03
    assert m["ece"] < 0.02
    assert m["psi_score"] < 0.1


def test_champion_beats_the_bureau_scorecard_on_thin_file_applicants(trained: TrainResult) -> None:
    bureau = trained.baseline(BUREAU_FAMILY).metrics
    assert trained.champion.metrics["auc_thin_file"] > bureau["auc_thin_file"] + 0.15
    assert trained.champion.metrics["auc"] > bureau["auc"] + 0.1


def test_every_model_is_a_run_with_the_same_metric_names(trained: TrainResult) -> None:
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    runs = {r.info.run_id: r for r in _client().search_runs([exp.experiment_id])}
    families = set()
    for model in trained.models:
        run = runs[model.run_id]
        assert set(SHARED) <= set(run.data.metrics), model.family
        assert run.data.metrics["auc"] == pytest.approx(model.metrics["auc"])
        tags = run.data.tags
        assert tags["thinfile.data_hash"] == trained.data.data_hash
        assert tags["thinfile.schema_fingerprint"] and tags["thinfile.git_commit"]
        families.add(tags["thinfile.model_family"])
        files = {a.path for a in _client().list_artifacts(model.run_id)}
        assert {"evaluation.json", "model_card.md", "plots"} <= files
        plots = {a.path for a in _client().list_artifacts(model.run_id, "plots")}
        assert {
            f"plots/{p}" for p in ("roc.png", "ks.png", "calibration.png", "score_by_band.png", "score_by_group.png")
        } <= plots
    assert families == {"lightgbm", BUREAU_FAMILY, ALL_INPUTS_FAMILY}
    assert exp.artifact_location.startswith("file://") and "mlruns/artifacts" in exp.artifact_location


def test_each_run_logs_the_training_settings_it_used_with_their_digest(trained: TrainResult, tmp_path: Path) -> None:
    client = _client()
    for model in trained.models:
        path = mlflow.artifacts.download_artifacts(f"runs:/{model.run_id}/settings.json", dst_path=str(tmp_path))
        raw = Path(path).read_bytes()
        logged = json.loads(raw)
        assert client.get_run(model.run_id).data.tags["thinfile.settings_sha256"] == hashlib.sha256(raw).hexdigest()
        assert logged["fairness"]["disparate_impact_min"] == FairnessLimits().disparate_impact_min
        assert "batch" not in logged and "generator" not in logged, "only the training job's sections"
        if model.role == "champion":  # its hyper-parameters as chosen for the table, not as configured
            assert trained.train_config is not None
            assert logged["train"] == trained.train_config.model_dump(mode="json")
        else:
            assert logged["train"]["tune"] is False


def test_each_logged_model_carries_its_runs_metrics_logged_once(trained: TrainResult) -> None:
    client = _client()
    for model in trained.models:
        run = client.get_run(model.run_id)
        (output,) = run.outputs.model_outputs
        linked = {m.key: m.value for m in client.get_logged_model(output.model_id).metrics}
        assert linked == run.data.metrics, model.family
        for key in ("auc", "ece", "predict_rows_per_s"):
            assert len(client.get_metric_history(model.run_id, key)) == 1, (model.family, key)


def test_model_card_states_data_metrics_and_the_tree_shape_trade(trained: TrainResult) -> None:
    card = mlflow.artifacts.load_text(f"runs:/{trained.champion.run_id}/model_card.md")
    for words in (
        "## Data",
        "## Intended use",
        "## Test metrics",
        "## Limits",
        "explain_rows_per_s",
        "Tree shape",
        trained.data.data_hash,
    ):
        assert words in card


def test_champion_is_registered_and_loads_back_identically(trained: TrainResult, population: pd.DataFrame) -> None:
    version = _client().get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    assert version.run_id == trained.champion.run_id
    loaded = load_scorer(CHAMPION_ALIAS, MODEL_NAME)
    rows = population.head(200)
    np.testing.assert_array_equal(loaded.predict_pd(rows), trained.champion.model.predict_pd(rows))


def test_champion_run_points_at_its_bureau_baseline_which_loads_back(
    trained: TrainResult, population: pd.DataFrame, tmp_path: Path
) -> None:
    tag = _client().get_run(trained.champion.run_id).data.tags[BUREAU_BASELINE_TAG]
    assert tag == trained.baseline(BUREAU_FAMILY).run_id
    baseline = load_baseline(tag)
    rows = population.head(300)
    np.testing.assert_allclose(baseline.predict_pd(rows), trained.baseline(BUREAU_FAMILY).model.predict_pd(rows))
    clean = validate_table(rows, baseline.schema).clean[baseline.schema.feature_names]
    served = mlflow.pyfunc.load_model(f"runs:/{tag}/model", dst_path=str(tmp_path)).predict(clean)
    np.testing.assert_allclose(served["pd"].to_numpy(), baseline.predict_pd(rows))


def test_loading_the_champion_and_its_baseline_leaves_nothing_in_the_temporary_folder(
    trained: TrainResult, tmp_path, monkeypatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    tag = _client().get_run(trained.champion.run_id).data.tags[BUREAU_BASELINE_TAG]
    load_scorer(CHAMPION_ALIAS, MODEL_NAME)
    load_baseline(tag)
    assert sorted(p.name for p in temp.iterdir()) == []


def test_loading_a_registered_model_that_is_not_a_scorer_is_refused_with_its_kind(trained: TrainResult) -> None:
    run = trained.baseline(BUREAU_FAMILY).run_id
    version = mlflow.register_model(f"runs:/{run}/model", "not-a-scorer").version
    with pytest.raises(StoreError, match="not a thinfile scorer .*ScorecardPyfunc"):
        load_scorer(int(version), "not-a-scorer")


def test_logged_signatures_follow_the_schema_not_the_example(
    trained: TrainResult, schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # get_model_info downloads each model, and keeps it
    for model in trained.models:
        inputs = mlflow.models.get_model_info(f"runs:/{model.run_id}/model").signature.inputs
        required = {c.name for c in inputs.inputs if c.required}
        assert required == {f.name for f in schema.features if not f.nullable}, model.family


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_the_logged_input_example_is_strict_json_and_no_applicants_row(
    trained: TrainResult, population: pd.DataFrame, schema: Schema, tmp_path: Path
) -> None:
    for model in trained.models:
        uri = f"runs:/{model.run_id}/model/input_example.json"
        path = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / model.family))
        example = json.loads(Path(path).read_text(), parse_constant=_refuse)
        rows = pd.DataFrame(example["data"], columns=example["columns"])
        assert len(rows) == 1, model.family
        inputs = population[rows.columns].astype(object)
        same = (inputs == rows.iloc[0].astype(object)).all(axis=1)
        assert not same.any(), model.family


def test_the_input_example_holds_medians_and_most_frequent_levels(population: pd.DataFrame, schema: Schema) -> None:
    example = model_input_example(schema, population).iloc[0]
    head = population.iloc[:EXAMPLE_ROWS]
    for f in schema.features:
        if f.type is FeatureType.category:
            assert example[f.name] == head[f.name].astype(str).mode().iloc[0], f.name
        elif f.type is FeatureType.float:
            assert example[f.name] == pytest.approx(head[f.name].median()), f.name
        else:
            assert example[f.name] == round(float(head[f.name].astype(float).median())), f.name


def test_load_baseline_refuses_a_run_that_is_not_a_scorecard(trained: TrainResult) -> None:
    with pytest.raises(ValueError, match="did not log a WoE scorecard"):
        load_baseline(trained.champion.run_id)


def test_promote_moves_the_alias_and_names_missing_versions(trained: TrainResult, schema: Schema) -> None:
    current = trained.registered_version
    previous, new = promote(current, MODEL_NAME, alias="challenger")
    assert new == current
    assert str(_client().get_model_version_by_alias(MODEL_NAME, "challenger").version) == current
    with pytest.raises(PromotionError, match=r"no version 999.*registered versions: "):
        promote(999, MODEL_NAME)


def test_promote_refuses_a_version_whose_training_run_did_not_finish(trained: TrainResult) -> None:
    client = _client()
    champion = client.get_model_version(MODEL_NAME, trained.registered_version)
    run = client.create_run(client.get_run(champion.run_id).info.experiment_id)
    failed = client.create_model_version(MODEL_NAME, champion.source, run_id=run.info.run_id)  # as train registers
    client.set_terminated(run.info.run_id, "FAILED")  # and then stopped before logging the rest
    before = client.get_model_version_by_alias(MODEL_NAME, "champion").version
    try:
        with pytest.raises(PromotionError, match=rf"version {failed.version} .* did not finish \(FAILED"):
            promote(failed.version, MODEL_NAME)
        assert client.get_model_version_by_alias(MODEL_NAME, "champion").version == before
    finally:
        client.delete_model_version(MODEL_NAME, failed.version)  # the module's other tests read its versions


def test_the_champions_mlflow_model_scores_rows_that_leave_out_an_input_its_signature_makes_optional(
    trained: TrainResult, population: pd.DataFrame, tmp_path: Path
) -> None:
    scorer = trained.champion.model
    optional = next(f.name for f in scorer.schema.features if f.nullable)
    rows = validate_table(population.head(50), scorer.schema).clean[scorer.schema.feature_names]
    model = mlflow.pyfunc.load_model(f"runs:/{trained.champion.run_id}/model", dst_path=str(tmp_path))
    assert not {c.name: c.required for c in model.metadata.get_input_schema().inputs}[optional]
    served = model.predict(rows.drop(columns=[optional]))
    np.testing.assert_allclose(served["pd"].to_numpy(), scorer.predict_pd(rows.assign(**{optional: np.nan})))
