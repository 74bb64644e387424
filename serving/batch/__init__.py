"""Batch scoring: `batch_score(input, output, model)` over Parquet/CSV, on this machine or with Spark.

Engines register with `register_engine(name)` (as pandera registers backends); both built-in engines
call the one scoring function `score_table`, so they cannot differ.

The public names below load on first use (PEP 562): a scoring worker process imports
`thinfile.serving.batch.worker` without paying for the registry, tracking and report modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "BatchInputError": "input",
    "BatchIntegrityError": "job",
    "BatchJob": "job",
    "BatchOutputError": "output",
    "BatchResult": "job",
    "BatchSchemaError": "scoring",
    "BatchSettings": "settings",
    "BatchStoppedError": "job",
    "ModelTag": "scoring",
    "batch_score": "job",
    "engine_names": "job",
    "get_engine": "job",
    "kept_parts": "job",
    "model_tag": "job",
    "register_engine": "job",
    "resolve_scorer": "job",
    "score_frame": "scoring",
    "score_table": "scoring",
}

__all__ = [
    "BatchInputError",
    "BatchIntegrityError",
    "BatchJob",
    "BatchOutputError",
    "BatchResult",
    "BatchSchemaError",
    "BatchSettings",
    "BatchStoppedError",
    "ModelTag",
    "batch_score",
    "engine_names",
    "get_engine",
    "kept_parts",
    "model_tag",
    "register_engine",
    "resolve_scorer",
    "score_frame",
    "score_table",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from thinfile.serving.batch.input import BatchInputError
    from thinfile.serving.batch.job import (
        BatchIntegrityError,
        BatchJob,
        BatchResult,
        BatchStoppedError,
        batch_score,
        engine_names,
        get_engine,
        kept_parts,
        model_tag,
        register_engine,
        resolve_scorer,
    )
    from thinfile.serving.batch.output import BatchOutputError
    from thinfile.serving.batch.scoring import BatchSchemaError, ModelTag, score_frame, score_table
    from thinfile.serving.batch.settings import BatchSettings
