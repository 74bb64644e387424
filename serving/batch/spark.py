"""Spark engine of batch scoring: the same `score_table` run inside `mapInArrow`, same output, rejects and counts.

pyspark is an optional extra (`pip install 'thinfile[spark]'`). Spark reads the input (hive partitions
included) and hands each Arrow batch of at most `chunk_rows` rows to `score_table`, in one pass: the
scored rows go back to Spark, whose job committer writes scores/ (all or nothing); each batch's rejects
are written by the task itself into rejects/ (atomically, under a name fixed by the task's partition and
the batch's place in it, so a retried task rewrites the same part), and its summary reaches the driver
through an accumulator keyed the same way (a retried task's summary replaces, never adds). Nothing is
persisted and no row is scored twice.
"""

from __future__ import annotations

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
import pyarrow.parquet as pq

from thinfile.features.validate import validate_table
from thinfile.serving.batch.input import BatchInputError, inspect_input, normalise, wanted_columns
from thinfile.serving.batch.job import (
    BatchIntegrityError,
    BatchJob,
    BatchResult,
    finish_job,
    register_engine,
)
from thinfile.serving.batch.output import (
    OutputLayout,
    chunk_name,
    new_manifest,
    open_output,
    remove_temporaries,
    update_manifest,
    write_parquet_atomic,
)
from thinfile.serving.batch.scoring import ModelTag, plain, score_table, scores_schema
from thinfile.serving.batch.settings import BatchSettings
from thinfile.training.scorer.artefact import Scorer

SPARK_MISSING = (
    "the Spark engine needs pyspark, which is not installed: pip install 'thinfile[spark]' (and Java 17 on the machine)"
)
SOURCE = "_thinfile_source"
ROW = "_thinfile_row"


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


def _ddl(schema: pa.Schema) -> str:
    kinds = {pa.float64(): "double", pa.int64(): "bigint", pa.string(): "string"}
    return ", ".join(f"`{f.name}` {kinds[f.type]}" for f in schema)


class _Summaries:
    """Accumulator of batch summaries keyed by (partition, batch): merging a retried task's summary replaces it."""

    def zero(self, value: dict) -> dict:
        return {}

    def addInPlace(self, a: dict, b: dict) -> dict:
        a.update(b)
        return a


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


def _score_partition(
    broadcast: Any,
    tag: ModelTag,
    settings: BatchSettings,
    root_uri: str,
    source: str | None,
    threads: int,
    rejects: OutputLayout,
    summaries: Any,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The mapInArrow function: each Arrow batch -> its scored rows; rejects and summary kept on the side.

    `source`: the one input file's name, else None (each row's file is in the SOURCE column). Each row's number
    in its file is in the ROW column where Spark knows it (Parquet), else the rejects' rows are null.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        scorer = _scorer_from(broadcast, tag, threads)
        schema = scorer.schema
        context = TaskContext.get()
        assert context is not None, "mapInArrow runs in a Spark task"
        partition = context.partitionId()
        found: dict[str, dict] = {}
        for k, batch in enumerate(batches):
            table = pa.Table.from_batches([batch])
            if source is None:
                names: str | np.ndarray = _file_names(table.column(SOURCE), root_uri)
                table = table.drop_columns([SOURCE])
            else:
                names = source
            numbers = None
            if ROW in table.column_names:
                numbers = table.column(ROW).to_numpy()
                table = table.drop_columns([ROW])
            result = score_table(normalise(table, {}, schema), scorer, tag, settings, source=names, first_row=numbers)
            name = chunk_name(partition, k)
            if result.rejects.num_rows:
                write_parquet_atomic(result.rejects, rejects.rejects_part(name))
            found[name] = {
                "counts": result.counts,
                "stats": result.stats,
                "rejected_by_column": result.rejected_by_column,
            }
            yield from plain(result.scores).to_batches()
        summaries.add(found)

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
        remove_temporaries(layout)
        for stale in layout.rejects.glob("*.parquet"):  # a Spark job starts over: rejects of an earlier try go
            stale.unlink()
        frame = _read(spark, input, fmt)
        missing = validate_table(pd.DataFrame(columns=frame.columns), schema).table_errors
        if missing:
            raise BatchInputError(f"{input}: {'; '.join(missing)}")
        keep = [c for c in wanted_columns(schema) if c in frame.columns]
        one_file = parts[0].name if len(parts) == 1 else None
        where = [] if one_file else [F.input_file_name().alias(SOURCE)]
        if fmt == "parquet":  # Spark numbers a Parquet file's rows (CSV's it does not)
            where.append(F.col("_metadata.row_index").alias(ROW))
        frame = frame.select(*keep, *where)
        root = spark_path(input) if Path(input).is_dir() else spark_path(Path(input).parent)
        threads = int(spark.conf.get("spark.task.cpus", "1"))
        broadcast = spark.sparkContext.broadcast(pickle.dumps(scorer))
        accumulator = spark.sparkContext.accumulator({}, _Summaries())
        run = _score_partition(broadcast, tag, settings, root.rstrip("/") + "/", one_file, threads, layout, accumulator)
        scored = frame.mapInArrow(run, schema=_ddl(scores_schema(schema, settings.top_reasons)))
        try:
            if job.console is not None:
                job.console.print(
                    f"Spark {spark.version} on {spark.sparkContext.master}: scoring {sum(p.rows for p in parts):,} rows"
                )
            scored.write.mode("overwrite").parquet(spark_path(layout.scores))
            summaries = accumulator.value
            written = {
                "scored": sum(pq.ParquetFile(p).metadata.num_rows for p in layout.scores.glob("*.parquet")),
                "rejected": sum(pq.ParquetFile(p).metadata.num_rows for p in layout.rejects.glob("*.parquet")),
            }
        finally:
            broadcast.unpersist()
        chunks = dict(sorted(summaries.items()))
        counts = {k: sum(s["counts"][k] for s in chunks.values()) for k in ("rows_in", "scored", "rejected")}
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
