"""A package's public names loaded on first use (PEP 562), so that importing one light name does not import every
module behind the package's surface (`thinfile.serving.batch`, `thinfile.training.fairness`)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any


def lazy_names(
    package: str, where: Mapping[str, str], names: Collection[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`: each name in `where` is imported from the module it maps to on
    first use and kept on the package. (No submodule may share a public name: importing it would set the package's
    attribute of that name to the module, and `__getattr__` would never be asked.)"""

    def get(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def listed() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return get, listed
