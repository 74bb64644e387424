"""What a Spark task of batch scoring runs, and how a job is cut into tasks.

Kept light on purpose, like the embedded engine's worker module (which it uses): Spark's Python workers import
this module to run a task, so it imports the scoring side and nothing of the driver (no registry, tracking or
report rendering), and pyspark not at all.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits

from thinfile.serving.batch import worker
from thinfile.serving.batch.input import BatchInputError, InputPart, read_chunks
from thinfile.serving.batch.output import OutputLayout, chunk_name
from thinfile.serving.batch.scoring import ModelTag
from thinfile.serving.batch.settings import BatchSettings


@dataclass(frozen=True)
class ChunkRun:
    """What one Spark task scores: some chunks of one input file (the `part_index`-th)."""

    part_index: int
    part: InputPart
    chunks: tuple[int, ...]

    def chunk_rows(self, k: int, chunk_rows: int) -> int:
        """Rows in chunk `k` (the file's last chunk may be short), with those it sets aside unread."""
        read = max(min(chunk_rows, self.part.read_rows - k * chunk_rows), 0)
        return read + len(self.part.chunk_rows(k, chunk_rows).wrong_fields)


def plan_runs(
    parts: list[InputPart], done: set[str], chunk_rows: int, slots: int, per_row_group: int = 2
) -> list[ChunkRun]:
    """The chunks not in `done`, as runs of consecutive chunks of one file: each file gets a share of the `slots`
    (Spark's cores) in proportion to its chunks, at least one, and at most `per_row_group` per row group of the
    file (a CSV file counts as one): a run decodes its file from the start of the row group holding its first
    chunk, so more runs per row group would read it again and again."""
    pending = [
        (i, [k for k in range(p.chunks(chunk_rows)) if chunk_name(i, k) not in done]) for i, p in enumerate(parts)
    ]
    total = sum(len(ks) for _, ks in pending)
    runs: list[ChunkRun] = []
    for i, ks in pending:
        if ks:
            share = math.ceil(max(slots, 1) * len(ks) / total)
            pieces = min(len(ks), share, per_row_group * parts[i].row_groups)
            runs.extend(ChunkRun(i, parts[i], tuple(int(k) for k in run)) for run in np.array_split(ks, pieces))
    return runs


def score_runs(
    scorer: Any,
    tag: ModelTag,
    settings: BatchSettings,
    layout: OutputLayout,
    chunk_rows: int,
    threads: int,
    stop: Path,
    job: str,
) -> Callable[[Iterator[ChunkRun]], Iterator[tuple[str, dict]]]:
    """The task: each run's chunks read, scored and committed; yields (chunk name, footer), or ("", {"error": why})
    for a file that cannot be read or a folder this executor does not see (the same on every try, so the driver
    stops the job rather than Spark retrying). It ends before its next chunk once the file `stop` exists (a
    cancelled task's Python worker would run on until Spark kills it).

    `scorer` is a broadcast of the pickled scorer, unpickled once per Python worker (Spark reuses them)."""

    def run(runs: Iterator[ChunkRun]) -> Iterator[tuple[str, dict]]:
        if not layout.scores.is_dir():
            yield "", {"error": _unseen("OUTPUT", layout.root)}
            return
        if not worker.prepared_for(job):
            pa.set_cpu_count(threads)
            worker.init_worker(0, scorer.value, tag, settings, layout, threads, job)
        schema = worker.current_schema()
        with threadpool_limits(threads):
            for r in runs:
                if not r.part.path.is_file():
                    yield "", {"error": _unseen("the input file", r.part.path)}
                    return
                skip = set(range(r.part.chunks(chunk_rows))) - set(r.chunks)
                try:
                    for k, table in read_chunks(r.part, schema, chunk_rows, skip):
                        if stop.exists():
                            return
                        yield worker.score_task(
                            chunk_name(r.part_index, k),
                            r.part.name,
                            r.part.chunk_rows(k, chunk_rows),
                            r.part.partition,
                            table,
                        )
                except BatchInputError as err:
                    yield "", {"error": str(err)}
                    return

    return run


def _unseen(what: str, path: Path) -> str:
    return (
        f"{what} {path} is not visible on the Spark executor on {socket.gethostname()}: Spark's tasks read the input "
        "and write the output themselves, so both must be on storage every executor sees (a shared mount such as "
        "/dbfs/... or NFS)"
    )
