"""What --model names: a saved-scorer folder, or a registry reference; a path that is neither says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinfile.serving.batch import resolve_scorer
from thinfile.training.registry import ModelNotFoundError
from thinfile.training.tracking import experiment_id


def test_a_model_path_that_is_no_folder_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="is not a folder"):
        resolve_scorer(str(tmp_path / "nowhere"), "m")


def test_a_folder_without_a_saved_scorer_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not a saved scorer"):
        resolve_scorer(tmp_path, "m")


def test_a_models_uri_that_answers_nothing_says_to_check_the_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    experiment_id()  # a store that holds no such model
    with pytest.raises(ModelNotFoundError, match="check the name and the alias or version in the URI"):
        resolve_scorer("models:/nope@champion", "nope")
