"""A batch job and its result, the engine registry (as pandera registers backends), and `batch_score`.

An engine is a function `run(job) -> BatchResult` registered under a name with `@register_engine`. The
built-in engines (embedded, spark) register themselves when their module is imported; `engine(name)`
imports it on first use, so an optional engine's dependencies (pyspark) load only when asked for.
"""

from __future__ import annotations

import errno
import importlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rich.console import Console

from thinfile.features.jsonio import jsonable
from thinfile.features.schema import Schema, load_schema
from thinfile.features.words import counted
from thinfile.serving.batch.input import InputPart
from thinfile.serving.batch.output import (
    REPORT_JSON,
    SCORES,
    BatchOutputError,
    OutputLayout,
    chunk_name,
    duplicate_ids,
    ensure_a_part,
    update_manifest,
)
from thinfile.serving.batch.report import absent_groups_note, build_report, report_figures, write_report
from thinfile.serving.batch.scoring import REJECTS_SCHEMA, ModelTag, scores_schema
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.batch.stats import merge_stats
from thinfile.training.registry import ModelNotFoundError, load_scorer
from thinfile.training.scorer.artefact import META_FILE, Scorer
from thinfile.training.settings import FairnessAudit, FairnessLimits, StabilityLimits, model_name_for

BUILTIN_ENGINES = {"embedded": "thinfile.serving.batch.embedded", "spark": "thinfile.serving.batch.spark"}


RESUME = "finished parts are kept, rerun the same command to resume"
REPORT_UNWRITTEN = (
    "every row is scored and kept, but the population report was not written: rerun the same command to write it"
)


class BatchIntegrityError(RuntimeError):
    """Counts do not reconcile (rows in != scored + rejected, or a chunk is missing); the job is not marked complete."""


class BatchStoppedError(RuntimeError):
    """The job stopped part-way (disk full, a worker died, an I/O error); finished parts are kept, a rerun resumes."""


_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL = {errno.ENOSPC, errno.EDQUOT}


def _parts_written(output: Path) -> int:
    try:
        return sum(1 for _ in (output / SCORES).glob("part-*.parquet"))
    except OSError:
        return 0


def kept_parts(output: Path) -> str:
    """What a stopped job leaves and what to do: the finished parts in `output` are kept and a rerun resumes."""
    parts = _parts_written(output)
    if not parts:
        return "no part was finished; rerun the same command to start again"
    kept = "1 finished part is kept" if parts == 1 else f"{parts:,} finished parts are kept"
    return f"{kept}, rerun the same command to resume"


def output_failure(err: OSError, output: Path, kept: str = "") -> BatchOutputError | BatchStoppedError:
    """One line for an operating-system error met while writing the job's output, saying what to do: `kept` says
    what is left and how to go on (by default, the finished parts and a rerun that resumes)."""
    output = output.resolve()
    parts = _parts_written(output)
    kept = kept or kept_parts(output)
    if err.errno in _READ_ONLY:
        return BatchOutputError(
            f"cannot write to {output} ({err.strerror or 'permission denied'}); make it writable or give another "
            f"output folder" + (f" ({parts:,} finished parts are kept there)" if parts else "")
        )
    if err.errno in _FULL:
        try:
            free = f", {shutil.disk_usage(output if output.exists() else output.parent).free / 2**20:,.1f} MiB free"
        except OSError:
            free = ""
        return BatchStoppedError(f"no space left on the disk holding {output}{free}; free some space; {kept}")
    if err.errno in (errno.ENOTDIR, errno.EEXIST) and output.exists() and not output.is_dir():
        return BatchOutputError(f"{output} is a file, not a folder; give the output folder another path")
    where = f" ({err.filename})" if err.filename else ""
    return BatchStoppedError(f"writing the output failed: {err.strerror or err}{where}; {kept}")


