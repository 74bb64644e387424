"""A store that cannot work fails fast, in one line, and an interrupted train never moves the champion alias."""

from __future__ import annotations

import contextlib
import functools
import http.server
import multiprocessing
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from ports import free_port
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.schema import Schema
from thinfile.training import pipeline
from thinfile.training.pipeline import train_frame
from thinfile.training.registry import StoreError, check_store
from thinfile.training.settings import (
    CHAMPION_ALIAS,
    EvaluationConfig,
    PipelineConfig,
    TrainConfig,
    TrainingSettings,
    model_name_for,
)

runner = CliRunner()
QUICK = TrainingSettings(
    train=TrainConfig(tune=False),
    pipeline=PipelineConfig(baselines=False, global_explanations=False),
    evaluation=EvaluationConfig(timing_rows=500, explain_timing_rows=200, plot_rows=2_000),
)


def one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def test_an_unreachable_tracking_server_is_named_within_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    start = time.monotonic()
    out = runner.invoke(app, ["promote", "--auto"])
    assert time.monotonic() - start < 30
    assert out.exit_code == 2
    assert "tracking server http://127.0.0.1:9 does not answer" in one_line_error(out.output)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def web_server_of(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback web server answering with `handler`; its address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[str]:
    """A web server that is not MLflow (it serves a folder; its 404s are pages)."""
    with web_server_of(functools.partial(_QuietHandler, directory=str(tmp_path))) as url:
        yield url


@pytest.mark.parametrize("command", [["promote", "--version", "1"], ["train"]])
def test_a_web_server_that_is_not_mlflow_is_named_in_one_line(
    web_server: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", web_server)
    out = runner.invoke(app, command)
    assert out.exit_code == 2
    line = one_line_error(out.output)
    assert f"{web_server} (MLFLOW_TRACKING_URI) answers, but not as an MLflow tracking server (HTTP 404" in line


class _LoginRedirect(_QuietHandler):
    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", "/login")
        self.end_headers()


def test_a_server_that_sends_to_a_login_page_is_left_to_mlflows_client() -> None:
    with web_server_of(_LoginRedirect) as url:
        check_store(url)  # an auth proxy's redirect: not refused here


class _TokenGate(_QuietHandler):
    """MLflow behind a gate that lets a bearer token through and answers anything else with a page."""

    def do_GET(self) -> None:
        known = self.headers.get("Authorization") == "Bearer s3cret"
        body = b'{"experiment": {"experiment_id": "0"}}' if known else b"<html>sign in</html>"
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "application/json" if known else "text/html")
        self.end_headers()
        self.wfile.write(body)


def test_the_store_check_sends_the_token_mlflows_client_would(monkeypatch: pytest.MonkeyPatch) -> None:
    with web_server_of(_TokenGate) as url:
        with pytest.raises(StoreError, match="not as an MLflow tracking server"):
            check_store(url)
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "s3cret")
        check_store(url)  # a refusal is not cached: asked again, with the token


def test_a_sqlite_path_typo_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "mlrns" / "nested"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}/mlflow.db")
    out = runner.invoke(app, ["promote", "--version", "1"])
    assert out.exit_code == 2
    assert f"SQLite store in {missing}, which does not exist" in one_line_error(out.output)
    assert not (tmp_path / "mlrns").exists()


