"""End to end: train, fairness stage (reports + mitigated challenger in MLflow), then `thinfile fairness`."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.config import Settings
from thinfile.features.generator import generate_frame
from thinfile.features.io import read_table
from thinfile.features.schema import Schema
from thinfile.features.settings import ValidationSettings
from thinfile.features.table_hash import data_hash_as_before
from thinfile.training.fairness_stage import ARTIFACT_DIR, FairnessStage, fairness_stage
from thinfile.training.pipeline import train_frame
from thinfile.training.settings import (
    CHALLENGER_ALIAS,
    EvaluationConfig,
    FairnessAudit,
    GlobalExplainConfig,
    TrainConfig,
)
from thinfile.training.tracking import configure

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def table(schema: Schema):
    return generate_frame(schema, rows=8_000, seed=5)


@pytest.fixture(scope="module")
def stage(table, schema: Schema, fairness_home: Path) -> FairnessStage:
    settings = Settings(
        train=TrainConfig(learning_rate=0.1, max_rounds=150, tune=False),
        evaluation=EvaluationConfig(timing_rows=1_000, explain_timing_rows=200, plot_rows=3_000),
        audit=FairnessAudit(proxy_rows=4_000, proxy_rounds=20, mitigation_rounds=1),
        explanations=GlobalExplainConfig(rows=800, dependence_plots=1),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(fairness_home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        result = train_frame(table, schema, settings, source="fairness e2e")
        return fairness_stage(result, settings, out_dir=fairness_home / "reports")


def test_stage_logs_reports_and_metrics_to_every_run(stage: FairnessStage) -> None:
    assert {"champion", "challenger", "bureau_scorecard"} <= set(stage.reports)
    client = mlflow.MlflowClient(configure())
    for name, run_id in stage.run_ids.items():
        files = {a.path for a in client.list_artifacts(run_id, ARTIFACT_DIR)}
        assert files == {f"{ARTIFACT_DIR}/fairness_report.html", f"{ARTIFACT_DIR}/fairness_report.json"}, name
        metrics = client.get_run(run_id).data.metrics
        for key in ("fair_di_ratio_residence", "fair_eo_diff_residence", "fair_calib_gap_residence"):
            assert key in metrics, (name, key)
        assert stage.files[name].exists()


def test_challenger_is_registered_under_its_alias(stage: FairnessStage) -> None:
    client = mlflow.MlflowClient(configure())
    version = client.get_model_version_by_alias("thinfile-synthetic", CHALLENGER_ALIAS)
    assert str(version.version) == stage.challenger_version
    assert version.run_id == stage.run_ids["challenger"]
    assert client.get_run(version.run_id).data.tags["thinfile.role"] == "challenger"
    summary = stage.summary()
    assert list(summary["model"])[:1] == ["champion"] and summary["di_ratio"].notna().all()
    assert ((summary["failing"] != "") == (summary["verdict"] == "fail")).all()


def test_cli_audits_a_registered_model_and_exits_with_its_verdict(stage: FairnessStage, table, tmp_path: Path) -> None:
    data = tmp_path / "table.parquet"
    table.to_parquet(data, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["fairness", "--model", CHALLENGER_ALIAS, "--data", str(data), "--out", str(out)])
    html = next(out.glob("fairness_thinfile-synthetic_v*.html"))
    summary = json.loads(next(out.glob("fairness_thinfile-synthetic_v*.json")).read_text())
    assert result.exit_code == {"pass": 0, "fail": 1, "incomplete": 4}[summary["verdict"]], result.output
    assert summary["verdict"].upper() in result.output
    assert summary["model"]["version"] == stage.challenger_version
    assert summary["data"]["rows"] == len(table) * 0.2
    assert "Fairness report" in html.read_text()


def test_cli_groups_under_min_group_rows_make_it_incomplete(stage: FairnessStage, table, tmp_path: Path) -> None:
    data = tmp_path / "table.parquet"
    table.to_parquet(data, index=False)
    args = ["fairness", "--data", str(data), "--out", str(tmp_path / "out"), "--no-log", "--min-group-rows", "700"]
    result = CliRunner().invoke(app, args)
    summary = json.loads(next((tmp_path / "out").glob("fairness_thinfile-synthetic_v*.json")).read_text())
    small = [u for u in summary["unchecked"] if u["rows"] < 700]
    assert small and summary["min_group_rows"] == 700
    assert summary["verdict"] in ("incomplete", "fail") and result.exit_code in (1, 4)
    assert result.exit_code == {"fail": 1, "incomplete": 4}[summary["verdict"]]
    assert "not checked" in result.output and f"{small[0]['rows']} rows, fewer than the 700" in result.output


def test_cli_refuses_a_table_too_small_to_hold_out_and_says_what_to_do(
    stage: FairnessStage, table, tmp_path: Path
) -> None:
    data = tmp_path / "tiny.parquet"
    table.head(150).to_parquet(data, index=False)
    result = CliRunner().invoke(app, ["fairness", "--data", str(data), "--no-log"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"table {data}" in text and "--all-rows" in text and "<frame>" not in text


def test_cli_says_what_is_wrong_for_an_unknown_model(stage: FairnessStage) -> None:
    result = CliRunner().invoke(app, ["fairness", "--model", "999"])
    assert result.exit_code == 2
    assert "999" in result.output


def test_cli_all_rows_leaves_out_rows_that_break_the_schema_as_training_does(
    stage: FairnessStage, table, schema: Schema, tmp_path: Path
) -> None:
    broken = table.head(3_000).copy()
    bounded = next(f for f in schema.features if f.max is not None)
    broken.loc[3, bounded.name] = bounded.max * 10 + 1
    broken.loc[7, schema.target] = 2
    data, out = tmp_path / "broken.parquet", tmp_path / "out"
    broken.to_parquet(data, index=False)
    result = CliRunner().invoke(app, ["fairness", "--all-rows", "--data", str(data), "--out", str(out), "--no-log"])
    summary = json.loads(next(out.glob("fairness_thinfile-synthetic_v*.json")).read_text())
    text = " ".join(result.output.split())
    assert summary["data"]["rows"] == 2_998, result.output
    assert "2 rows that break the schema, not audited" in text
    assert f"row 3 (id {broken.loc[3, schema.id_column]}): {bounded.name}" in text and "row 7" in text


def test_cli_all_rows_on_the_training_table_says_so_first_and_is_not_logged_to_the_run(
    stage: FairnessStage, table, tmp_path: Path
) -> None:
    data, out = tmp_path / "trained_on.parquet", tmp_path / "out"
    table.to_parquet(data, index=False)
    run_id = stage.run_ids["champion"]
    client = mlflow.MlflowClient(configure())
    before = client.get_run(run_id).data
    result = CliRunner().invoke(app, ["fairness", "--all-rows", "--data", str(data), "--out", str(out)])
    text = " ".join(result.output.split())
    assert text.find("These are the rows the model was trained on") < text.find("report:"), result.output
    assert "not logged to the model's run" in text
    summary = json.loads(next(out.glob("fairness_thinfile-synthetic_v*.json")).read_text())
    assert "These are the rows the model was trained on" in summary["headline"] and summary["data"]["trained_on"]
    after = client.get_run(run_id).data
    assert (after.metrics, after.tags) == (before.metrics, before.tags)


def test_cli_all_rows_knows_the_training_table_of_a_model_that_recorded_the_earlier_hash(
    stage: FairnessStage, table, tmp_path: Path
) -> None:
    data, out = tmp_path / "trained_on.parquet", tmp_path / "out"
    table.to_parquet(data, index=False)
    client = mlflow.MlflowClient(configure())
    run_id = stage.run_ids["champion"]
    recorded = client.get_run(run_id).data.tags["thinfile.data_hash"]
    earlier = data_hash_as_before(read_table(data))
    assert earlier != recorded  # the table holds missing values, whose slots the earlier hash read as they were
    client.set_tag(run_id, "thinfile.data_hash", earlier)
    try:
        result = CliRunner().invoke(app, ["fairness", "--all-rows", "--data", str(data), "--out", str(out), "--no-log"])
    finally:
        client.set_tag(run_id, "thinfile.data_hash", recorded)
    assert "These are the rows the model was trained on" in " ".join(result.output.split())


def test_cli_all_rows_on_other_rows_says_nothing_of_training_rows(
    stage: FairnessStage, schema: Schema, tmp_path: Path
) -> None:
    data, out = tmp_path / "other.parquet", tmp_path / "out"
    generate_frame(schema, rows=4_000, seed=6).to_parquet(data, index=False)
    result = CliRunner().invoke(app, ["fairness", "--all-rows", "--data", str(data), "--out", str(out), "--no-log"])
    assert "trained on" not in result.output and "not logged" not in result.output


def test_cli_lists_the_first_rows_it_sets_aside_and_writes_every_one_with_its_reasons(
    stage: FairnessStage, table, schema: Schema, tmp_path: Path
) -> None:
    broken = table.head(3_000).copy()
    bounded = next(f for f in schema.features if f.max is not None)
    bad_rows = list(range(10, 130, 10))
    broken.loc[bad_rows, bounded.name] = bounded.max * 10 + 1
    data, out = tmp_path / "broken.parquet", tmp_path / "out"
    broken.to_parquet(data, index=False)
    result = CliRunner().invoke(app, ["fairness", "--all-rows", "--data", str(data), "--out", str(out), "--no-log"])
    text = " ".join(result.output.split())
    assert "12 rows that break the schema, not audited" in text
    assert text.count(f": {bounded.name}: ") == ValidationSettings().examples_shown
    listed = next(out.glob("fairness_thinfile-synthetic_v*_set_aside.csv"))
    assert f"... and {12 - ValidationSettings().examples_shown} more; every one with its reasons: " in text
    written = pd.read_csv(listed)
    assert sorted(written["row"]) == bad_rows
    assert written["id"].astype(str).tolist() == broken.loc[bad_rows, schema.id_column].astype(str).tolist()


def test_cli_checks_against_the_fairness_limits_the_environment_sets(
    stage: FairnessStage, table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "table.parquet"
    table.to_parquet(data, index=False)
    monkeypatch.setenv("THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN", "1.0")  # no two groups are approved at one rate
    args = ["fairness", "--data", str(data), "--out", str(tmp_path / "out"), "--no-log", "--min-group-rows", "1"]
    result = CliRunner().invoke(app, args)
    summary = json.loads(next((tmp_path / "out").glob("fairness_thinfile-synthetic_v*.json")).read_text())
    di = [c for c in summary["checks"] if c["metric"] == "disparate_impact_ratio" and c["value"] is not None]
    assert summary["limits"]["disparate_impact_min"] == 1.0
    assert di and all(c["limit"] == 1.0 and c["passed"] is (c["value"] >= 1.0) for c in di)
    assert summary["verdict"] == "fail" and result.exit_code == 1, result.output
