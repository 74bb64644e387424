"""Spark engine of batch scoring: Spark schedules the chunks, and each task scores them as an embedded worker does.

pyspark is an optional extra (`pip install 'thinfile[spark]'`). The driver checks every input file and names
its chunks as the embedded engine does; Spark runs one task per run of consecutive chunks of one file (each
file a share of the cores, at most `spark_tasks_per_row_group` tasks per row group). A task reads its chunks
straight from the file with Arrow, scores each with the embedded worker's `score_task` and commits the
chunk's parts atomically under the chunk's name: a retried or speculative task rewrites the same parts, and
a rerun after a crash resumes from the committed parts, with either engine. Only the chunks' footers (counts
and population summaries) travel back to the driver; no row passes through the JVM, so a task costs what an
embedded worker's chunks cost. What a task runs lives in `spark_tasks`, light enough for Spark's Python
workers to import quickly. INPUT and OUTPUT must be paths the driver and every executor see (a shared mount
such as /dbfs/..., NFS).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from thinfile.features.lifetime import signals_held
from thinfile.features.progress import RESUMED, rows_bar
from thinfile.serving.batch.input import BatchInputError, inspect_input
from thinfile.serving.batch.job import (
    BatchIntegrityError,
    BatchJob,
    BatchResult,
    BatchStoppedError,
    finish_job,
    kept_parts,
    reconcile,
    register_engine,
    result_found_complete,
)
from thinfile.serving.batch.output import (
    STOP_PREFIX,
    OutputLayout,
    chunk_name,
    finished_chunks,
    new_manifest,
    open_output,
    update_manifest,
)
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.batch.spark_tasks import ChunkRun, plan_runs, score_runs

SPARK_MISSING = (
    "the Spark engine needs pyspark, which is not installed: pip install 'thinfile[spark]' (and Java 17 on the machine)"
)
DAEMON = "thinfile.serving.batch.spark_daemon"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
USER_LOG_CONFIGS = ("log4j2.properties", "log4j2.xml", "log4j2.yaml", "log4j2.yml", "log4j2.json")
_FAILED = "the Spark job failed ({reason}); {kept}"
_CONNECT = (
    "the Spark engine needs a classic Spark session (it schedules its own tasks); Spark Connect sessions (Databricks "
    "shared-access or serverless compute, SPARK_REMOTE) are not supported: use a single-user cluster, or "
    "--engine embedded"
)
_MASTER = re.compile(r"local(\[(\*|\d+)(\s*,\s*\d+)?\])?|local-cluster\[.+\]|(spark|k8s|mesos)://.+|yarn")
"""the master URLs Spark takes (its SparkSubmit parses the same forms)"""
_PYTHON_ERROR = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit)): (.+)$", re.MULTILINE)


class SparkUnavailableError(RuntimeError):
    """pyspark (or Java) is missing; the message says what to install."""


def _pyspark() -> Any:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(SPARK_MISSING) from None
    return SparkSession


def spark_session(master: str | None = None, app_name: str = "thinfile-batch-score", log_level: str = "FATAL") -> Any:
    """The active session (spark-submit, Databricks), else a new one on `master` using this Python, with Spark's
    console log at `log_level` (a failed job's one-line error names the cause either way). Ctrl-C or SIGTERM while
    the JVM starts takes effect once it has started (a JVM cut off half-way outlives this process)."""
    SparkSession = _pyspark()
    active = SparkSession.getActiveSession()
    if active is not None:
        if not hasattr(active, "sparkContext"):  # Spark Connect has no SparkContext
            raise SparkUnavailableError(_CONNECT)
        return active
    check_master(master)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.daemon.module", DAEMON)
    )
    if master:
        builder = builder.master(master)
    with signals_held(signal.SIGINT, signal.SIGTERM), _driver_log_config(log_level):
        try:
            session = builder.getOrCreate()
        except Exception as err:  # py4j / JVM start-up failures come in many types
            raise SparkUnavailableError(_start_failure(master, err)) from None
    session.sparkContext.setLogLevel(log_level)  # this session's level, also where the JVM outlived an earlier one
    return session


@contextlib.contextmanager
def _driver_log_config(level: str) -> Iterator[None]:
    """While a session starts: thinfile's log4j2 file for the driver's JVM, at `level`, from its first line (so
    that Spark's default profile and its banner never print), added to SPARK_SUBMIT_OPTS, which Spark's launcher
    adds to the driver's Java options without replacing the user's `spark.driver.extraJavaOptions`. Not where the
    user keeps a log4j2 file in Spark's conf folder: theirs decides."""
    home = os.environ.get("SPARK_HOME")
    conf = os.environ.get("SPARK_CONF_DIR") or (os.path.join(home, "conf") if home else None)
    previous = os.environ.get("SPARK_SUBMIT_OPTS")
    if conf and any(Path(conf, name).is_file() for name in USER_LOG_CONFIGS):
        yield
        return
    ours = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()} -Dthinfile.spark.log.level={level.lower()}"
    os.environ["SPARK_SUBMIT_OPTS"] = f"{previous} {ours}" if previous else ours
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SPARK_SUBMIT_OPTS", None)
        else:
            os.environ["SPARK_SUBMIT_OPTS"] = previous


def _start_failure(master: str | None, err: Exception) -> str:
    text = str(err).strip()
    if master and master.startswith("spark://") and "stopped SparkContext" in text:
        reason = f"no master answered at {master}"
    else:
        reason = _first_line(text) or type(err).__name__
    hint = "check --master; Java 17 must be on PATH or JAVA_HOME"
    return f"Spark could not start on master {master!r}: {reason} ({hint})"


def _first_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.strip().split("\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


_LOST_TASK = re.compile(r"most recent failure: Lost task [^)]*\)[^:]*: (?:[\w.$]+(?:Exception|Error): )?([^\n]+)")


def _failure(err: BaseException) -> str:
    """One line for a failed Spark job: the failed task's Python error where Spark's message holds one, else
    Spark's reason for losing the task, else the first line of its message."""
    text = str(err)
    python = [m for m in _PYTHON_ERROR.findall(text) if "." not in m[0]]  # Java's classes are dotted
    if python:
        kind, message = python[-1]
        return _first_line(f"{kind}: {message}")
    lost = _LOST_TASK.search(text)
    if lost:
        return _first_line(re.split(r"(?<=[.)])\s+(?=[A-Z])", lost.group(1))[0].rstrip("."))
    return _first_line(text) or type(err).__name__


def _collect(spark: Any, rdd: Any, group: str, out: list) -> Callable[[], None]:
    def collect() -> None:
        try:
            spark.sparkContext.setJobGroup(group, "thinfile batch-score", interruptOnCancel=True)
            out.append(rdd.collect())
        except BaseException as err:  # handed to the driver's main thread
            out.append(err)

    return collect


def _run_on_spark(
    spark: Any, runs: list[ChunkRun], job: BatchJob, layout: OutputLayout, on_done: Callable[[str], None]
) -> list[tuple[str, dict]]:
    """Run the tasks, calling `on_done(chunk name)` as parts are committed; returns every (name, footer)."""
    context = spark.sparkContext
    threads = int(spark.conf.get("spark.task.cpus", "1"))
    broadcast = context.broadcast(job.scorer.pickled_for_workers())
    group = f"thinfile-{uuid.uuid4().hex}"
    stop = layout.root / f"{STOP_PREFIX}{group}"
    rdd = context.parallelize(runs, len(runs)).mapPartitions(
        score_runs(broadcast, job.tag, job.settings, layout, job.chunk_rows, threads, stop, group)
    )
    out: list = []
    thread = threading.Thread(target=_collect(spark, rdd, group, out), name="thinfile-spark-job", daemon=True)
    planned = {chunk_name(r.part_index, k) for r in runs for k in r.chunks}
    seen: set[str] = set()
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
            if job.stop is not None:
                job.stop()
            for p in layout.scores.glob("part-*.parquet"):
                if p.stem in planned and p.stem not in seen:
                    seen.add(p.stem)
                    on_done(p.stem)
    except BaseException:  # Ctrl-C, SIGTERM: the running tasks are stopped before the error goes on
        stop_tasks(context, group, stop, thread, layout, job.settings)
        raise
    finally:
        with signals_deferred(threading.Event()):
            broadcast.unpersist()
    result = out[0]
    if isinstance(result, BaseException):
        raise BatchStoppedError(_FAILED.format(reason=_failure(result), kept=kept_parts(layout.root)))
    errors = [footer["error"] for name, footer in result if not name]
    if errors:
        raise BatchInputError(errors[0])
    unseen = [name for name, _ in result if not layout.scores_part(name).is_file()]
    if unseen:
        raise BatchIntegrityError(
            f"{len(unseen):,} parts the Spark tasks committed are not in {layout.scores} as this process sees it "
            f"(first {unseen[0]}): the executors write somewhere else; give an OUTPUT on storage the driver and "
            "every executor share"
        )
    return result


@contextlib.contextmanager
def signals_deferred(arrived: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM inside the block only set `arrived`, and the first takes effect once the block ends: raised
    inside a py4j call, their exception has py4j print its traceback and leaves the call half done. Only the main
    thread sets handlers; elsewhere nothing is deferred."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        came.append(signum)
        arrived.set()

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if came:
            signal.raise_signal(came[0])


def stop_tasks(
    context: Any, group: str, stop: Path, thread: threading.Thread, layout: OutputLayout, settings: BatchSettings
) -> None:
    """Stop a Spark job's running tasks (the stop file they watch, then Spark's cancel) and wait for its parts to
    settle; another Ctrl-C or SIGTERM meanwhile ends the waits at once, never a call to the JVM half-way."""
    arrived = threading.Event()
    try:
        with signals_deferred(arrived):
            with contextlib.suppress(OSError):
                stop.touch()
            context.cancelJobGroup(group)
            while thread.is_alive() and not arrived.is_set():
                thread.join(0.25)
            _settle(layout, settings.spark_stop_wait_s, settings.spark_stop_longest_s, arrived)
    finally:
        with contextlib.suppress(OSError):
            stop.unlink(missing_ok=True)


def _settle(layout: OutputLayout, quiet_s: float, longest_s: float, arrived: threading.Event) -> None:
    """Wait until no part has been committed for `quiet_s` (a cancelled task's Python worker runs on until Spark
    kills it), so that what the stopped job reports as kept is what stays; not once `arrived` is set."""
    last, quiet, waited = -1, 0.0, 0.0
    while quiet < quiet_s and waited < longest_s and not arrived.is_set():
        count = sum(1 for _ in layout.scores.glob("part-*.parquet"))
        quiet = quiet + 0.25 if count == last else 0.0
        last = count
        time.sleep(0.25)
        waited += 0.25


def check_master(master: str | None) -> None:
    """SparkUnavailableError when `master` is not written as a Spark master URL."""
    if master and not _MASTER.fullmatch(master):
        raise SparkUnavailableError(
            f"--master {master!r} is not a Spark master URL: give local, local[*], local[N], spark://HOST:PORT, yarn "
            "or k8s://HOST:PORT"
        )


@register_engine("spark")
def run_spark(job: BatchJob) -> BatchResult:
    """Score `input` with Spark into the same layout as the embedded engine; returns a BatchResult."""
    started = time.perf_counter()
    check_master(job.master)  # before the output folder is made: a typo leaves nothing to clear
    schema, chunk_rows = job.scorer.schema, job.chunk_rows
    parts = inspect_input(job.input, schema, job.settings.max_wrong_field_rows)
    inputs, top = [p.as_dict() for p in parts], job.settings.top_reasons
    manifest = new_manifest("spark", inputs, job.tag.as_dict(), schema.fingerprint, chunk_rows, top)
    with open_output(job.output, manifest, job.input, job.overwrite) as (layout, manifest):
        if manifest["complete"]:
            return result_found_complete(layout, manifest, started)
        chunks = finished_chunks(layout)
        skipped = len(chunks)
        manifest = update_manifest(layout, manifest, chunks)
        runs: list[ChunkRun] = []
        spark = None
        if any(chunk_name(i, k) not in chunks for i, p in enumerate(parts) for k in range(p.chunks(chunk_rows))):
            spark = spark_session(job.master, log_level=job.settings.spark_log_level)  # only with something to score
            slots, per_group = spark.sparkContext.defaultParallelism, job.settings.spark_tasks_per_row_group
            runs = plan_runs(parts, set(chunks), chunk_rows, slots, per_group)
        rows = {chunk_name(r.part_index, k): r.chunk_rows(k, chunk_rows) for r in runs for k in r.chunks}
        if spark is not None and job.console is not None:
            tasks = "1 task" if len(runs) == 1 else f"{len(runs):,} tasks"
            job.console.print(
                f"Spark {spark.version} on {spark.sparkContext.master}: scoring {sum(rows.values()):,} rows in {tasks}"
            )
        with rows_bar(job.console, job.progress) as bar:
            done = sum(c["counts"]["rows_in"] for c in chunks.values())
            task = bar.add_task("scoring", total=sum(p.rows for p in parts), completed=done, **{RESUMED: done})
            if spark is not None:
                found = _run_on_spark(spark, runs, job, layout, lambda name: bar.advance(task, rows[name]))
                chunks.update(found)
                bar.update(task, completed=sum(c["counts"]["rows_in"] for c in chunks.values()))
        counts = reconcile(parts, chunks, chunk_rows)
        return finish_job(job, layout, manifest, chunks, "spark", counts, skipped, started)
