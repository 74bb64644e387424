"""Serving fixtures: a champion trained and registered in a private store, and the real service started once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from ports import free_port

from thinfile.features.schema import FeatureType, Schema
from thinfile.serving.contract import request_body
from thinfile.serving.settings import ServingSettings
from thinfile.training.champion import fit_champion
from thinfile.training.registry import load_scorer, log_scorer, set_alias
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import CHAMPION_ALIAS, TrainConfig, model_name_for
from thinfile.training.tracking import experiment_id

ROOT = Path(__file__).resolve().parents[2]
BENTOML = str(Path(sys.executable).parent / "bentoml")
API_KEY = "test-key-0123456789"
AUDIT_KEY = "audit-key-0123456789abcdef"
MAX_BATCH_ROWS = 50
MAX_ROW_BYTES = ServingSettings().max_row_bytes


@pytest.fixture(scope="session")
def serving_home(home_for) -> Path:
    return home_for("serving")


@pytest.fixture(autouse=True)
def _no_serving_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "THINFILE_API_KEY",
        "THINFILE_API_KEY_FILE",
        "THINFILE_MODEL",
        "THINFILE_MODEL_NAME",
        "THINFILE_AUDIT_LOG",
        "THINFILE_AUDIT_KEY",
        "THINFILE_AUDIT_KEY_FILE",
        "THINFILE_TOP_REASONS",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def registered(population: pd.DataFrame, schema: Schema, serving_home: Path) -> Scorer:
    """A small champion trained on the shared population, registered with alias 'champion', loaded back."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(serving_home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        train, valid = population.iloc[:8_000], population.iloc[8_000:12_000]
        scorer = fit_champion(train, valid, schema, TrainConfig(max_rounds=80, num_threads=1))
        with mlflow.start_run(experiment_id=experiment_id()):
            mlflow.log_metric("auc", 0.77)
            info = log_scorer(scorer, train, register_as=model_name_for(schema))
        set_alias(model_name_for(schema), CHAMPION_ALIAS, info.registered_model_version)
        loaded = load_scorer(CHAMPION_ALIAS, model_name_for(schema))
        loaded.num_threads = 1
        return loaded


@dataclass(frozen=True)
class Served:
    url: str
    audit_log: Path
    scorer: Scorer
    log: Path
    max_batch_rows: int = MAX_BATCH_ROWS
    max_row_bytes: int = MAX_ROW_BYTES
    audit_key: str = AUDIT_KEY

    def library(self, schema: Schema, body: dict) -> dict:
        return library_answer(self.scorer, schema, body)

    def client(self, key: str | None = API_KEY) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def serve_env(home: Path, **extra: str) -> dict[str, str]:
    """The service's environment: its own home, with its temporary folder inside it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINFILE_", "MLFLOW_TRACKING_URI"))}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        **env,
        "THINFILE_HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": "1",
        **extra,
    }


@pytest.fixture(scope="session")
def served(registered: Scorer, serving_home: Path) -> Served:
    """`bentoml serve` of the real service on a free loopback port, with an API key and small bounds."""
    port = free_port()
    audit_log = serving_home / "audit" / "test.jsonl"
    env = serve_env(
        serving_home,
        THINFILE_API_KEY=API_KEY,
        THINFILE_AUDIT_KEY=AUDIT_KEY,
        THINFILE_WORKERS="1",
        THINFILE_AUDIT_LOG=str(audit_log),
        THINFILE_MAX_BATCH_ROWS=str(MAX_BATCH_ROWS),
    )
    with open(serving_home / "service.log", "wb") as log:
        proc = subprocess.Popen(
            [BENTOML, "serve", "thinfile.serving.service:Thinfile", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"service exited ({proc.returncode}):\n{(serving_home / 'service.log').read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("service not ready after 120 s")
            time.sleep(0.3)
        yield Served(url=url, audit_log=audit_log, scorer=registered, log=serving_home / "service.log")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def as_body(schema: Schema, row: pd.Series) -> dict:
    """One generated row as a request body: model inputs only, missing fields left out, JSON types."""
    return request_body(schema, row)


@pytest.fixture(scope="session")
def bodies(population: pd.DataFrame, schema: Schema) -> list[dict]:
    """Twenty applicants the model has not seen, as request bodies."""
    return [as_body(schema, row) for _, row in population.iloc[-20:].iterrows()]


def thin_file_body(schema: Schema) -> dict:
    """Only the schema's required fields: a thin file with every optional field missing."""
    values = {FeatureType.int: 6, FeatureType.float: 0.5, FeatureType.bool: True}
    out = {}
    for f in schema.features:
        if f.nullable:
            continue
        v = f.categories[0] if f.type is FeatureType.category else values[f.type]
        if f.max is not None and not isinstance(v, bool):
            v = type(v)(min(max(v, f.min), f.max))
        out[f.name] = v
    return out


def library_answer(scorer: Scorer, schema: Schema, body: dict) -> dict:
    """What the library says for the same applicant, via the batch path (DataFrame -> Schema.to_matrix)."""
    frame = pd.DataFrame([{name: body.get(name, np.nan) for name in schema.feature_names}])
    return json.loads(json.dumps(scorer.explain(frame).records()[0], default=float))


@pytest.fixture(scope="session")
def thin_body(schema: Schema) -> dict:
    return thin_file_body(schema)


@pytest.fixture(scope="session")
def to_body(schema: Schema):
    """as_body bound to the schema: row -> request body."""
    return lambda row: as_body(schema, row)
