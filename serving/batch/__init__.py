"""Batch scoring: `batch_score(input, output, model)` over Parquet/CSV, on this machine or with Spark.

Engines register with `register_engine(name)` (as pandera registers backends); both built-in engines
call the one scoring function `score_table`, so they cannot differ.

The public names below load on first use (PEP 562): a scoring worker process imports
`thinfile.serving.batch.worker` without paying for the registry, tracking and report modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinfile.features.lazy import lazy_names

_WHERE = {
    "BatchInputError": "thinfile.serving.batch.input",
    "BatchIntegrityError": "thinfile.serving.batch.job",
    "BatchJob": "thinfile.serving.batch.job",
    "BatchOutputError": "thinfile.serving.batch.output",
    "BatchResult": "thinfile.serving.batch.job",
    "BatchSchemaError": "thinfile.serving.batch.scoring",
    "BatchSettings": "thinfile.serving.batch.settings",
    "BatchStoppedError": "thinfile.serving.batch.job",
    "ModelTag": "thinfile.serving.batch.scoring",
    "batch_score": "thinfile.serving.batch.job",
    "engine_names": "thinfile.serving.batch.job",
    "get_engine": "thinfile.serving.batch.job",
    "kept_parts": "thinfile.serving.batch.job",
    "model_tag": "thinfile.serving.batch.job",
    "register_engine": "thinfile.serving.batch.job",
    "resolve_scorer": "thinfile.serving.batch.job",
    "score_frame": "thinfile.serving.batch.scoring",
    "score_table": "thinfile.serving.batch.scoring",
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


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)


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
