"""The embedded batch engine: this machine, every core, crash-safe and resumable.

Fixed-size chunks are read in the parent process (bounded read-ahead) and scored in a pool of worker
processes, each holding the scorer once; every worker writes its chunk's parts atomically, so a rerun
after a crash resumes from the parts already committed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from thinfile.features.schema import Schema
from thinfile.serving.batch.input import InputPart, inspect_input, normalise, read_chunks
from thinfile.serving.batch.job import (
    RESUME,
    BatchIntegrityError,
    BatchJob,
    BatchResult,
    BatchStoppedError,
    finish_job,
    register_engine,
)
from thinfile.serving.batch.output import (
    OutputLayout,
    chunk_name,
    finished_chunks,
    new_manifest,
    open_output,
    remove_temporaries,
    update_manifest,
    write_parquet_atomic,
)
from thinfile.serving.batch.scoring import ModelTag, score_table
from thinfile.serving.batch.settings import BatchSettings


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


def _progress(console: Console | None, enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        RowsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


# ---------------------------------------------------------------- worker side

_WORKER: dict = {}
_PR_SET_PDEATHSIG = 1
WORKER_DIED = "a worker died (killed, or out of memory: try fewer --workers or a smaller --chunk-rows); " + RESUME


def _watch_parent(parent: int, every_s: float = 1.0) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="thinfile-parent-watch", daemon=True).start()


def die_with_parent(parent: int) -> None:
    """End this process when `parent` ends, even by SIGKILL: the kernel's parent-death signal, else a watchdog."""
    armed = False
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if not armed:
        _watch_parent(parent)
    if os.getppid() != parent:
        os._exit(1)


def _init_worker(
    parent: int, scorer_bytes: bytes, tag: ModelTag, settings: BatchSettings, layout: OutputLayout, threads: int
) -> None:
    if parent:
        die_with_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        pa.set_cpu_count(max(threads, 1))
        pa.set_io_thread_count(max(threads, 1))
    scorer = pickle.loads(scorer_bytes)
    scorer.num_threads = threads
    _WORKER.update(scorer=scorer, tag=tag, settings=settings, layout=layout)


