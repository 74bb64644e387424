"""The library's batch job, as docs/batch.md calls it from a notebook or spark-submit, on a registered model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from thinfile.features.schema import Schema
from thinfile.serving.batch import batch_score
from thinfile.training.registry import ModelNotFoundError
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import CHAMPION_ALIAS


def test_batch_score_by_alias_finds_the_projects_model_without_a_name(
    registered: Scorer,
    population: pd.DataFrame,
    schema: Schema,
    serving_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(serving_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    population.iloc[-50:].to_parquet(tmp_path / "book.parquet")
    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", CHAMPION_ALIAS, workers=1)
    assert result.scored == 50
    model = json.loads((tmp_path / "out" / "manifest.json").read_text())["model"]
    assert (model["name"], str(model["version"])) == (registered.meta["name"], str(registered.meta["version"]))


def test_an_alias_looked_up_under_another_name_names_the_models_the_store_holds(
    registered: Scorer, serving_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(serving_home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(ModelNotFoundError) as err:
        batch_score(tmp_path / "book.parquet", tmp_path / "out", CHAMPION_ALIAS, name="german-credit")
    said = str(err.value)
    assert "no model 'german-credit' answers to 'champion'" in said
    assert f"the models registered there: {registered.meta['name']!r}" in said
