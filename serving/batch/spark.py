"""Spark engine of batch scoring: the same `score_table` run inside `mapInArrow`, same output, rejects and counts.

pyspark is an optional extra (`pip install 'thinfile[spark]'`). Spark reads the input (hive partitions
included), each Arrow batch of at most `chunk_rows` rows is validated and scored by `score_table`, and
one pass yields scored rows, rejects and per-batch summaries; the pass is persisted so Spark scores
every row once, then scores/ and rejects/ are written by Spark's job committer (all or nothing).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thinfile.features.schema import Schema
from thinfile.features.validate import validate_table
from thinfile.serving.batch.input import BatchInputError, constant_text, inspect_input, normalise, wanted_columns
from thinfile.serving.batch.job import (
    BatchIntegrityError,
    BatchJob,
    BatchResult,
    finish_job,
    register_engine,
)
from thinfile.serving.batch.output import new_manifest, open_output, update_manifest
from thinfile.serving.batch.scoring import (
    REJECT_COLUMNS,
    REJECTS_SCHEMA,
    ModelTag,
    output_columns,
    score_table,
    scores_schema,
)
from thinfile.serving.batch.settings import BatchSettings
from thinfile.training.scorer.artefact import Scorer

SPARK_MISSING = (
    "the Spark engine needs pyspark, which is not installed: pip install 'thinfile[spark]' (and Java 17 on the machine)"
)
SOURCE = "_thinfile_source"
KIND = "_thinfile_kind"
STATS = "_thinfile_stats"


class SparkUnavailableError(RuntimeError):
    """pyspark (or Java) is missing; the message says what to install."""


def _pyspark() -> Any:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(SPARK_MISSING) from None
    return SparkSession


def spark_session(master: str | None = None, app_name: str = "thinfile-batch-score") -> Any:
    """The active session (spark-submit, Databricks), else a new one on `master` using this Python."""
    SparkSession = _pyspark()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if master:
        builder = builder.master(master)
    try:
        return builder.getOrCreate()
    except Exception as err:  # py4j / JVM start-up failures come in many types
        raise SparkUnavailableError(
            f"Spark could not start on master {master!r}: {err} (Java 17 must be on PATH or JAVA_HOME)"
        ) from None


def spark_path(path: str | Path) -> str:
    """A path as Spark wants it: URIs unchanged, Databricks /dbfs/ mounts as dbfs:/, local files as file://."""
    text = str(path)
    if "://" in text or text.startswith("dbfs:"):
        return text
    p = Path(text).resolve()
    if p.parts[:2] == ("/", "dbfs"):
        return "dbfs:/" + "/".join(p.parts[2:])
    return p.as_uri()


_REJECT_ONLY = [c for c in REJECT_COLUMNS if c != "id"]


def _union_columns(schema: Schema, top: int) -> list[str]:
    """Scored rows, rejects (id in the id column) and summaries in one table, told apart by KIND."""
    return [*output_columns(schema, top), *_REJECT_ONLY, STATS, KIND]


def _union_schema(schema: Schema, top: int) -> pa.Schema:
    scores = scores_schema(schema, top)
    fields = [scores.field(c) for c in scores.names]
    fields += [REJECTS_SCHEMA.field(c) for c in _REJECT_ONLY] + [
        pa.field(STATS, pa.string()),
        pa.field(KIND, pa.string()),
    ]
    return pa.schema(fields)


def _union_ddl(schema: Schema, top: int) -> str:
    kinds = {pa.float64(): "double", pa.int64(): "bigint", pa.string(): "string"}
    return ", ".join(f"`{f.name}` {kinds[f.type]}" for f in _union_schema(schema, top))


_CACHE: dict[str, Scorer] = {}


def _scorer_from(broadcast: Any, tag: ModelTag, threads: int) -> Scorer:
    """The scorer, unpickled once per Python worker (workers are reused across tasks)."""
    scorer = _CACHE.get(tag.fingerprint)
    if scorer is None:
        scorer = pickle.loads(broadcast.value)
        scorer.num_threads = threads
        _CACHE.clear()
        _CACHE[tag.fingerprint] = scorer
    return scorer


def _file_names(column: pa.ChunkedArray | pa.Array, root_uri: str) -> np.ndarray:
    """Each row's input file relative to the input folder (as the embedded engine names it)."""
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = [unquote(str(v)).removeprefix(unquote(root_uri)).lstrip("/") for v in encoded.dictionary.to_pylist()]
    return np.asarray(names + [""], dtype=object)[encoded.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)]


def _as_union(table: pa.Table, kind: str, union: pa.Schema) -> pa.Table:
    n = table.num_rows
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(n, f.type) for f in union
    ]
    columns[union.get_field_index(KIND)] = constant_text(kind, n)
    return pa.Table.from_arrays(columns, schema=union)


