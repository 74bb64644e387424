"""The packages that load their public names on first use (PEP 562) give each name's object, never a submodule
that a library import has set on the package under the same name."""

from __future__ import annotations

import importlib
import types

import pytest


@pytest.mark.parametrize("package", ["thinfile.training.fairness", "thinfile.serving.batch"])
def test_every_public_name_is_an_object_not_a_submodule_once_every_module_has_loaded(package: str) -> None:
    importlib.import_module("thinfile.serving.batch.report")  # loads the fairness modules a batch job loads
    importlib.import_module("thinfile.training.fairness.audit")
    module = importlib.import_module(package)

    modules = [name for name in module.__all__ if isinstance(getattr(module, name), types.ModuleType)]

    assert modules == []


def test_disparate_impact_imported_from_the_package_is_the_function() -> None:
    importlib.import_module("thinfile.serving.batch.report")
    from thinfile.training.fairness import disparate_impact

    assert disparate_impact({"a": 100, "b": 100}, {"a": 50, "b": 40}, min_rows=50).ratio == pytest.approx(0.8)
