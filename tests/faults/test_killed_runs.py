"""A train killed outright (SIGKILL: no handler runs) leaves its scratch folder and its MLflow run RUNNING; the next
train removes the one and marks the other KILLED."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from thinfile.features.schema import Schema
from thinfile.training.pipeline import train_frame
from thinfile.training.settings import EvaluationConfig, PipelineConfig, TrainConfig, TrainingSettings

QUICK = TrainingSettings(
    train=TrainConfig(tune=False),
    pipeline=PipelineConfig(baselines=False, global_explanations=False),
    evaluation=EvaluationConfig(timing_rows=500, explain_timing_rows=200, plot_rows=2_000),
)

QUICK_JSON = QUICK.model_dump_json()
KILLED_WHILE_LOGGING = f"""
import os, signal, mlflow
from thinfile.features.generator import generate_frame
from thinfile.features.schema import load_schema
from thinfile.training.pipeline import train_frame
from thinfile.training.settings import TrainingSettings
mlflow.log_artifacts = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # the run's files, its last step
schema = load_schema()
settings = TrainingSettings.model_validate_json({QUICK_JSON!r})
train_frame(generate_frame(schema, rows=6_000, seed=3), schema, settings)
"""


def every_run(store: str) -> list:
    client = MlflowClient(store)
    return list(client.search_runs([e.experiment_id for e in client.search_experiments()]))


@dataclass(frozen=True)
class AfterTheKill:
    scratch: Path
    left: Path
    """the run folder the killed train left"""
    store: str
    killed_run: str
    status_before: str
    said: list[str]
    """what the next train said"""


@pytest.fixture(scope="module")
def after_the_kill(population: pd.DataFrame, schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> AfterTheKill:
    """A train SIGKILLed while it logs its run's files, then (its folder two days old) the next train."""
    base = tmp_path_factory.mktemp("killed")
    scratch, home = base / "tmp", base / "home"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "THINFILE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_LOGGING], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = list(scratch.glob("thinfile-run-*"))
    assert len(left) == 1 and list(left[0].rglob("*.png"))
    two_days_ago = time.time() - 2 * 86_400
    for folder in [left[0], *(p for p in left[0].rglob("*") if p.is_dir())]:
        os.utime(folder, (two_days_ago, two_days_ago))

    store = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    (before,) = every_run(store)
    said: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setattr(tempfile, "tempdir", str(scratch))
        train_frame(population.iloc[:6_000], schema, QUICK, progress=said.append)
    return AfterTheKill(scratch, left[0], store, before.info.run_id, before.info.status, said)


@pytest.mark.slow
def test_the_next_train_removes_the_scratch_folder_of_a_killed_one(after_the_kill: AfterTheKill) -> None:
    assert not after_the_kill.left.exists()
    assert f"removed 1 scratch folder(s) that killed runs left in {after_the_kill.scratch}" in after_the_kill.said


@pytest.mark.slow
def test_the_next_train_marks_the_run_of_a_killed_one_killed(after_the_kill: AfterTheKill) -> None:
    run = MlflowClient(after_the_kill.store).get_run(after_the_kill.killed_run)
    assert after_the_kill.status_before == "RUNNING"
    assert run.info.status == "KILLED" and run.info.end_time is not None
    assert "had ended while the run was open" in run.data.tags["thinfile.ended"]
    ended = f"{run.info.run_id[:8]} ({run.info.run_name})"
    marked = f"1 run(s) of a killed train were still RUNNING; marked KILLED: {ended}"
    assert marked in after_the_kill.said


@pytest.mark.slow
def test_the_next_train_leaves_its_own_runs_finished(after_the_kill: AfterTheKill) -> None:
    others = [r for r in every_run(after_the_kill.store) if r.info.run_id != after_the_kill.killed_run]
    assert others and {r.info.status for r in others} == {"FINISHED"}


TERMINATED_WHILE_LOGGING = """
import os, signal, sys, mlflow
from thinfile.cli import app
mlflow.log_artifacts = lambda *a, **k: os.kill(os.getpid(), signal.SIGTERM)  # the run's files, its last step
app(sys.argv[1:])
"""


@pytest.mark.slow
def test_sigterm_stops_train_in_one_line_and_ends_its_run_instead_of_leaving_it_running(
    population: pd.DataFrame, tmp_path: Path
) -> None:
    population.iloc[:6_000].to_parquet(tmp_path / "book.parquet")
    env = {
        **os.environ,
        "THINFILE_HOME": str(tmp_path / "home"),
        "THINFILE_PIPELINE__GLOBAL_EXPLANATIONS": "false",
        "THINFILE_EVALUATION__PLOT_ROWS": "2000",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    command = ["train", "--data", str(tmp_path / "book.parquet"), "--no-baselines", "--no-tune"]
    done = subprocess.run(
        [sys.executable, "-c", TERMINATED_WHILE_LOGGING, *command], env=env, capture_output=True, text=True
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: stopped by SIGTERM before it finished")
    assert "Traceback" not in done.stderr
    (run,) = every_run(f"sqlite:///{tmp_path / 'home' / 'mlruns' / 'mlflow.db'}")
    assert run.info.status != "RUNNING"