@dataclass(frozen=True)
class BatchJob:
    """Everything an engine needs: what to score, with which model, where to, and under which settings."""

    input: Path
    output: Path
    scorer: Scorer
    settings: BatchSettings = field(default_factory=BatchSettings)
    fairness: FairnessLimits = field(default_factory=FairnessLimits)
    groups: FairnessAudit = field(default_factory=FairnessAudit)
    stability: StabilityLimits = field(default_factory=StabilityLimits)
    chunk_rows: int = 50_000
    workers: int = 0
    in_process_rows: int = 0
    """a job with at most this many rows left to score runs in this process, with no workers"""
    master: str | None = None
    overwrite: bool = False
    progress: bool = False
    console: Console | None = None
    stop: Callable[[], None] | None = None
    """called as each part is committed: raises to stop the job (a signal whose exception Python swallowed)"""

    @cached_property
    def tag(self) -> ModelTag:
        return model_tag(self.scorer)


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
    duplicate_ids: dict = field(default_factory=dict)
    found_complete: str = ""
    """when this run found the job complete, the time its last run finished: nothing was scored or rewritten"""

    @property
    def rows_per_s(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else float("nan")

    def summary(self) -> str:
        stability = self.report.get("stability", {})
        shifted = stability.get("shifted") or []
        lines = [
            f"rows in {self.rows_in:,} = scored {self.scored:,} + rejected {self.rejected:,}  (reconciled)",
            f"model {self.model['name']} version {self.model['version']}; engine {self.engine}; "
            f"{self.chunks} part{'' if self.chunks == 1 else 's'} ({self.chunks_skipped} already done); "
            f"{self.seconds:.1f} s",
            f"output {self.output / 'scores'}; rejects {self.output / 'rejects'}; "
            f"report {self.output / 'population_report.html'}",
        ]
        cuts = {c["name"]: c["cutoff"] for c in self.report.get("approval_at_cutoffs", [])}
        if cuts:
            lines.append(f"approve at {cuts['approve']:g} and above, refer from {cuts['refer']:g}")
        if self.found_complete:
            lines.append(
                f"the output was already complete (finished {self.found_complete}, engine {self.engine}): nothing "
                "was scored or rewritten"
            )
        if not self.rows_in:
            lines.append("the input holds no rows (a header only?): nothing was scored; check what wrote it")
        if shifted:
            lines.append(f"PSI above the flag for: {', '.join(shifted)}")
        if absent := absent_groups_note(self.report):
            lines.append(absent)
        elif stability.get("available") and not stability.get("judged", True):
            lines.append(f"PSI against training: {stability['note']} (stability.min_rows)")
        if self.duplicate_ids.get("ids"):
            d = self.duplicate_ids
            lines.append(
                f"duplicate ids: {counted(d['ids'], 'id')} {'appears' if d['ids'] == 1 else 'appear'} more than once "
                f"({counted(d['rows'], 'row')}), first "
                f"{', '.join(map(str, d['first']))}; each row was scored (or rejected) on its own"
            )
        return "\n".join(lines)


Engine = Callable[[BatchJob], BatchResult]
_ENGINES: dict[str, Engine] = {}


def register_engine(name: str) -> Callable[[Engine], Engine]:
    """Register `run(job) -> BatchResult` as the engine called `name`."""

    def register(run: Engine) -> Engine:
        _ENGINES[name] = run
        return run

    return register


def model_tag(scorer: Scorer) -> ModelTag:
    """The model's name (its registered name, else the project's), version (else local-<hash>) and fingerprint."""
    fp = ModelTag.fingerprint_of(scorer)
    return ModelTag(
        name=str(scorer.meta.get("name") or model_name_for(scorer.schema)),
        version=str(scorer.meta.get("version") or f"local-{fp[:8]}"),
        fingerprint=fp,
    )


def engine_names() -> list[str]:
    """The batch engines one can name (embedded, spark, and any registered)."""
    return sorted(set(BUILTIN_ENGINES) | set(_ENGINES))


def get_engine(name: str) -> Engine:
    """The engine registered as `name`, importing a built-in engine's module on first use."""
    if name not in _ENGINES and name in BUILTIN_ENGINES:
        importlib.import_module(BUILTIN_ENGINES[name])
    try:
        return _ENGINES[name]
    except KeyError:
        raise ValueError(f"engine must be one of {', '.join(engine_names())}, got {name!r}") from None


def resolve_scorer(model: Scorer | str | int | Path, name: str, schema: Schema | None = None) -> Scorer:
    """A Scorer as given, a saved-scorer folder, or a registry alias / version / models:/ URI of model `name` (when
    empty, the project's name: `schema`'s, else the built-in schema's)."""
    if isinstance(model, Scorer):
        return model
    if isinstance(model, (str, Path)) and (Path(model) / META_FILE).is_file():
        return Scorer.load(model)
    text = str(model)
    if isinstance(model, Path) or (not text.startswith("models:/") and ("/" in text or text.startswith("."))):
        what = "is not a folder" if not Path(text).is_dir() else f"holds no {META_FILE}: it is not a saved scorer"
        raise ModelNotFoundError(
            f"--model {text} {what}; give a folder a scorer was saved to (Scorer.save), or a registry alias, "
            "version or models:/ URI"
        )
    return load_scorer(model if isinstance(model, int) else text, name or model_name_for(schema or load_schema()))


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


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


def finish_job(
    job: BatchJob,
    layout: OutputLayout,
    manifest: dict,
    chunks: dict[str, dict],
    engine_name: str,
    counts: dict[str, int],
    skipped: int,
    started: float,
) -> BatchResult:
    """Duplicate ids counted, population report beside the output, manifest marked complete, result returned.

    `started` is the job's `time.perf_counter()` at its start: the result's seconds include all of this.
    """
    stats = None
    for c in chunks.values():
        if c.get("stats"):
            stats = merge_stats(stats, c["stats"])
    tag = job.tag
    by_column: Counter[str] = Counter()
    for c in chunks.values():
        by_column.update(c.get("rejected_by_column") or {})
    limits = (job.settings, job.fairness, job.groups, job.stability)
    with ThreadPoolExecutor(1, thread_name_prefix="thinfile-duplicate-ids") as pool:  # Arrow counts, figures draw
        counting = pool.submit(duplicate_ids, layout, job.scorer.schema.id_column, job.settings.duplicates_shown)
        figures = report_figures(jsonable(build_report(stats, job.scorer, *limits, {}, tag.as_dict())), job.scorer)
        duplicates = counting.result()
    summary = {
        "engine": engine_name,
        **counts,
        "seconds": round(time.perf_counter() - started, 3),
        "rejected_by_column": dict(by_column.most_common()),
        "duplicate_ids": duplicates,
    }
    report = jsonable(build_report(stats, job.scorer, *limits, summary, tag.as_dict()))
    ensure_a_part(layout.rejects, REJECTS_SCHEMA)
    ensure_a_part(layout.scores, scores_schema(job.scorer.schema, job.settings.top_reasons))
    try:
        write_report(report, job.scorer, layout.root, figures)
    except OSError as err:
        raise output_failure(err, layout.root, REPORT_UNWRITTEN) from err
    update_manifest(
        layout,
        {**manifest, "population_flag": report["stability"].get("flag", False), "duplicate_ids": duplicates},
        chunks,
        complete=True,
    )
    return BatchResult(
        output=layout.root,
        engine=engine_name,
        rows_in=counts["rows_in"],
        scored=counts["scored"],
        rejected=counts["rejected"],
        chunks=len(chunks),
        chunks_skipped=skipped,
        seconds=time.perf_counter() - started,
        model=tag.as_dict(),
        report=report,
        duplicate_ids=duplicates,
    )


def result_found_complete(layout: OutputLayout, manifest: dict, started: float) -> BatchResult:
    """The result of a job its output folder already holds complete, from its manifest and report as they are."""
    chunks, counts = len(manifest["chunks"]), manifest["counts"]
    return BatchResult(
        output=layout.root,
        engine=manifest["engine"],
        rows_in=counts["rows_in"],
        scored=counts["scored"],
        rejected=counts["rejected"],
        chunks=chunks,
        chunks_skipped=chunks,
        seconds=time.perf_counter() - started,
        model=manifest["model"],
        report=json.loads((layout.root / REPORT_JSON).read_text()),
        duplicate_ids=manifest.get("duplicate_ids", {}),
        found_complete=manifest.get("finished", ""),
    )


def batch_score(
    input: str | Path,
    output: str | Path,
    model: Scorer | str | int | Path,
    *,
    name: str = "",
    schema: Schema | None = None,
    engine: str = "embedded",
    master: str | None = None,
    chunk_rows: int | None = None,
    workers: int | None = None,
    settings: BatchSettings | None = None,
    fairness: FairnessLimits | None = None,
    groups: FairnessAudit | None = None,
    stability: StabilityLimits | None = None,
    overwrite: bool = False,
    progress: bool = False,
    console: Console | None = None,
    stop: Callable[[], None] | None = None,
    approve_cutoff: float | None = None,
    refer_cutoff: float | None = None,
) -> BatchResult:
    """Score every row of `input` into `output` (scores/, rejects/, manifest.json, population_report.*); `stop` is
    called as each part is committed and may raise to stop the job (finished parts are kept). A `model` given by
    registry alias or version is looked up under `name`, by default the project's name (`schema`'s, else the
    built-in schema's), as `thinfile batch-score` does. `schema`, when given, declares the protected attributes the
    population report audits (`Scorer.with_protected`);
    `approve_cutoff` / `refer_cutoff` decide in place of the model's (`Scorer.with_cutoffs`). `workers`
    (or `settings.workers`) unset: one per core, none for a book of at most `settings.in_process_rows` rows left."""
    run = get_engine(engine)
    settings = settings or BatchSettings()
    chunk_rows = chunk_rows or settings.chunk_rows
    if chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    scorer = resolve_scorer(model, name, schema).with_cutoffs(approve_cutoff, refer_cutoff)
    asked = workers or settings.workers  # workers asked for are started, whatever the book's size
    job = BatchJob(
        input=Path(input),
        output=Path(output),
        scorer=scorer if schema is None else scorer.with_protected(schema),
        settings=settings,
        fairness=fairness or FairnessLimits(),
        groups=groups or FairnessAudit(),
        stability=stability or StabilityLimits(),
        chunk_rows=chunk_rows,
        workers=asked or default_workers(),
        in_process_rows=0 if asked else settings.in_process_rows,
        master=master or settings.spark_master,
        overwrite=overwrite,
        progress=progress,
        console=console,
        stop=stop,
    )
    try:
        return run(job)
    except OSError as err:
        raise output_failure(err, job.output) from err
