"""The embedded batch engine: this machine, every core, crash-safe and resumable.

Fixed-size chunks are read in the parent process (bounded read-ahead) and scored in a pool of worker
processes, each holding the scorer once; every worker writes its chunk's parts atomically, so a rerun
after a crash resumes from the parts already committed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver, get_context
from multiprocessing.context import BaseContext

import pyarrow as pa
from threadpoolctl import threadpool_limits

from thinfile.features.progress import RESUMED, rows_bar
from thinfile.features.schema import Schema
from thinfile.serving.batch import worker
from thinfile.serving.batch.input import ChunkRows, InputPart, inspect_input, read_chunks
from thinfile.serving.batch.job import (
    RESUME,
    BatchJob,
    BatchResult,
    BatchStoppedError,
    finish_job,
    reconcile,
    register_engine,
    result_found_complete,
)
from thinfile.serving.batch.output import (
    OutputLayout,
    chunk_name,
    finished_chunks,
    new_manifest,
    open_output,
    update_manifest,
)
from thinfile.serving.batch.worker import (
    can_share,
    init_worker,
    release_untaken_chunks,
    score_task,
    sharer_resets_quiet,
    ship,
)

PRELOAD = "thinfile.serving.batch.preload"
PRELOAD_ENDING_WITH_JOB = "thinfile.serving.batch.fork_server"
"""The fork server's first import (named, not imported here: it sets numba up, which this process may not need)."""
WORKER_DIED = "a worker died (killed, or out of memory: try fewer --workers or a smaller --chunk-rows); " + RESUME


# ---------------------------------------------------------------- parent side


def _pending_chunks(
    parts: list[InputPart], done: set[str], schema: Schema, chunk_rows: int
) -> Iterator[tuple[str, str, ChunkRows, dict[str, str | None], pa.Table]]:
    for i, part in enumerate(parts):
        skip = {k for k in range(part.chunks(chunk_rows)) if chunk_name(i, k) in done}
        for k, table in read_chunks(part, schema, chunk_rows, skip):
            yield chunk_name(i, k), part.name, part.chunk_rows(k, chunk_rows), part.partition, table


def _run_in_process(tasks: Iterator[tuple], on_done: Callable[[str, dict], None]) -> None:
    for task in tasks:
        on_done(*score_task(*task))


