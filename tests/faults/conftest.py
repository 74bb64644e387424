"""Fixtures of the fault tests: a small champion registered once in this folder's store, and servers started as an
operator starts them, with every process they leave behind killed afterwards."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import pandas as pd
import psutil
import pytest
from servers import Server, alive

from thinfile.features.schema import Schema
from thinfile.serving.contract import request_body
from thinfile.training.champion import fit_champion
from thinfile.training.registry import log_scorer, set_alias
from thinfile.training.settings import CHAMPION_ALIAS, TrainConfig, model_name_for
from thinfile.training.tracking import experiment_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def service_home(home_for: Callable[[str], Path], population: pd.DataFrame, schema: Schema) -> Path:
    """This folder's THINFILE_HOME with a small champion registered (trained once per session)."""
    home = home_for("faults-service")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        scorer = fit_champion(
            population.iloc[:6_000], population.iloc[6_000:9_000], schema, TrainConfig(max_rounds=30, num_threads=1)
        )
        with mlflow.start_run(experiment_id=experiment_id()):
            info = log_scorer(scorer, population.iloc[:6_000], register_as=model_name_for(schema))
        set_alias(model_name_for(schema), CHAMPION_ALIAS, info.registered_model_version)
    return home


@pytest.fixture(scope="session")
def applicant(population: pd.DataFrame, schema: Schema) -> dict:
    """One generated applicant as a /score body."""
    return request_body(schema, population.iloc[-1])


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start a command as a server; afterwards every process seen in its tree is killed."""
    servers: list[Server] = []

    def start(cmd: list[str], env: dict[str, str], port: int, name: str = "server") -> Server:
        log = tmp_path / f"{name}-{len(servers)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        server = Server(proc, port, log)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.tree()
        for p in alive(server.seen):
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(signal.SIGKILL)
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait()
