"""The scoring side of the embedded engine: what runs in each worker process, and how chunks reach it.

Kept light on purpose (no registry, tracking or report rendering): a worker imports this module, the
scorer's own dependencies and the validation, nothing else, so it is ready in about a second.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import reduction, resource_sharer
from types import TracebackType

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from thinfile.features.lifetime import die_with_parent
from thinfile.features.schema import Schema
from thinfile.serving.batch.input import ChunkRows, normalise
from thinfile.serving.batch.output import OutputLayout, write_parquet_atomic
from thinfile.serving.batch.scoring import ModelTag, score_table
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.batch.stats import chunk_stats
from thinfile.training.scorer.artefact import Scorer

_WORKER: dict = {}


def _watch(job: int, every_s: float = 0.5) -> None:
    """A thread that ends this process as soon as the job's process is gone (a pidfd where there is one)."""

    def by_pidfd(fd: int) -> None:
        select.select([fd], [], [])
        os._exit(1)

    def by_polling() -> None:
        while True:
            try:
                os.kill(job, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass
            time.sleep(every_s)

    try:
        fd = os.pidfd_open(job)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):
        thread = threading.Thread(target=by_polling, name="thinfile-job-watch", daemon=True)
    else:
        thread = threading.Thread(target=by_pidfd, args=(fd,), name="thinfile-job-watch", daemon=True)
    thread.start()


def end_with_job(job: int) -> None:
    """End this process when the job's process ends, even by SIGKILL.

    Workers are forked by multiprocessing's fork server, which outlives the job while any worker holds
    its pipe: so each worker watches the job's process itself, and also takes the kernel's parent-death
    signal (Linux) in case the fork server goes first.
    """
    die_with_parent(signal.SIGKILL)
    _watch(job)


def init_worker(
    parent: int,
    scorer: Scorer | bytes,
    tag: ModelTag,
    settings: BatchSettings,
    layout: OutputLayout,
    threads: int,
    job: str = "",
) -> None:
    """Set up a scoring process (`parent` 0: scoring in the job's own process); `scorer`, or pickled; `job` names
    the job run (see `prepared_for`)."""
    if parent:
        end_with_job(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        pa.set_cpu_count(max(threads, 1))
        pa.set_io_thread_count(max(threads, 1))
        threadpool_limits(max(threads, 1))  # for the process's life: idle BLAS threads spin on other workers' cores
    if isinstance(scorer, bytes):
        scorer = pickle.loads(scorer)
    assert isinstance(scorer, Scorer)
    scorer.num_threads = threads
    if parent:
        warm_up(scorer, settings)
    _WORKER.update(scorer=scorer, tag=tag, settings=settings, layout=layout, job=job)


def prepared_for(job: str) -> bool:
    """Whether `init_worker` has set this process up for the job run called `job` (Spark reuses its Python
    workers across jobs, which may bring another scorer, schema or settings)."""
    return bool(job) and _WORKER.get("job") == job


def current_schema() -> Schema:
    """The feature schema of the scorer this process was set up with."""
    return _WORKER["scorer"].schema


def warm_up(scorer: Scorer, settings: BatchSettings) -> None:
    """Explain and count one row, so the compiled kernels are loaded before the worker says it is ready (until then
    the job's process scores chunks itself)."""
    explanation = scorer.explain(np.zeros((1, len(scorer.schema.features))), settings.top_reasons)
    chunk_stats(scorer, explanation, pa.table({}), settings)


def ready() -> int:
    """A call that only starts a worker (its initializer runs first); returns its process id."""
    return os.getpid()


def pack(table: pa.Table) -> bytes:
    """A chunk as Arrow IPC bytes, to send to a worker where no in-memory file can be shared."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def unpack(chunk: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(chunk)).read_all()


class SharedChunk:
    """A chunk's Arrow IPC stream in an anonymous in-memory file, handed to a worker as a file descriptor (the
    kernel's SCM_RIGHTS, as multiprocessing passes sockets): written once here and mapped there, where bytes
    sent through the pool's pipe are copied five times on the way. The memory is freed once both processes have
    let go of it, whichever way either ends."""

    def __init__(self, table: pa.Table) -> None:
        fd = os.memfd_create("thinfile-chunk", os.MFD_CLOEXEC)
        try:
            with pa.OSFile(_fd_path(fd), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            self.handle = reduction.DupFd(fd)
        finally:
            os.close(fd)

    def open(self) -> pa.Table:
        """The chunk, its buffers mapped from the shared file (once per chunk, in the worker)."""
        fd = self.handle.detach()
        try:
            return pa.ipc.open_stream(pa.memory_map(_fd_path(fd))).read_all()
        finally:
            os.close(fd)


@contextmanager
def sharer_resets_quiet() -> Iterator[None]:
    """While chunks are handed to workers: a worker killed as it takes one hangs up on multiprocessing's
    resource sharer (a reset, a broken pipe, or an end of file mid-handshake), whose thread prints that through
    sys.excepthook and goes on serving; the traceback would follow the job's one-line error. Those exceptions,
    from there, are left out."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, (ConnectionError, EOFError)) and any(
            frame.f_code.co_filename == resource_sharer.__file__ for frame, _ in traceback.walk_tb(tb)
        ):
            return
        previous(kind, error, tb)

    sys.excepthook = hook
    try:
        yield
    finally:
        sys.excepthook = previous


def release_untaken_chunks() -> None:
    """Free the shared chunks no worker took (the job failed or was stopped before handing them over)."""
    resource_sharer.stop()


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def can_share() -> bool:
    """Chunks go to workers as shared in-memory files (Linux), else as bytes."""
    return hasattr(os, "memfd_create") and os.path.isdir(_fd_path(0).rsplit("/", 1)[0])


def ship(table: pa.Table, shared: bool) -> SharedChunk | bytes:
    """A chunk ready to hand to a worker."""
    return SharedChunk(table) if shared else pack(table)


def arrive(chunk: pa.Table | SharedChunk | bytes) -> pa.Table:
    """The table of a chunk as `ship` sent it."""
    if isinstance(chunk, SharedChunk):
        return chunk.open()
    return unpack(chunk) if isinstance(chunk, bytes) else chunk


def score_task(
    name: str,
    source: str,
    rows: ChunkRows | int,
    partition: dict[str, str | None],
    chunk: pa.Table | SharedChunk | bytes,
) -> tuple[str, dict]:
    """Score one chunk and commit its parts: rejects first, scores (with counts in the footer) last. `rows`: where
    the chunk's rows are in the `source` file (`InputPart.chunk_rows`), or its first row's number there."""
    w = _WORKER
    table = normalise(arrive(chunk), partition, w["scorer"].schema)
    result = score_table(table, w["scorer"], w["tag"], w["settings"], source=source, first_row=rows)
    layout: OutputLayout = w["layout"]
    footer = {
        "counts": result.counts,
        "source": source,
        "first_row": ChunkRows.of(rows).first,
        "stats": result.stats,
        "rejected_by_column": result.rejected_by_column,
    }
    if result.rejects.num_rows:
        write_parquet_atomic(result.rejects, layout.rejects_part(name))
    write_parquet_atomic(result.scores, layout.scores_part(name), footer)
    return name, footer
