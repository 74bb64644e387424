"""Batch scoring: `batch_score(input, output, model)` over Parquet/CSV, on this machine or with Spark.

Engines register with `register_engine(name)` (as pandera registers backends); both built-in engines
call the one scoring function `score_frame`, so they cannot differ.
"""

from thinfile.serving.batch.input import BatchInputError
from thinfile.serving.batch.job import (
    BatchIntegrityError,
    BatchJob,
    BatchResult,
    BatchStoppedError,
    batch_score,
    engine_names,
    get_engine,
    register_engine,
    resolve_scorer,
)
from thinfile.serving.batch.output import BatchOutputError
from thinfile.serving.batch.scoring import BatchSchemaError, ModelTag, score_frame
from thinfile.serving.batch.settings import BatchSettings

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
    "get_engine",
    "engine_names",
    "register_engine",
    "resolve_scorer",
    "score_frame",
]
