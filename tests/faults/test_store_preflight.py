"""A store file that cannot be opened, or is damaged where models are registered, is named for what it is, in one
line and at once: permissions get permission advice, damage gets restore advice, and a train never fits first."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.training.registry import database_fault

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
NO_FILE_OVERRIDE = "-dac_override,-dac_read_search"
"""The capabilities that let root open any file whatever its mode: without them, chmod binds root as well."""


def one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def damage_table(db: Path, table: str) -> list[int]:
    """Overwrite every page of `table` in the SQLite file `db` with bytes no b-tree page holds; the pages."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        size = con.execute("PRAGMA page_size").fetchone()[0]
        try:
            pages = [row[0] for row in con.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
        except sqlite3.OperationalError:  # a SQLite built without dbstat: the table's root page
            pages = [con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]]
    with db.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(b"\xff" * size)
    return pages


@pytest.fixture
def damaged_registry(service_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home whose store registered a champion, then had the pages of its model_versions table damaged."""
    (tmp_path / "mlruns").mkdir()
    db = tmp_path / "mlruns" / "mlflow.db"
    shutil.copy2(service_home / "mlruns" / "mlflow.db", db)
    assert damage_table(db, "model_versions")
    with contextlib.closing(sqlite3.connect(db)) as con, pytest.raises(sqlite3.DatabaseError, match="malformed"):
        con.execute("SELECT * FROM model_versions").fetchall()  # damaged as SQLite itself sees it
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "command",
    [["batch-score", "book.csv", "out"], ["promote", "--version", "1"], ["promote", "--auto"]],
    ids=["batch-score", "promote-version", "promote-auto"],
)
def test_damaged_model_version_pages_are_a_damaged_store_not_a_missing_model(
    damaged_registry: Path, population: pd.DataFrame, command: list[str]
) -> None:
    population.head(20).to_csv(damaged_registry / "book.csv", index=False)
    out = runner.invoke(app, command)
    assert out.exit_code == 2
    line = one_line_error(out.output)
    assert "cannot be used (database disk image is malformed)" in line
    assert "restore mlflow.db from a copy" in line and ".recover" in line
    assert "answers to" not in line and "nothing is registered" not in line


def test_train_on_a_damaged_store_stops_before_reading_or_fitting_and_writes_nothing(
    damaged_registry: Path, population: pd.DataFrame
) -> None:
    table = damaged_registry / "table.parquet"
    population.head(3_000).to_parquet(table)
    db = damaged_registry / "mlruns" / "mlflow.db"
    before = db.read_bytes()
    out = runner.invoke(app, ["train", "--data", str(table), "--no-tune", "--no-baselines"])
    assert out.exit_code == 2
    line = one_line_error(out.output)  # one line: no 'reading', 'checking' or 'fitting' progress before it
    assert "database disk image is malformed" in line and "restore mlflow.db from a copy" in line
    assert db.read_bytes() == before


def _unprivileged(args: list[str], home: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """The real CLI, as a user whom file modes bind (root without its file-permission override); its run and
    seconds. Skipped where that cannot be arranged."""
    cmd = [sys.executable, "-m", "thinfile.cli", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        prefix = [setpriv, f"--bounding-set={NO_FILE_OVERRIDE}", f"--inh-caps={NO_FILE_OVERRIDE}"] if setpriv else []
        if not prefix or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
            pytest.skip("running as root, and its file-permission override cannot be dropped (setpriv) here")
        cmd = [*prefix, *cmd]
    env = {**os.environ, "THINFILE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=home, capture_output=True, text=True, timeout=300)
    return done, time.monotonic() - start


@pytest.fixture
def store_home(tmp_path: Path) -> Path:
    """A home with a real MLflow store (its tables made by MLflow)."""
    mlflow.MlflowClient(f"sqlite:///{tmp_path}/mlruns/mlflow.db").search_experiments()
    return tmp_path


def test_an_unreadable_store_is_named_as_permissions_without_mlflows_retries(store_home: Path) -> None:
    db = store_home / "mlruns" / "mlflow.db"
    db.chmod(0)
    done, seconds = _unprivileged(["promote", "--version", "1"], store_home)
    assert done.returncode == 2
    line = one_line_error(done.stdout + done.stderr)  # none of MLflow's 'Operation will be retried' warnings
    assert f"cannot read the MLflow store {db} (permissions:" in line
    assert "give the user running thinfile read and write access to it and its folder" in line
    assert "restore" not in line
    assert seconds < 60  # MLflow alone retries for about 110 s


def test_training_into_a_store_the_user_may_not_write_names_permissions_not_a_read_only_disk(
    store_home: Path,
) -> None:
    db = store_home / "mlruns" / "mlflow.db"
    db.chmod(0o444)
    done, _ = _unprivileged(["train", "--rows", "1000", "--no-tune", "--no-baselines"], store_home)
    assert done.returncode == 2
    line = one_line_error(done.stdout + done.stderr)
    assert f"cannot write the MLflow store {db} (permissions:" in line
    assert "read-only" not in line
    assert not (store_home / "data").exists()  # refused before the default population was generated


def test_sqlites_unable_to_open_is_answered_with_access_not_with_a_restore(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as err:
        sqlite3.connect(tmp_path / "absent" / "mlflow.db")
    line = database_fault(err.value)
    assert "(unable to open database file)" in line
    assert "read and write access" in line and "restore" not in line


def test_sqlites_disk_full_is_answered_with_free_space_not_with_a_restore(tmp_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as con:
        con.execute("CREATE TABLE t (x BLOB)")
        con.execute("PRAGMA max_page_count = 3")  # SQLite's own SQLITE_FULL once the file would grow past it
        with pytest.raises(sqlite3.OperationalError) as err:
            con.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    line = database_fault(err.value)
    assert "(database or disk is full)" in line
    assert "free space" in line and "restore mlflow.db from a copy" not in line


def test_training_into_a_store_on_a_full_disk_is_one_line_saying_so_and_leaves_the_store_sound(
    store_home: Path, population: pd.DataFrame
) -> None:
    db = store_home / "mlruns" / "mlflow.db"
    population.head(2_000).to_csv(store_home / "book.csv", index=False)
    limit = db.stat().st_size + 4096  # the file may not grow past a page or so: a disk that fills as it is written

    def full_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "THINFILE_HOME": str(store_home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    args = ["train", "--data", str(store_home / "book.csv"), "--no-tune", "--no-baselines"]
    done = subprocess.run(
        [sys.executable, "-m", "thinfile.cli", *args], env=env, capture_output=True, text=True, preexec_fn=full_disk
    )
    assert done.returncode == 2
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "SQLAlchemy" not in output  # MLflow's own log of it is left out
    line = output.strip().splitlines()[-1]
    assert line.startswith("error: ") and ("disk I/O error" in line or "disk is full" in line), line
    assert "free space" in line and "restore mlflow.db from a copy" not in line
    with contextlib.closing(sqlite3.connect(db)) as con:
        assert con.execute("PRAGMA quick_check").fetchone() == ("ok",)
