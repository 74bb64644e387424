"""A model logged in another environment loads with a warning naming what differs (MLflow's check, made fast)."""

from __future__ import annotations

import logging
import platform
from importlib import metadata
from pathlib import Path

import pytest

from thinfile.features.schema import Schema
from thinfile.training import registry
from thinfile.training.pipeline import TrainResult
from thinfile.training.registry import environment_mismatches, load_scorer
from thinfile.training.settings import CHAMPION_ALIAS, model_name_for

HERE = platform.python_version()


def model_folder(tmp_path: Path, *requirements: str) -> Path:
    (tmp_path / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    return tmp_path


def test_requirements_this_environment_meets_are_no_mismatch(tmp_path: Path) -> None:
    numpy = metadata.version("numpy")
    folder = model_folder(tmp_path, f"numpy=={numpy}", "pandas>=1", "# a comment", "-r other.txt", "")
    assert environment_mismatches(folder, {"python_version": HERE}) == []


def test_a_package_at_another_version_is_named_with_the_installed_one(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, "numpy==0.0.1")
    assert environment_mismatches(folder, {}) == [f"numpy==0.0.1 (installed: {metadata.version('numpy')})"]


def test_a_package_not_installed_is_named(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, "no-such-package-thinfile==1.0")
    assert environment_mismatches(folder, {}) == ["no-such-package-thinfile==1.0 (not installed)"]


def test_a_requirement_whose_marker_excludes_this_environment_is_skipped(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, 'no-such-package-thinfile==1.0; python_version < "3.0"')
    assert environment_mismatches(folder, {}) == []


def test_another_python_minor_version_is_named(tmp_path: Path) -> None:
    major, minor, *_ = HERE.split(".")
    other = f"{major}.{int(minor) + 1}.0"
    assert environment_mismatches(model_folder(tmp_path), {"python_version": other}) == [
        f"Python {other} (running: {HERE})"
    ]


def test_loading_the_champion_warns_when_this_environment_has_another_numpy(
    trained: TrainResult, schema: Schema, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = metadata.version
    monkeypatch.setattr(registry.metadata, "version", lambda name: "0.0.1" if name == "numpy" else real(name))
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        load_scorer(CHAMPION_ALIAS, model_name_for(schema))
    (record,) = [r for r in caplog.records if r.name == registry.__name__]
    assert f"numpy=={real('numpy')} (installed: 0.0.1)" in record.getMessage()


def test_loading_the_champion_in_its_own_environment_warns_of_nothing(
    trained: TrainResult, schema: Schema, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        load_scorer(CHAMPION_ALIAS, model_name_for(schema))
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
