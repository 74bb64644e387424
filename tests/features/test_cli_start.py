"""The installed `thinfile` command: Ctrl-C while it is still loading its libraries is one line and exit code 130,
and `--help` loads none of the libraries that train or score (LightGBM, MLflow, scikit-learn, the plots)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

COMMAND = Path(sys.executable).with_name("thinfile")


@pytest.mark.skipif(not COMMAND.exists() or os.name != "posix", reason="the installed console script, on POSIX")
def test_ctrl_c_while_the_command_loads_is_one_line_and_exit_130(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [str(COMMAND), "batch-score", str(tmp_path / "book.parquet"), str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        text=True,
    )
    time.sleep(0.3)  # inside the imports: loading the command takes seconds
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "error: interrupted while starting; nothing was done" and not out, err


LIBRARIES_OF_THE_WORK = ("lightgbm", "mlflow", "sklearn", "matplotlib", "shap", "optbinning", "fairlearn", "optuna")


def test_the_command_line_and_its_settings_load_no_model_library_until_a_command_runs() -> None:
    probe = (
        "import sys, thinfile.cli, thinfile.config; thinfile.config.Settings(); "
        f"print(' '.join(m for m in {LIBRARIES_OF_THE_WORK!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert loaded.stdout.split() == [], f"`thinfile --help` would import {loaded.stdout.strip()}"


TELEMETRY_PROBE = """
import thinfile.cli
from bentoml._internal.utils.analytics.usage_stats import do_not_track
from mlflow.environment_variables import MLFLOW_DISABLE_TELEMETRY
print(MLFLOW_DISABLE_TELEMETRY.get(), do_not_track())
"""


def _without_telemetry_settings() -> dict[str, str]:
    quiet = {"MLFLOW_DISABLE_TELEMETRY", "BENTOML_DO_NOT_TRACK", "DO_NOT_TRACK"}
    return {k: v for k, v in os.environ.items() if k not in quiet}


def test_the_command_line_turns_mlflows_and_bentomls_usage_reports_off_by_default() -> None:
    said = subprocess.run(
        [sys.executable, "-c", TELEMETRY_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=_without_telemetry_settings(),
    )
    assert said.stdout.split() == ["True", "True"]


def test_an_operator_who_allows_usage_reports_keeps_them() -> None:
    env = {**_without_telemetry_settings(), "MLFLOW_DISABLE_TELEMETRY": "false", "BENTOML_DO_NOT_TRACK": "false"}
    said = subprocess.run(
        [sys.executable, "-c", TELEMETRY_PROBE], capture_output=True, text=True, timeout=120, check=True, env=env
    )
    assert said.stdout.split() == ["False", "False"]
