"""The MLflow UI opens on the runs of a model-training experiment, with each run's datasets, in a real browser."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import pytest
from ports import free_port

from thinfile.training.pipeline import TrainResult
from thinfile.training.registry import EXPERIMENT_NAME, check_store
from thinfile.training.settings import StoreChecks
from thinfile.training.tracking import EXPERIMENT_KIND_TAG, ui_links

CHROMIUM = shutil.which("chromium")


def test_the_experiment_is_a_model_training_one(trained: TrainResult) -> None:
    exp = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
    assert exp.tags[EXPERIMENT_KIND_TAG] == "custom_model_development"
    assert "Compare" in exp.tags["mlflow.note.content"]


def test_every_run_logs_its_train_and_test_rows_as_datasets(trained: TrainResult) -> None:
    for model in trained.models:
        inputs = mlflow.get_run(model.run_id).inputs.dataset_inputs
        contexts = {i.tags[0].value if i.tags else None for i in inputs}
        names = {i.dataset.name for i in inputs}
        assert {"training", "testing"} <= {t.value for i in inputs for t in i.tags}, contexts
        assert names == {"thinfile-synthetic-train", "thinfile-synthetic-test"}
        rows = {i.dataset.name: next(t.value for t in i.tags if t.key == "rows") for i in inputs}
        assert rows["thinfile-synthetic-test"] == str(len(trained.split.test))
        assert all(len(i.dataset.digest) == 16 for i in inputs)


@pytest.fixture(scope="module")
def ui_started(training_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`thinfile ui` on the training area's store (the one `trained` logged to); its URL and its console log."""
    port = free_port()
    log = tmp_path_factory.mktemp("mlflow-ui") / "ui.log"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"} | {"THINFILE_HOME": str(training_home)}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "thinfile.cli", "ui", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            raise RuntimeError(f"thinfile ui did not start:\n{log.read_text()[-2000:]}")
        yield url, log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def mlflow_ui(trained: TrainResult, ui_started: tuple[str, Path]) -> str:
    return ui_started[0]


def test_thinfile_ui_prints_the_runs_page_and_the_comparison_of_the_newest_job(
    trained: TrainResult, ui_started: tuple[str, Path]
) -> None:
    url, log = ui_started
    printed = " ".join(log.read_text().split())
    links = ui_links(url)
    assert set(links) == {"runs", "compare"}
    for link in links.values():
        assert link in printed
    for model in trained.models:
        assert model.run_id in links["compare"]


def test_a_real_mlflow_server_passes_the_store_check(ui_started: tuple[str, Path]) -> None:
    assert check_store(ui_started[0], checks=StoreChecks(server_timeout_s=30)) is None


def _chromium(args: list[str], url: str, profile: Path) -> str:
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=30000",
            "--window-size=1400,1000",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium)")
def test_the_runs_page_shows_the_models_and_their_datasets_not_a_genai_overview(mlflow_ui: str, tmp_path: Path) -> None:
    links = ui_links(mlflow_ui)
    dom = _chromium(["--dump-dom"], links["runs"], tmp_path / "profile")
    for run_name in ("champion", "bureau_scorecard", "all_inputs_scorecard"):
        assert run_name in dom
    assert "thinfile-synthetic-train" in dom  # the Dataset column is filled
    assert "Token usage" not in dom and "Detect Issues" not in dom
    shot = tmp_path / "runs.png"
    _chromium([f"--screenshot={shot}"], links["runs"], tmp_path / "profile2")
    assert shot.stat().st_size > 20_000


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium)")
def test_the_comparison_link_compares_the_newest_jobs_runs(
    mlflow_ui: str, trained: TrainResult, tmp_path: Path
) -> None:
    dom = _chromium(["--dump-dom"], ui_links(mlflow_ui)["compare"], tmp_path / "profile")
    assert f"Comparing {len(trained.models)} Runs" in dom
    assert "champion" in dom and "bureau_scorecard" in dom and "auc" in dom