def _score_partition(
    broadcast: Any, tag: ModelTag, settings: BatchSettings, root_uri: str, threads: int
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The mapInArrow function: each Arrow batch -> scored rows, rejects and one summary row (one union table)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        scorer = _scorer_from(broadcast, tag, threads)
        schema = scorer.schema
        union = _union_schema(schema, settings.top_reasons)
        for batch in batches:
            table = pa.Table.from_batches([batch])
            names = _file_names(table.column(SOURCE), root_uri)
            table = normalise(table.drop_columns([SOURCE]), {}, schema)
            result = score_table(table, scorer, tag, settings, source=names)
            rejects = result.rejects.rename_columns(
                [schema.id_column if c == "id" else c for c in result.rejects.column_names]
            )
            rejects = rejects.set_column(
                rejects.schema.get_field_index("row"), "row", pa.nulls(rejects.num_rows, pa.int64())
            )
            summary = {"counts": result.counts, "stats": result.stats, "rejected_by_column": result.rejected_by_column}
            yield from pa.concat_tables(
                [
                    _as_union(result.scores, "score", union),
                    _as_union(rejects, "reject", union),
                    _as_union(pa.table({STATS: [json.dumps(summary)]}), "stats", union),
                ]
            ).to_batches()

    return run


def _read(spark: Any, path: str | Path, fmt: str) -> Any:
    uri = spark_path(path)
    if fmt == "csv":
        return (
            spark.read.option("header", True).option("mode", "FAILFAST").option("recursiveFileLookup", False).csv(uri)
        )
    return spark.read.parquet(uri)


def _format(parts: list) -> str:
    formats = {p.format for p in parts}
    if len(formats) > 1:
        raise BatchInputError(
            "the input folder mixes Parquet and CSV files; the Spark engine reads one format at a time"
        )
    return formats.pop()


@register_engine("spark")
def run_spark(job: BatchJob) -> BatchResult:
    """Score `input` with Spark into the same layout as the embedded engine; returns a BatchResult."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    input, output, scorer, chunk_rows, settings = job.input, job.output, job.scorer, job.chunk_rows, job.settings
    started = time.perf_counter()
    tag = job.tag
    schema = scorer.schema
    parts = inspect_input(input, schema)
    fmt = _format(parts)
    spark = spark_session(job.master)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunk_rows))
    manifest = new_manifest(
        "spark", [p.as_dict() for p in parts], tag.as_dict(), schema.fingerprint, chunk_rows, settings.top_reasons
    )
    with open_output(output, manifest, input, job.overwrite) as (layout, manifest):
        frame = _read(spark, input, fmt)
        missing = validate_table(pd.DataFrame(columns=frame.columns), schema).table_errors
        if missing:
            raise BatchInputError(f"{input}: {'; '.join(missing)}")
        keep = [c for c in wanted_columns(schema) if c in frame.columns]
        frame = frame.select(*keep, F.input_file_name().alias(SOURCE))
        root = spark_path(input) if Path(input).is_dir() else spark_path(Path(input).parent)
        threads = int(spark.conf.get("spark.task.cpus", "1"))
        broadcast = spark.sparkContext.broadcast(pickle.dumps(scorer))
        run = _score_partition(broadcast, tag, settings, root.rstrip("/") + "/", threads)
        scored = frame.mapInArrow(run, schema=_union_ddl(schema, settings.top_reasons))
        scored = scored.persist(StorageLevel.DISK_ONLY)
        try:
            if job.console is not None:
                job.console.print(
                    f"Spark {spark.version} on {spark.sparkContext.master}: scoring {sum(p.rows for p in parts):,} rows"
                )
            cols = output_columns(schema, settings.top_reasons)
            scored.filter(F.col(KIND) == "score").select(*cols).write.mode("overwrite").parquet(
                spark_path(layout.scores)
            )
            scored.filter(F.col(KIND) == "reject").select(
                F.col(schema.id_column).alias("id"), *_REJECT_ONLY
            ).write.mode("overwrite").parquet(spark_path(layout.rejects))
            summaries = [json.loads(r[0]) for r in scored.filter(F.col(KIND) == "stats").select(STATS).collect()]
            written = {
                "scored": spark.read.parquet(spark_path(layout.scores)).count(),
                "rejected": spark.read.parquet(spark_path(layout.rejects)).count(),
            }
        finally:
            scored.unpersist()
            broadcast.unpersist()
        chunks = {f"spark-batch-{i:06d}": s for i, s in enumerate(summaries)}
        counts = {k: sum(s["counts"][k] for s in summaries) for k in ("rows_in", "scored", "rejected")}
        expected = sum(p.rows for p in parts)
        problems = []
        if counts["rows_in"] != expected:
            problems.append(f"{expected} rows in the input but {counts['rows_in']} accounted for")
        if counts["rows_in"] != counts["scored"] + counts["rejected"]:
            problems.append(f"rows in {counts['rows_in']} != scored {counts['scored']} + rejected {counts['rejected']}")
        if written != {"scored": counts["scored"], "rejected": counts["rejected"]}:
            problems.append(f"written {written} differ from scored/rejected counts {counts}")
        if problems:
            update_manifest(layout, manifest, chunks)
            raise BatchIntegrityError("counts do not reconcile: " + "; ".join(problems))
        return finish_job(job, layout, manifest, chunks, "spark", counts, 0, started)
