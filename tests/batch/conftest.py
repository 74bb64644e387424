"""Batch fixtures: one small champion saved to a folder (no registry needed), and a small book of applicants."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema
from thinfile.training.champion import fit_champion
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import TrainConfig

BOOK_ROWS = 6_000


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def scorer_dir(population: pd.DataFrame, schema: Schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    train, valid = population.iloc[:10_000], population.iloc[10_000:14_000]
    scorer = fit_champion(train, valid, schema, TrainConfig(max_rounds=60, num_threads=2))
    return scorer.save(tmp_path_factory.mktemp("batch_model") / "scorer")


@pytest.fixture(scope="session")
def scorer(scorer_dir: Path) -> Scorer:
    return Scorer.load(scorer_dir)


@pytest.fixture(scope="session")
def book(schema: Schema) -> pd.DataFrame:
    """Applicants to score (a different seed from the training population); treat as read-only."""
    return generate_frame(schema, rows=BOOK_ROWS, seed=2024)


def _read_scores(folder: Path, id_column: str) -> pd.DataFrame:
    return pd.read_parquet(folder / "scores").sort_values(id_column, ignore_index=True)


@pytest.fixture(scope="session")
def read_scores():
    """Scores of an output folder sorted by id (part order does not matter)."""
    return _read_scores
