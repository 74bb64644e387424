"""Batch scoring: `batch_score(input, output, model)` over Parquet/CSV files or folders, crash-safe and resumable.

The embedded engine reads fixed-size chunks in the parent process (bounded read-ahead) and scores them
in a pool of worker processes, each holding the scorer once; every worker writes its chunk's parts
atomically. `engine="spark"` runs the same scoring function with Spark (see spark_engine.py).
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from thinfile.config import CHAMPION_ALIAS, FairnessLimits, Settings
from thinfile.serving.batch_input import BatchInputError, InputPart, inspect_input, read_chunks
from thinfile.serving.batch_output import (
    OutputLayout, chunk_name, finished_chunks, new_manifest, open_output, remove_temporaries, update_manifest,
    write_parquet_atomic,
)
from thinfile.serving.batch_scoring import ModelTag, score_frame
from thinfile.serving.population_report import build_report, merge_stats, write_report
from thinfile.training.scorer import META_FILE, Scorer

ENGINES = ("embedded", "spark")


class BatchIntegrityError(RuntimeError):
    """Counts do not reconcile (rows in != scored + rejected, or a chunk is missing); the job is not marked complete."""


@dataclass(frozen=True)
class BatchResult:
    """What a finished job did; `rows_in == scored + rejected` has been checked."""

    output: Path
    engine: str
    rows_in: int
    scored: int
    rejected: int
    chunks: int
    chunks_skipped: int
    seconds: float
    model: dict
    report: dict = field(repr=False)

    @property
    def rows_per_s(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> str:
        shifted = self.report.get("stability", {}).get("shifted") or []
        lines = [
            f"rows in {self.rows_in:,} = scored {self.scored:,} + rejected {self.rejected:,}  (reconciled)",
            f"model {self.model['name']} version {self.model['version']}; engine {self.engine}; "
            f"{self.chunks} parts ({self.chunks_skipped} already done); {self.seconds:.1f} s",
            f"output {self.output / 'scores'}; rejects {self.output / 'rejects'}; report {self.output / 'population_report.html'}",
        ]
        if shifted:
            lines.append(f"PSI above the flag for: {', '.join(shifted)}")
        return "\n".join(lines)


def resolve_scorer(model: Scorer | str | int | Path = CHAMPION_ALIAS) -> Scorer:
    """A Scorer as given, a saved-scorer folder, or a registry alias / version / models:/ URI."""
    if isinstance(model, Scorer):
        return model
    if isinstance(model, (str, Path)) and (Path(model) / META_FILE).is_file():
        return Scorer.load(model)
    from thinfile.training.registry import load_scorer

    return load_scorer(model)


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s", style="progress.data.speed")


def _progress(console: Console | None, enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                    RowsPerSecond(), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    disable=not enabled, transient=False)


# ---------------------------------------------------------------- worker side

_WORKER: dict = {}


def _init_worker(scorer_bytes: bytes, tag: ModelTag, settings: Settings, layout: OutputLayout, threads: int) -> None:
    scorer = pickle.loads(scorer_bytes)
    scorer.num_threads = threads
    _WORKER.update(scorer=scorer, tag=tag, settings=settings, layout=layout)


def _score_task(name: str, source: str, first_row: int, table: pa.Table) -> tuple[str, dict]:
    """Score one chunk and commit its parts: rejects first, scores (with counts in the footer) last."""
    w = _WORKER
    result = score_frame(table.to_pandas(), w["scorer"], w["tag"], w["settings"].batch, source=source, first_row=first_row)
    layout: OutputLayout = w["layout"]
    footer = {"counts": result.counts, "source": source, "first_row": first_row, "stats": result.stats}
    if len(result.rejects):
        write_parquet_atomic(result.rejects, layout.rejects_part(name))
    write_parquet_atomic(result.scores, layout.scores_part(name), footer)
    return name, footer


# ---------------------------------------------------------------- parent side


def _pending_chunks(parts: list[InputPart], done: set[str], schema, chunk_rows: int) -> Iterator[tuple[str, str, int, pa.Table]]:
    for i, part in enumerate(parts):
        skip = {k for k in range(part.chunks(chunk_rows)) if chunk_name(i, k) in done}
        for k, table in read_chunks(part, schema, chunk_rows, skip):
            yield chunk_name(i, k), part.name, k * chunk_rows, table


def _run_in_process(tasks: Iterator[tuple], on_done: Callable[[str, dict], None]) -> None:
    for task in tasks:
        on_done(*_score_task(*task))


def _run_pool(tasks: Iterator[tuple], workers: int, in_flight: int, initargs: tuple, on_done: Callable[[str, dict], None]) -> None:
    running: set[Future] = set()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker, initargs=initargs) as pool:
        try:
            for task in tasks:
                while len(running) >= workers * in_flight:
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for f in finished:
                        on_done(*f.result())
                running.add(pool.submit(_score_task, *task))
            for f in wait(running).done:
                on_done(*f.result())
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
            problems.append(f"{name}: rows in {counts['rows_in']} != scored {counts['scored']} + rejected {counts['rejected']}")
    if problems:
        raise BatchIntegrityError("counts do not reconcile:\n  " + "\n  ".join(problems))
    return {k: sum(c["counts"][k] for c in chunks.values()) for k in ("rows_in", "scored", "rejected")}


def batch_score(
    input: str | Path,
    output: str | Path,
    model: Scorer | str | int | Path = CHAMPION_ALIAS,
    *,
    engine: str = "embedded",
    master: str | None = None,
    chunk_rows: int | None = None,
    workers: int | None = None,
    settings: Settings | None = None,
    overwrite: bool = False,
    progress: bool = False,
    console: Console | None = None,
) -> BatchResult:
    """Score every row of `input` into `output` (scores/, rejects/, manifest.json, population_report.*)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    settings = settings or Settings()
    chunk_rows = chunk_rows or settings.batch.chunk_rows
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    scorer = resolve_scorer(model)
    if engine == "spark":
        from thinfile.serving.spark_engine import spark_batch_score

        return spark_batch_score(input, output, scorer, master=master or settings.batch.spark_master,
                                 chunk_rows=chunk_rows, settings=settings, overwrite=overwrite, console=console)
    started = time.perf_counter()
    tag = ModelTag.of(scorer)
    parts = inspect_input(input, scorer.schema)
    manifest = new_manifest("embedded", [p.as_dict() for p in parts], tag.as_dict(), scorer.schema.fingerprint,
                            chunk_rows, settings.batch.top_reasons)
    layout, _ = open_output(output, manifest, Path(input), overwrite)
    remove_temporaries(layout)
    chunks = finished_chunks(layout)
    skipped = len(chunks)
    manifest = update_manifest(layout, manifest, chunks)
    total = sum(p.rows for p in parts)
    workers = workers or settings.batch.workers or default_workers()
    last_write = [time.monotonic()]

    with _progress(console, progress) as bar:
        task = bar.add_task("score", total=total, completed=sum(c["counts"]["rows_in"] for c in chunks.values()))

        def on_done(name: str, footer: dict) -> None:
            chunks[name] = footer
            bar.advance(task, footer["counts"]["rows_in"])
            if time.monotonic() - last_write[0] >= settings.batch.manifest_every_s:
                update_manifest(layout, manifest, chunks)
                last_write[0] = time.monotonic()

        tasks = _pending_chunks(parts, set(chunks), scorer.schema, chunk_rows)
        try:
            if workers == 1:
                _init_worker(pickle.dumps(scorer), tag, settings, layout, scorer.num_threads)
                _run_in_process(tasks, on_done)
            else:
                initargs = (pickle.dumps(scorer), tag, settings, layout, 1)
                _run_pool(tasks, workers, settings.batch.in_flight_per_worker, initargs, on_done)
        finally:
            update_manifest(layout, manifest, chunks)

    counts = reconcile(parts, chunks, chunk_rows)
    return finish_job(layout, manifest, chunks, scorer, tag, settings, "embedded", counts, skipped,
                      time.perf_counter() - started)


def finish_job(layout: OutputLayout, manifest: dict, chunks: dict[str, dict], scorer: Scorer, tag: ModelTag,
               settings: Settings, engine: str, counts: dict[str, int], skipped: int, seconds: float,
               fairness: FairnessLimits | None = None) -> BatchResult:
    """Population report beside the output, manifest marked complete, result returned."""
    stats = None
    for c in chunks.values():
        if c.get("stats"):
            stats = merge_stats(stats, c["stats"])
    job = {"engine": engine, **counts, "seconds": round(seconds, 3)}
    report = build_report(stats, scorer, settings.batch, fairness or settings.fairness, job, tag.as_dict())
    write_report(report, scorer, layout.root)
    update_manifest(layout, {**manifest, "population_flag": report["stability"].get("flag", False)}, chunks, complete=True)
    return BatchResult(output=layout.root, engine=engine, chunks=len(chunks), chunks_skipped=skipped,
                       seconds=seconds, model=tag.as_dict(), report=report, **counts)


__all__ = ["BatchInputError", "BatchIntegrityError", "BatchResult", "batch_score", "resolve_scorer"]