def worker_context() -> BaseContext:
    """Workers forked from a fork server that has imported only the scoring side (not the caller's __main__,
    which for the CLI is every command); spawned where there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return get_context("spawn")
    context = get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def _start_fork_server(context: BaseContext) -> None:
    """Start the fork server (and multiprocessing's resource tracker) with Ctrl-C ignored from their first
    instruction: an ignored signal stays ignored across exec, so a Ctrl-C in a job's first seconds goes to the job
    alone instead of printing a traceback from the fork server's imports; and ending with this process even while
    it imports (the parent-death signal follows the thread that started a process: the main thread outlives the
    job). Only the main thread sets signals; elsewhere the fork server starts with the first worker, as
    multiprocessing does it."""
    if context.get_start_method() != "forkserver" or threading.current_thread() is not threading.main_thread():
        return
    context.set_forkserver_preload([PRELOAD_ENDING_WITH_JOB])
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _callers_main_hidden() -> Iterator[None]:
    """While workers start, hide the caller's __main__ from multiprocessing, which has every new process import
    it (for `thinfile batch-score` that is every command of the CLI, about twice the scoring side's imports).
    Workers run only functions of the worker module, so they never need it."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> tuple[threading.Thread, list[Future], list]:
    """Start every worker from a thread (starting one waits for the fork server's imports); returns the thread,
    one `ready` call per worker, and where the thread leaves an error."""
    ready: list[Future] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with _callers_main_hidden():  # a worker process starts for each submitted call
                ready.extend(pool.submit(worker.ready) for _ in range(workers))
        except BaseException as err:  # handed to the main thread
            errors.append(err)

    thread = threading.Thread(target=start, name="thinfile-start-workers", daemon=True)
    thread.start()
    return thread, ready, errors


def _run_pool(
    tasks: Iterator[tuple], workers: int, in_flight: int, initargs: tuple, on_done: Callable[[str, dict], None]
) -> None:
    """Chunks to a pool of worker processes, at most `in_flight` each; results handed to `on_done` as they come.

    Until the first worker is ready (imports, then its first explanation warmed up) this process scores chunks
    itself, as many as the workers will hold at once (`init_worker(0, ...)` must have run here).
    """
    running: set[Future] = set()
    helped = 0
    shared = can_share()
    context = worker_context()
    _start_fork_server(context)
    before = set(multiprocessing.active_children())
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker, initargs=initargs)
    starting, ready, errors = _start_workers(pool, workers)
    try:
        for task in tasks:
            if errors:
                raise errors[0]
            if helped < workers * in_flight and not any(f.done() for f in ready):
                on_done(*score_task(*task))
                helped += 1
                continue
            while len(running) >= workers * in_flight:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    on_done(*f.result())
            name, source, rows, partition, table = task
            running.add(pool.submit(score_task, name, source, rows, partition, ship(table, shared)))
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                on_done(*f.result())
        if errors:
            raise errors[0]
    except (BrokenProcessPool, EOFError, ConnectionError):  # a worker, or the fork server, was killed
        _stop_pool(pool, starting, kill_all_but=before)
        release_untaken_chunks()
        raise BatchStoppedError(WORKER_DIED) from None
    except BaseException:
        _stop_pool(pool, starting)
        release_untaken_chunks()
        raise
    pool.shutdown(wait=False, cancel_futures=True)  # idle workers exit (or finish starting) in the background


def _stop_pool(pool: ProcessPoolExecutor, starting: threading.Thread, kill_all_but: set | None = None) -> None:
    """Shut the pool down once the thread starting its workers has ended; with `kill_all_but` (the child processes
    there were before the pool), a broken pool's workers are killed first.

    A worker still being started when the pool broke or was stopped is added to it after the pool has told its
    workers to end, and would wait for work for ever, with the shutdown waiting on it (CPython 3.11)."""
    starting.join(timeout=30)  # once the pool is broken or shut, its last start returns at once
    if kill_all_but is not None:
        for process in set(multiprocessing.active_children()) - kill_all_but:
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


@register_engine("embedded")
def run_embedded(job: BatchJob) -> BatchResult:
    """Chunks read here (bounded read-ahead), scored in a pool of worker processes, each part committed atomically."""
    started = time.perf_counter()
    scorer, tag, chunk_rows = job.scorer, job.tag, job.chunk_rows
    parts = inspect_input(job.input, scorer.schema, job.settings.max_wrong_field_rows)
    manifest = new_manifest(
        "embedded",
        [p.as_dict() for p in parts],
        tag.as_dict(),
        scorer.schema.fingerprint,
        chunk_rows,
        job.settings.top_reasons,
    )
    with open_output(job.output, manifest, job.input, job.overwrite) as (layout, manifest):
        if manifest["complete"]:
            return result_found_complete(layout, manifest, started)
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
    pending = sum(chunk_name(i, k) not in chunks for i, p in enumerate(parts) for k in range(p.chunks(job.chunk_rows)))
    if not pending:
        return
    total = sum(p.rows for p in parts)
    done = sum(c["counts"]["rows_in"] for c in chunks.values())
    few = pending == 1 or total - done <= job.in_process_rows  # scored here sooner than workers start
    workers = 1 if few else job.workers
    if workers > 1:  # its imports run beside this process's warm-up
        _start_fork_server(worker_context())
    last_write = [time.monotonic()]
    with rows_bar(job.console, job.progress) as bar:
        task = bar.add_task("scoring", total=total, completed=done, **{RESUMED: done})

        def on_done(name: str, footer: dict) -> None:
            chunks[name] = footer
            if job.stop is not None:
                job.stop()
            bar.advance(task, footer["counts"]["rows_in"])
            if time.monotonic() - last_write[0] >= job.settings.manifest_every_s:
                update_manifest(layout, manifest, chunks)
                last_write[0] = time.monotonic()

        tasks = _pending_chunks(parts, set(chunks), scorer.schema, job.chunk_rows)
        threads = scorer.num_threads
        try:
            if workers == 1:
                init_worker(0, scorer, tag, job.settings, layout, threads)
                _run_in_process(tasks, on_done)
            else:
                init_worker(0, scorer, tag, job.settings, layout, 1)
                initargs = (os.getpid(), scorer.pickled_for_workers(), tag, job.settings, layout, 1)
                with threadpool_limits(1), sharer_resets_quiet():  # this process scores too while workers start
                    _run_pool(tasks, workers, job.settings.in_flight_per_worker, initargs, on_done)
        finally:
            scorer.num_threads = threads
            with contextlib.suppress(OSError):  # the parts' footers, not the manifest, are the record
                update_manifest(layout, manifest, chunks)
