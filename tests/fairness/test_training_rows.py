"""`thinfile fairness --all-rows` knows the model's training rows by their content: shuffled, widened, mixed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.config import Settings
from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema
from thinfile.training.data import prepare
from thinfile.training.pipeline import TrainResult, train_frame
from thinfile.training.registry import TRAINING_ROWS_FILE
from thinfile.training.settings import EvaluationConfig, PipelineConfig, TrainConfig
from thinfile.training.split import split_frame
from thinfile.training.tracking import configure

pytestmark = pytest.mark.slow

NAME = "thinfile-rows"
FAST_AUDIT = {"THINFILE_AUDIT__PROXY_ROWS": "1000", "THINFILE_AUDIT__PROXY_ROUNDS": "10"}
SETTINGS = Settings(
    train=TrainConfig(learning_rate=0.1, max_rounds=60, tune=False),
    pipeline=PipelineConfig(baselines=False, global_explanations=False, model_name=NAME),
    evaluation=EvaluationConfig(timing_rows=500, explain_timing_rows=100, plot_rows=1_000),
)


@pytest.fixture(scope="module")
def table(schema: Schema) -> pd.DataFrame:
    return generate_frame(schema, rows=3_000, seed=21)


@pytest.fixture(scope="module")
def trained(table: pd.DataFrame, schema: Schema, fairness_home: Path) -> TrainResult:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(fairness_home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        return train_frame(table, schema, SETTINGS, source="training rows test")


@pytest.fixture(autouse=True)
def _fast_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in FAST_AUDIT.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="module")
def parts(table: pd.DataFrame, schema: Schema) -> dict[str, pd.DataFrame]:
    """The table's rows training learnt from (its training and validation parts) and its held-out test part."""
    split = split_frame(prepare(table, schema, SETTINGS.checks).frame, schema, SETTINGS.train)
    learnt = np.concatenate([split.rows_of("train"), split.rows_of("valid")])
    return {"learnt": table.iloc[learnt], "test": table.iloc[split.rows_of("test")]}


def fresh(schema: Schema, rows: int) -> pd.DataFrame:
    return generate_frame(schema, rows=rows, seed=977)


def audit(trained: TrainResult, frame: pd.DataFrame, path: Path, out: Path) -> tuple[str, dict[str, object]]:
    """Run `thinfile fairness --all-rows` of the trained model on `frame` written to `path`: its output on one line
    and its JSON report."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    version = trained.champion.registered_version
    args = ["fairness", "--all-rows", "--model", str(version), "--name", NAME, "--data", str(path), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code in (0, 1, 4), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return " ".join(result.output.split()), json.loads(next(out.glob(f"fairness_{NAME}_v*.json")).read_text())


def audits_logged(trained: TrainResult) -> int:
    """How many audits were logged to the champion's run, as MLflow stores them (each logs `fair_auc` once)."""
    return len(mlflow.MlflowClient(configure()).get_metric_history(trained.champion.run_id, "fair_auc"))


def test_training_run_logs_one_hash_per_row_it_learnt_from(trained: TrainResult, parts) -> None:
    local = mlflow.artifacts.download_artifacts(run_id=trained.champion.run_id, artifact_path=TRAINING_ROWS_FILE)
    assert len(np.load(local)) == len(parts["learnt"])


def test_shuffled_training_table_is_recognised_first_and_not_logged(
    trained: TrainResult, table: pd.DataFrame, parts, tmp_path: Path
) -> None:
    before = audits_logged(trained)
    text, summary = audit(trained, table.sample(frac=1, random_state=3), tmp_path / "shuffled.parquet", tmp_path)
    said = f"{len(parts['learnt']):,} of {len(table):,} rows ({len(parts['learnt']) / len(table):.1%}) are rows"
    assert text.startswith(said), text
    assert "not logged to the model's run" in text and audits_logged(trained) == before
    assert summary["data"]["trained_on"] and said in summary["headline"]


def test_training_table_with_an_added_column_read_from_csv_is_recognised(
    trained: TrainResult, table: pd.DataFrame, parts, tmp_path: Path
) -> None:
    before = audits_logged(trained)
    text, _ = audit(trained, table.assign(branch="north"), tmp_path / "widened.csv", tmp_path)
    assert text.startswith(f"{len(parts['learnt']):,} of {len(table):,} rows"), text
    assert audits_logged(trained) == before


def test_fresh_rows_are_audited_and_logged_with_no_training_row_found(
    trained: TrainResult, schema: Schema, tmp_path: Path
) -> None:
    before = audits_logged(trained)
    text, summary = audit(trained, fresh(schema, 1_500), tmp_path / "fresh.parquet", tmp_path)
    assert summary["data"]["training_rows"] == 0 and "trained on" not in text
    assert audits_logged(trained) == before + 1, text


def test_share_counts_learnt_rows_only_among_held_out_and_fresh_ones(
    trained: TrainResult, schema: Schema, parts, tmp_path: Path
) -> None:
    mixed = pd.concat([parts["learnt"].head(45), parts["test"].head(60), fresh(schema, 495)], ignore_index=True)
    text, summary = audit(trained, mixed, tmp_path / "mixed.parquet", tmp_path)
    assert text.startswith("45 of 600 rows (7.5%) are rows the model was trained on"), text
    assert summary["data"]["training_rows"] == 45


def test_a_few_training_rows_under_the_share_are_counted_and_the_audit_logged(
    trained: TrainResult, schema: Schema, parts, tmp_path: Path
) -> None:
    mixed = pd.concat([parts["learnt"].head(3), fresh(schema, 997)], ignore_index=True)
    before = audits_logged(trained)
    text, summary = audit(trained, mixed, tmp_path / "few.parquet", tmp_path)
    assert text.startswith("3 of 1,000 rows (0.3%) are rows the model was trained on, within the 1%"), text
    assert audits_logged(trained) == before + 1 and not summary["data"].get("trained_on")


def test_a_run_without_training_rows_still_knows_its_table_and_says_the_row_check_could_not_run(
    trained: TrainResult, table: pd.DataFrame, tmp_path: Path
) -> None:
    run = mlflow.MlflowClient(configure()).get_run(trained.champion.run_id)
    recorded = Path(unquote(urlparse(run.info.artifact_uri).path)) / TRAINING_ROWS_FILE
    kept = shutil.move(recorded, tmp_path / TRAINING_ROWS_FILE)
    try:
        text, _ = audit(trained, table, tmp_path / "table.parquet", tmp_path)
    finally:
        shutil.move(kept, recorded)
    assert text.startswith("the training-row check could not run"), text
    assert "These are the rows the model was trained on" in text and "not logged" in text
