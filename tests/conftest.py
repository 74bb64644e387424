"""Fixtures shared by every area: the built-in schema and small populations from the project's generator."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema, load_schema


@pytest.fixture(scope="session")
def schema() -> Schema:
    return load_schema()


@pytest.fixture(scope="session")
def population(schema: Schema) -> pd.DataFrame:
    """30,000 synthetic people (seed 11); treat as read-only."""
    return generate_frame(schema, rows=30_000, seed=11)


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test writes into the repository's mlruns/ or data/: THINFILE_HOME is a temporary folder."""
    before = os.environ.get("THINFILE_HOME")
    os.environ["THINFILE_HOME"] = str(tmp_path_factory.mktemp("thinfile-home"))
    yield
    if before is None:
        os.environ.pop("THINFILE_HOME", None)
    else:
        os.environ["THINFILE_HOME"] = before


@pytest.fixture(autouse=True)
def _store_follows_thinfile_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; drop it so each test's THINFILE_HOME decides."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
