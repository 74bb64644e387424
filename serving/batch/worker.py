"""The scoring side of the embedded engine: what runs in each worker process, and how chunks reach it.

Kept light on purpose (no registry, tracking or report rendering): a worker imports this module, the
scorer's own dependencies and the validation, nothing else, so it is ready in about a second.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time

import pyarrow as pa

from thinfile.serving.batch.input import normalise
from thinfile.serving.batch.output import OutputLayout, write_parquet_atomic
from thinfile.serving.batch.scoring import ModelTag, score_table
from thinfile.serving.batch.settings import BatchSettings

_WORKER: dict = {}
_PR_SET_PDEATHSIG = 1


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


def init_worker(
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


def score_task(
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
