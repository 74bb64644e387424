"""A train killed outright (SIGKILL: no handler runs) leaves its scratch folder; the next train removes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

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


@pytest.mark.slow
def test_the_next_train_removes_the_scratch_folder_of_a_killed_one(
    population: pd.DataFrame, schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "THINFILE_HOME": str(tmp_path / "home")}
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_LOGGING], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = list(scratch.glob("thinfile-run-*"))
    assert len(left) == 1 and list(left[0].rglob("*.png"))
    two_days_ago = time.time() - 2 * 86_400
    for folder in [left[0], *(p for p in left[0].rglob("*") if p.is_dir())]:
        os.utime(folder, (two_days_ago, two_days_ago))

    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    said: list[str] = []
    train_frame(population.iloc[:6_000], schema, QUICK, progress=said.append)

    assert not left[0].exists()
    assert f"removed 1 scratch folder(s) that killed runs left in {scratch}" in said