def test_reading_a_store_that_is_not_there_does_not_make_an_empty_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    out = runner.invoke(app, ["promote", "--auto"])
    assert out.exit_code == 2
    assert "there is no MLflow store at" in one_line_error(out.output)
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(
    "command", [["promote", "--version", "1"], ["promote", "--auto"], ["batch-score", "in.csv", "out"], ["ui"]]
)
def test_a_home_where_nothing_was_trained_is_named_and_gets_no_empty_store(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("id,x\n1,2\n")
    out = runner.invoke(app, command)
    assert out.exit_code == 2
    assert "nothing has been trained under this THINFILE_HOME" in one_line_error(out.output)
    assert not (tmp_path / "mlruns").exists()


def test_a_file_store_is_refused_with_what_to_use_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    out = runner.invoke(app, ["promote", "--auto"])
    assert out.exit_code == 2
    assert "use sqlite:///<folder>/mlflow.db" in one_line_error(out.output)


@pytest.fixture(scope="module")
def trained_here(population: pd.DataFrame, schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A champion registered in a store of this module's own."""
    home = tmp_path_factory.mktemp("store-faults")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        train_frame(population.head(6_000), schema, QUICK)
    return home


def test_missing_model_files_are_one_line_not_an_mlflow_traceback(
    trained_here: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(trained_here / "mlruns" / "artifacts")  # the registry still names the version; its files are gone
    monkeypatch.setenv("THINFILE_HOME", str(trained_here))
    out = runner.invoke(app, ["fairness", "--no-log", "--out", str(tmp_path / "reports")])
    assert out.exit_code == 2
    assert "cannot be read from the store" in one_line_error(out.output)


def test_an_interrupted_train_leaves_the_champion_alias_where_it_was(
    trained_here: Path, population: pd.DataFrame, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(trained_here))
    name = model_name_for(schema)
    before = mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION_ALIAS).version

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mlflow, "log_artifacts", killed)  # the run's last step, after the version is registered
    explaining = QUICK.model_copy(update={"pipeline": PipelineConfig(baselines=False, global_explanations=True)})
    with pytest.raises(KeyboardInterrupt):
        train_frame(population.iloc[6_000:12_000], schema, explaining)
    client = mlflow.MlflowClient()
    assert client.get_model_version_by_alias(name, CHAMPION_ALIAS).version == before
    assert len(client.search_model_versions(f"name='{name}'")) == 2  # registered, but not promoted


def test_a_train_stopped_after_its_baselines_leaves_no_drawing_process_or_run_folder(
    trained_here: Path, population: pd.DataFrame, schema: Schema, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(trained_here))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the runs' folders are made

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "fit_scorer", killed)  # while the baselines' plots are still being drawn
    with_baselines = QUICK.model_copy(update={"pipeline": PipelineConfig(baselines=True, global_explanations=False)})
    with pytest.raises(KeyboardInterrupt):
        train_frame(population.iloc[6_000:12_000], schema, with_baselines)
    assert multiprocessing.active_children() == []
    assert not list(tmp_path.glob("thinfile-run-*"))


def test_a_train_stopped_after_its_baselines_marks_their_runs_killed_not_finished(
    trained_here: Path, population: pd.DataFrame, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(trained_here))
    store = trained_here / "mlruns" / "mlflow.db"
    with sqlite3.connect(store) as db:
        before = {run for (run,) in db.execute("select run_uuid from runs")}

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "fit_scorer", killed)  # the baselines are logged, their files not yet
    with_baselines = QUICK.model_copy(update={"pipeline": PipelineConfig(baselines=True, global_explanations=False)})
    with pytest.raises(KeyboardInterrupt):
        train_frame(population.iloc[6_000:12_000], schema, with_baselines)
    with sqlite3.connect(store) as db:
        rows = db.execute("select run_uuid, status from runs").fetchall()
    new = {run: status for run, status in rows if run not in before}
    assert len(new) == 2 and set(new.values()) == {"KILLED"}, new


def test_a_damaged_store_database_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_bytes(b"garbage, not SQLite\n" * 100)
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    (tmp_path / "book.csv").write_text("a,b\n1,2\n")
    out = runner.invoke(app, ["batch-score", str(tmp_path / "book.csv"), str(tmp_path / "out")])
    assert out.exit_code == 2
    line = one_line_error(out.output)
    assert f"the MLflow store sqlite:///{tmp_path}/mlruns/mlflow.db cannot be used (file is not a database)" in line
    assert "restore mlflow.db from a copy" in line


