"""A lender's path on real public tables, run once per table and shared by its module's tests.

`schema infer` -> the committed, edited schema -> `schema check` -> `train` -> `fairness` -> `batch-score` ->
`thinfile serve` (the real service on a loopback port), all through the command line in a private store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from ports import free_port
from typer.testing import CliRunner, Result

from thinfile.cli import app
from thinfile.features.schema import Schema, load_schema

DATA = Path(__file__).resolve().parents[1] / "data"
THINFILE = str(Path(sys.executable).parent / "thinfile")
runner = CliRunner()


@dataclass(frozen=True)
class RealTable:
    """One fixture table, its committed schema and the options `schema infer` was run with."""

    stem: str
    protected: tuple[str, ...]
    auc_floor: float  # a sane champion clears this on the default split (plain LightGBM: ~0.73 / ~0.63)

    @property
    def csv(self) -> Path:
        return DATA / f"{self.stem}.csv"

    @property
    def schema_file(self) -> Path:
        return DATA / f"{self.stem}.yaml"


@dataclass(frozen=True)
class Step:
    """A CLI step: its exit code and everything it printed."""

    exit_code: int
    output: str

    @classmethod
    def of(cls, result: Result) -> Step:
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return cls(result.exit_code, result.output)


def cli(home: Path, *args: str) -> Step:
    """`thinfile ARGS` in this process, with the table's private THINFILE_HOME (and no outside MLflow URI)."""
    env = {"THINFILE_HOME": str(home), "MLFLOW_TRACKING_URI": None}
    return Step.of(runner.invoke(app, list(args), env=env))  # type: ignore[arg-type]


TABLES = [
    RealTable("german_credit", protected=("sex", "age_band"), auc_floor=0.72),
    RealTable("uci_credit_card", protected=("MARRIAGE",), auc_floor=0.60),
]


@pytest.fixture(scope="module", params=TABLES, ids=[t.stem for t in TABLES])
def table(request: pytest.FixtureRequest) -> RealTable:
    """Each real table in turn; every fixture below runs once per table."""
    return request.param


@pytest.fixture(scope="module")
def home(table: RealTable, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The table's own THINFILE_HOME: MLflow store, reports, batch output, audit log."""
    return tmp_path_factory.mktemp(f"realdata_{table.stem}")


@pytest.fixture(scope="module")
def frame(table: RealTable) -> pd.DataFrame:
    return pd.read_csv(table.csv)


@pytest.fixture(scope="module")
def committed(table: RealTable) -> Schema:
    return load_schema(table.schema_file)


@pytest.fixture(scope="module")
def inferred(table: RealTable, home: Path, tmp_path_factory: pytest.TempPathFactory) -> Schema:
    """`thinfile schema infer` on the table with the options its committed schema was made with."""
    args = ["schema", "infer", str(table.csv), "--target", "default", "--id", "id"]
    for p in table.protected:
        args += ["--protected", p]
    result = runner.invoke(app, args, env={"THINFILE_HOME": str(home)})
    assert result.exit_code == 0, result.output
    path = tmp_path_factory.mktemp("inferred") / "schema.yaml"
    path.write_text(result.stdout)
    return load_schema(path)


@pytest.fixture(scope="module")
def trained(table: RealTable, home: Path) -> Step:
    """`thinfile train` with every default (table-fitted values and the cross-validated search)."""
    return cli(home, "train", "--data", str(table.csv), "--schema", str(table.schema_file))


@pytest.fixture(scope="module")
def audited(trained: Step, table: RealTable, home: Path) -> tuple[Step, Path]:
    out = home / "fairness"
    return cli(home, "fairness", "--data", str(table.csv), "--schema", str(table.schema_file), "--out", str(out)), out


@pytest.fixture(scope="module")
def batch(trained: Step, table: RealTable, home: Path) -> tuple[Step, Path]:
    out = home / "batch"
    args = ["--workers", "2", "--chunk-rows", "100"]  # chunks beyond the first few reach the workers in shared memory
    step = cli(home, "batch-score", str(table.csv), str(out), "--schema", str(table.schema_file), *args)
    return step, out


@pytest.fixture(scope="module")
def spark_batch(batch: tuple[Step, Path], table: RealTable, home: Path) -> tuple[Step, Path]:
    """The same job as `batch`, on the Spark engine (local[2])."""
    pytest.importorskip("pyspark")
    out = home / "spark_batch"
    args = ["--engine", "spark", "--master", "local[2]", "--chunk-rows", "100"]
    step = cli(home, "batch-score", str(table.csv), str(out), "--schema", str(table.schema_file), *args)
    return step, out


@pytest.fixture(scope="module")
def served(trained: Step, table: RealTable, home: Path) -> Iterator[str]:
    """`thinfile serve --schema` of the table's champion on a free loopback port, as the other commands take it."""
    assert trained.exit_code == 0, trained.output
    with service(home, table.schema_file) as url:
        yield url


@contextmanager
def service(home: Path, schema_file: Path) -> Iterator[str]:
    """`thinfile serve --schema SCHEMA_FILE` of the champion in `home`, one worker on a free loopback port; its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINFILE_", "MLFLOW_TRACKING_URI"))}
    env |= {
        "THINFILE_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": "1",
    }
    log_path = home / "service.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [THINFILE, "serve", "--schema", str(schema_file), "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"service exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"service not ready after 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def strict_json(path: Path) -> dict:
    """A JSON file parsed with NaN and Infinity refused."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)