def pack(table: pa.Table) -> bytes:
    """A chunk as Arrow IPC bytes: one copy to send to a worker (pickling the table copies whole parent buffers)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def unpack(chunk: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(chunk)).read_all()


def _score_task(
    name: str, source: str, first_row: int, partition: dict[str, str | None], chunk: pa.Table | bytes
) -> tuple[str, dict]:
    """Score one chunk and commit its parts: rejects first, scores (with counts in the footer) last."""
    w = _WORKER
    table = normalise(unpack(chunk) if isinstance(chunk, bytes) else chunk, partition, w["scorer"].schema)
    result = score_table(table, w["scorer"], w["tag"], w["settings"], source=source, first_row=first_row)
    layout: OutputLayout = w["layout"]
    footer = {
        "counts": result.counts,
        "source": source,
        "first_row": first_row,
        "stats": result.stats,
        "rejected_by_column": result.rejected_by_column,
    }
    if result.rejects.num_rows:
        write_parquet_atomic(result.rejects, layout.rejects_part(name))
    write_parquet_atomic(result.scores, layout.scores_part(name), footer)
    return name, footer


# ---------------------------------------------------------------- parent side


def _pending_chunks(
    parts: list[InputPart], done: set[str], schema: Schema, chunk_rows: int
) -> Iterator[tuple[str, str, int, dict[str, str | None], pa.Table]]:
    for i, part in enumerate(parts):
        skip = {k for k in range(part.chunks(chunk_rows)) if chunk_name(i, k) in done}
        for k, table in read_chunks(part, schema, chunk_rows, skip):
            yield chunk_name(i, k), part.name, k * chunk_rows, part.partition, table


def _run_in_process(tasks: Iterator[tuple], on_done: Callable[[str, dict], None]) -> None:
    for task in tasks:
        on_done(*_score_task(*task))


def _run_pool(
    tasks: Iterator[tuple], workers: int, in_flight: int, initargs: tuple, on_done: Callable[[str, dict], None]
) -> None:
    running: set[Future] = set()
    with ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=initargs
    ) as pool:
        try:
            for task in tasks:
                while len(running) >= workers * in_flight:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for f in finished:
                        on_done(*f.result())
                name, source, first_row, partition, table = task
                running.add(pool.submit(_score_task, name, source, first_row, partition, pack(table)))
            for f in wait(running).done:
                on_done(*f.result())
        except BrokenProcessPool:
            raise BatchStoppedError(WORKER_DIED) from None
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def reconcile(parts: list[InputPart], chunks: dict[str, dict], chunk_rows: int) -> dict[str, int]:
    """Check every planned chunk is present and rows in = scored + rejected, per chunk and per file."""
    problems = []
    for i, part in enumerate(parts):
        names = [chunk_name(i, k) for k in range(part.chunks(chunk_rows))]
        missing = [n for n in names if n not in chunks]
        if missing:
            problems.append(f"{part.name}: {len(missing)} part(s) missing, first {missing[0]}")
            continue
        rows = sum(chunks[n]["counts"]["rows_in"] for n in names)
        if rows != part.rows:
            problems.append(f"{part.name}: {part.rows} rows in the file but {rows} accounted for")
    for name, c in chunks.items():
        counts = c["counts"]
        if counts["rows_in"] != counts["scored"] + counts["rejected"]:
            problems.append(
                f"{name}: rows in {counts['rows_in']} != scored {counts['scored']} + rejected {counts['rejected']}"
            )
    if problems:
        raise BatchIntegrityError("counts do not reconcile: " + "; ".join(problems))
    return {k: sum(c["counts"][k] for c in chunks.values()) for k in ("rows_in", "scored", "rejected")}


@register_engine("embedded")
def run_embedded(job: BatchJob) -> BatchResult:
    """Chunks read here (bounded read-ahead), scored in a pool of worker processes, each part committed atomically."""
    started = time.perf_counter()
    scorer, tag, chunk_rows = job.scorer, job.tag, job.chunk_rows
    parts = inspect_input(job.input, scorer.schema)
    manifest = new_manifest(
        "embedded",
        [p.as_dict() for p in parts],
        tag.as_dict(),
        scorer.schema.fingerprint,
        chunk_rows,
        job.settings.top_reasons,
    )
    with open_output(job.output, manifest, job.input, job.overwrite) as (layout, manifest):
        remove_temporaries(layout)
        chunks = finished_chunks(layout)
        skipped = len(chunks)
        manifest = update_manifest(layout, manifest, chunks)
        _score_pending(job, parts, layout, manifest, chunks)
        counts = reconcile(parts, chunks, chunk_rows)
        return finish_job(job, layout, manifest, chunks, "embedded", counts, skipped, started)


def _score_pending(
    job: BatchJob, parts: list[InputPart], layout: OutputLayout, manifest: dict, chunks: dict[str, dict]
) -> None:
    """Score every chunk not yet in `chunks`, adding each footer as its parts are committed."""
    scorer, tag = job.scorer, job.tag
    total = sum(p.rows for p in parts)
    last_write = [time.monotonic()]
    with _progress(job.console, job.progress) as bar:
        task = bar.add_task("score", total=total, completed=sum(c["counts"]["rows_in"] for c in chunks.values()))

        def on_done(name: str, footer: dict) -> None:
            chunks[name] = footer
            bar.advance(task, footer["counts"]["rows_in"])
            if time.monotonic() - last_write[0] >= job.settings.manifest_every_s:
                update_manifest(layout, manifest, chunks)
                last_write[0] = time.monotonic()

        tasks = _pending_chunks(parts, set(chunks), scorer.schema, job.chunk_rows)
        try:
            if job.workers == 1:
                _init_worker(0, pickle.dumps(scorer), tag, job.settings, layout, scorer.num_threads)
                _run_in_process(tasks, on_done)
            else:
                initargs = (os.getpid(), pickle.dumps(scorer), tag, job.settings, layout, 1)
                _run_pool(tasks, job.workers, job.settings.in_flight_per_worker, initargs, on_done)
        finally:
            with contextlib.suppress(OSError):  # the parts' footers, not the manifest, are the record
                update_manifest(layout, manifest, chunks)