def test_a_store_another_process_has_locked_says_to_wait_not_to_restore_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db").search_experiments()  # a store with its tables
    with contextlib.closing(sqlite3.connect(tmp_path / "mlruns" / "mlflow.db", isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        out = runner.invoke(app, ["promote", "--version", "1"])
    assert out.exit_code == 2
    line = one_line_error(out.output)
    assert "(database is locked); another process is writing to it" in line and "restore" not in line


@pytest.mark.parametrize(
    "command", [["--debug", "promote", "--version", "1"], ["batch-score", "book.csv", "out", "--debug"]]
)
def test_debug_shows_the_error_that_the_one_line_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_bytes(b"garbage, not SQLite\n" * 100)
    (tmp_path / "book.csv").write_text("a,b\n1,2\n")
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, command)
    assert out.exit_code != 0 and "error: the MLflow store" not in out.output
    assert "file is not a database" in str(out.exception)


def test_an_emptied_store_file_is_refused_not_made_a_new_empty_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mlruns").mkdir()
    (tmp_path / "mlruns" / "mlflow.db").write_bytes(b"")
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    for command in (["promote", "--version", "1"], ["batch-score", str(tmp_path / "book.csv"), str(tmp_path / "out")]):
        out = runner.invoke(app, command)
        assert out.exit_code == 2
        line = one_line_error(out.output)
        assert f"the MLflow store {tmp_path}/mlruns/mlflow.db is an empty file (0 bytes)" in line
    assert (tmp_path / "mlruns" / "mlflow.db").stat().st_size == 0


@pytest.fixture
def read_only_home(trained_here: Path, tmp_path: Path) -> Iterator[Path]:
    """A read-only bind mount of a home holding a store (mounting needs root; skipped otherwise)."""
    mount = tmp_path / "ro"
    mount.mkdir()
    bound = subprocess.run(["mount", "--bind", str(trained_here), str(mount)], capture_output=True)
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True, capture_output=True)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_training_into_a_read_only_home_is_refused_before_any_fitting(
    read_only_home: Path, population: pd.DataFrame, schema: Schema, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(read_only_home))
    said: list[str] = []
    with pytest.raises(StoreError, match="cannot be written .* is read-only"):
        train_frame(population.head(3_000), schema, QUICK, progress=said.append)
    assert not [s for s in said if s.startswith("fitting")]


def test_training_into_a_copied_home_is_refused_naming_where_its_files_would_go(
    trained_here: Path, population: pd.DataFrame, schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy"
    (copy / "mlruns").mkdir(parents=True)
    shutil.copy2(trained_here / "mlruns" / "mlflow.db", copy / "mlruns" / "mlflow.db")
    monkeypatch.setenv("THINFILE_HOME", str(copy))
    with pytest.raises(StoreError, match="this home was copied or moved") as err:
        train_frame(population.head(3_000), schema, QUICK)
    assert str((trained_here / "mlruns" / "artifacts").resolve()) in str(err.value)


def test_scoring_from_a_moved_home_names_where_the_files_are_recorded_and_why(
    trained_here: Path, population: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(trained_here / "mlruns", copy / "mlruns")
    original = trained_here / "mlruns" / "artifacts"
    away = original.with_name("artifacts.away")
    if original.exists():
        original.rename(away)  # the home was moved: nothing is left where MLflow recorded the files
    try:
        population.head(20).to_csv(tmp_path / "book.csv", index=False)
        monkeypatch.setenv("THINFILE_HOME", str(copy))
        out = runner.invoke(app, ["batch-score", str(tmp_path / "book.csv"), str(tmp_path / "out")])
    finally:
        if away.exists():
            away.rename(original)
    assert out.exit_code == 2
    line = one_line_error(out.output)
    assert f"are recorded at {original.resolve().as_uri()}" in line and "this home was copied or moved" in line
    assert "/tmp/thinfile-model-" not in line and "train again" not in line
