"""Batch scoring throughput against the explainer it wraps, measured in one run on the same rows.

    .venv/bin/python bench/batch.py --rows 1000000 [--workers 2] [--repeat 3] [--no-spark]

References, in memory on `--workers` threads: LightGBM's `pred_contrib` (the floor) and `Scorer.explain` on
the model matrix, called on blocks of `--chunk-rows` rows (the ceiling a batch job can approach: the job explains
the same blocks) and, for comparison, once on the whole matrix (slower: most of its time is the kernel faulting in
its 1M-row temporaries). Then the embedded engine end to end, Parquet to Parquet with `--workers` processes (read,
validate, explain, reasons, write, duplicate check, report) and the Spark engine on local[workers] (JVM started;
its first job, whose Python workers start, is shown apart). Embedded jobs run in a small process of their own, as a
user's `thinfile batch-score` does (in this process, which holds the 1M-row matrix, the kernel's memory work landed
on them and their figure swung by half). Targets (issue 13.3): embedded >= 80% of the block-wise `Scorer.explain`;
Spark >= 70% of embedded per core. The embedded job's CPU seconds (its process, its workers, user and system) are
printed beside its wall time: the job runs every core flat out, so CPU is what it costs.
The embedded job's timeline, from its parts' commit times: seconds before its first part, its pace between its
first and last part (against the block-wise explain), seconds after its last part (duplicate ids, report).
Phases: the stages of a job run one after the other in this process as a worker runs them (one thread,
BLAS held to one thread; CPU seconds scaled to 1M rows; the file read whole, chunk by chunk, as the job's
parent reads it), and the job's fixed costs (duplicate-id check, report figures and page) in seconds per
job, to show where a job's time goes. Every figure is the median of `--repeat` runs: the references and the
embedded engine in rounds (each once per round) so that the machine's drift falls on all of them alike, then
Spark (its JVM would share their cores and memory); the load average is printed before and after (figures
from a busy machine do not compare). Also the peak memory of an embedded job's process and its workers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from common import interleaved_medians, load, median_seconds
from threadpoolctl import threadpool_limits

from thinfile.features.generator import generate_frame
from thinfile.features.jsonio import jsonable
from thinfile.features.schema import load_schema
from thinfile.features.validate import validate_arrow
from thinfile.serving.batch import BatchSettings, batch_score, model_tag
from thinfile.serving.batch.input import inspect_input, normalise, read_chunks
from thinfile.serving.batch.output import OutputLayout, duplicate_ids, write_parquet_atomic
from thinfile.serving.batch.report import build_report, report_figures, write_report
from thinfile.serving.batch.scoring import rejects_table, scores_table
from thinfile.serving.batch.stats import chunk_stats
from thinfile.serving.batch.worker import arrive, can_share, ship
from thinfile.training.champion import fit_champion
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import FairnessAudit, FairnessLimits, StabilityLimits, TrainConfig


def _peak_rss(
    root: int, stop: threading.Event, out: list[int], measuring: threading.Event, cpu: dict[int, tuple]
) -> None:
    """The peak RSS of process `root` and its children while `measuring`; and each one's last CPU times seen (a
    worker that exits before the job ends is counted as last seen here)."""
    while not stop.is_set():
        if not measuring.wait(0.05):
            continue
        total = 0
        for pid, (rss, times) in _tree(root).items():
            total += rss
            cpu[pid] = (pid == root, times)
        out[0] = max(out[0], total)
        time.sleep(0.05)


def _tree(root: int) -> dict[int, tuple[int, tuple[float, float]]]:
    """(RSS, (user, system) CPU seconds) of process `root` and each of its children, by process id."""
    out = {}
    with contextlib.suppress(psutil.Error):
        top = psutil.Process(root)
        for p in [top, *top.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                out[p.pid] = (p.memory_info().rss, tuple(p.cpu_times())[:2])
    return out


def cpu_times(root: int) -> dict[int, tuple]:
    """(is `root`, (user, system) CPU seconds) of process `root` and each of its children, by process id."""
    return {pid: (pid == root, times) for pid, (_, times) in _tree(root).items()}


def job_cpu(before: dict[int, tuple], after: dict[int, tuple]) -> tuple[float, float, float, float]:
    """(the job's process user, system; its children user, system) CPU seconds spent between two samples; a
    child first seen in `after` counts whole (a job's workers start with it)."""
    mine, theirs = [0.0, 0.0], [0.0, 0.0]
    for pid, (is_root, times) in after.items():
        start = before.get(pid, (is_root, (0.0, 0.0)))[1]
        into = mine if is_root else theirs
        for i in (0, 1):
            into[i] += times[i] - start[i]
    return mine[0], mine[1], theirs[0], theirs[1]


def job_timeline(output: Path, started: float, ended: float) -> tuple[float, float, float]:
    """(seconds to the first committed part, rows/s from the first part's commit to the last's, seconds after the
    last), from the parts' commit times: a job's fixed costs at its two ends, and its pace in between."""
    parts = sorted((p.stat().st_mtime, pq.ParquetFile(p).metadata.num_rows) for p in (output / "scores").iterdir())
    (first, _), (last, _) = parts[0], parts[-1]
    between = sum(rows for _, rows in parts[1:])
    return first - started, between / (last - first) if last > first else float("nan"), ended - last


def from_the_command_line(scorer: Path, book: Path, output: Path, workers: int) -> tuple[float, float]:
    """A user's `thinfile batch-score` in a fresh process: (its wall seconds, the job's own seconds from its report);
    the difference is the time outside the job: the interpreter, the CLI's imports, loading the model, and the
    process's exit."""
    command = Path(sys.executable).with_name("thinfile")
    args = [str(command), "batch-score", str(book), str(output), "--model", str(scorer), "--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    wall = time.perf_counter() - start
    return wall, json.loads((output / "population_report.json").read_text())["job"]["seconds"]


def help_seconds() -> float:
    """Wall seconds of `thinfile --help` in a fresh process: the command line's own start, before any command."""
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("thinfile")), "--help"], check=True, capture_output=True)
    return time.perf_counter() - start


def job_server(requests: Connection, scorer: bytes, chunk_rows: int, workers: int) -> None:
    """Embedded jobs on request, in a process of their own: a small one, as a user's `thinfile batch-score` is,
    where the bench's own process holds the references' 1M-row matrix (the kernel's memory work for it landed on
    the jobs and made their figures swing by half). Answers each (input, output) when the job is done."""
    model = pickle.loads(scorer)
    while (request := requests.recv()) is not None:
        batch_score(request[0], request[1], model, chunk_rows=chunk_rows, workers=workers)
        requests.send(True)


def phases(
    scorer: Scorer, book: Path, rows: int, chunk_rows: int, work: Path, repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    """CPU seconds per 1M rows of each stage of a chunk, run one after the other in this process as a worker
    runs them; and the seconds per job of what is done once (duplicate ids, report)."""
    schema, settings = scorer.schema, BatchSettings()
    tag = model_tag(scorer)
    part = inspect_input(book, schema)[0]
    out: dict[str, float] = {}
    once: dict[str, float] = {}

    def stage(name: str, fn: Callable[[], object], per: int | None = chunk_rows, clock=time.process_time) -> object:
        times, result = [], None
        for _ in range(repeat):
            start = clock()
            result = fn()
            times.append(clock() - start)
        if per is None:
            once[name] = statistics.median(times)
        else:
            out[name] = statistics.median(times) * 1_000_000 / per
        return result

    def read_all() -> pa.Table:
        return [t for _, t in read_chunks(part, schema, chunk_rows)][0]

    scorer.num_threads = 1
    with threadpool_limits(1):
        table = stage("read Parquet (parent, whole file)", read_all, rows)
        how = "shared memory" if can_share() else "Arrow IPC bytes"
        packed = stage(f"send to a worker ({how})", lambda: arrive(ship(table, can_share())))
        table = stage("normalise types", lambda: normalise(packed, {}, schema))
        report = stage("validate_arrow (+ model matrix)", lambda: validate_arrow(table, schema))
        stage("rejects table", lambda: rejects_table(report, part.name, 0))
        explanation = stage("Scorer.explain", lambda: scorer.explain(report.matrix, settings.top_reasons))
        top = settings.top_reasons
        scores = stage("scores table (reasons)", lambda: scores_table(explanation, report.ids, tag, schema, top))
        groups = table.select([c for c in schema.protected_names if c in table.column_names])
        stats = stage("population counts", lambda: chunk_stats(scorer, explanation, groups, settings))
        stage("write Parquet", lambda: write_parquet_atomic(scores, work / "phase.parquet", {"n": 1}))
    scorer.num_threads = 0
    layout = OutputLayout(work / "phases")
    layout.scores.mkdir(parents=True, exist_ok=True)
    id_at = scores.schema.get_field_index(schema.id_column)
    for k in range(-(-rows // chunk_rows)):  # copies of one chunk, each with its own ids, as a clean book has
        ids = pc.binary_join_element_wise(scores.column(id_at).cast(pa.string()), pa.scalar(f"-{k}"), "")
        write_parquet_atomic(scores.set_column(id_at, schema.id_column, ids), layout.scores_part(f"part-00000-{k:05d}"))
    wall = time.perf_counter
    stage("duplicate-id check (all parts)", lambda: duplicate_ids(layout, schema.id_column), None, wall)
    limits = (settings, FairnessLimits(), FairnessAudit(), StabilityLimits())
    report_dict = jsonable(build_report(stats, scorer, *limits, {}, tag.as_dict()))
    figures = stage("report figures", lambda: report_figures(report_dict, scorer), None, wall)
    stage("report page and JSON", lambda: write_report(report_dict, scorer, work, figures), None, wall)
    return out, once


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--train-rows", type=int, default=60_000)
    ap.add_argument("--chunk-rows", type=int, default=BatchSettings().chunk_rows)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    w, r = args.workers, args.repeat
    print(f"load average before: {load()} ({os.cpu_count()} cores)")

    schema = load_schema()
    data = generate_frame(schema, rows=args.train_rows, seed=1)
    cut = int(len(data) * 0.75)
    scorer = fit_champion(data.iloc[:cut], data.iloc[cut:], schema, TrainConfig())
    work = Path(tempfile.mkdtemp(prefix="thinfile-bench-"))
    try:
        book_frame = generate_frame(schema, rows=args.rows, seed=2)
        book = work / "book.parquet"
        book_frame.to_parquet(book)
        warm = work / "warm-up.parquet"
        book_frame.head(2_000).to_parquet(warm)
        X = schema.to_matrix(book_frame)
        del book_frame
        print(
            f"model: {scorer.booster.num_trees()} trees, {len(schema.features)} features; rows {args.rows:,}; "
            f"chunk_rows {args.chunk_rows:,}; {w} workers / threads; median of {r}"
        )

        explain_cpu: dict[str, list[tuple[float, float]]] = {"whole": [], "blocks": []}

        def explain_run(block: int, cpu: list[tuple[float, float]]) -> None:
            scorer.num_threads = w
            before = resource.getrusage(resource.RUSAGE_SELF)
            try:
                for start in range(0, len(X), block):
                    scorer.explain(X[start : start + block])
            finally:
                after = resource.getrusage(resource.RUSAGE_SELF)
                cpu.append((after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime))
                scorer.num_threads = 0

        measuring = threading.Event()
        cpu_seen: dict[int, tuple] = {}
        embedded_cpu: list[tuple[float, float, float, float]] = []
        timelines: list[tuple[float, float, float]] = []
        requests, served = multiprocessing.get_context("spawn").Pipe()
        server = multiprocessing.get_context("spawn").Process(
            target=job_server, args=(served, pickle.dumps(scorer), args.chunk_rows, w), name="bench-embedded-jobs"
        )
        server.start()
        requests.send((warm, work / "embedded-warm-up"))  # imports, and the workers' fork server started
        requests.recv()

        def embedded_run(k: list[int] = [0]) -> None:  # noqa: B006 (a counter across calls)
            k[0] += 1
            before = cpu_times(server.pid)
            cpu_seen.clear()
            measuring.set()
            started = time.time()
            try:
                requests.send((book, work / f"embedded-{k[0]}"))
                requests.recv()
            finally:
                measuring.clear()
                after = {**cpu_seen, **cpu_times(server.pid)}  # idle workers are still up
                embedded_cpu.append(job_cpu(before, after))
            timelines.append(job_timeline(work / f"embedded-{k[0]}", started, time.time()))

        def spark_run(k: list[int] = [0]) -> None:  # noqa: B006
            k[0] += 1
            batch_score(
                book, work / f"spark-{k[0]}", scorer, engine="spark", master=f"local[{w}]", chunk_rows=args.chunk_rows
            )

        runs: dict[str, Callable[[], object]] = {
            "pred_contrib": lambda: scorer.booster.predict(X, pred_contrib=True, num_threads=w),
            "explain": lambda: explain_run(args.chunk_rows, explain_cpu["blocks"]),
            "explain whole": lambda: explain_run(len(X), explain_cpu["whole"]),
            "embedded": embedded_run,
        }
        scorer.explain(X[:100])
        stop, peak = threading.Event(), [0]
        watch = (server.pid, stop, peak, measuring, cpu_seen)
        watcher = threading.Thread(target=_peak_rss, args=watch, daemon=True)
        watcher.start()
        try:
            seconds = interleaved_medians(runs, r)  # each in every round: drift falls on all alike
        finally:
            stop.set()
            watcher.join()
            requests.send(None)
            server.join(30)
        scorer.save(work / "scorer")
        cli = [from_the_command_line(work / "scorer", book, work / f"cli-{k}", w) for k in range(r)]
        help_wall = statistics.median(help_seconds() for _ in range(r))
        if not args.no_spark:  # after the others: its JVM would share their cores and memory
            from thinfile.serving.batch.spark import spark_session

            spark_session(f"local[{w}]")
            first = time.perf_counter()
            spark_run()  # the session's Python workers start (and import thinfile) in this one
            spark_cold = time.perf_counter() - first
            seconds["spark"] = median_seconds(spark_run, r)
        contrib, explain, whole, embedded = (
            args.rows / seconds[k] for k in ("pred_contrib", "explain", "explain whole", "embedded")
        )
        spark = args.rows / seconds["spark"] if "spark" in seconds else None

        print(f"\n{'':58}{'rows/s':>12}{'vs explain':>12}{'vs pred_contrib':>17}")
        rows = [
            (f"LightGBM pred_contrib, in memory, {w} threads", contrib),
            (f"Scorer.explain, {args.chunk_rows:,}-row blocks, {w} threads", explain),
            (f"Scorer.explain(whole matrix), in memory, {w} threads", whole),
            (f"embedded batch_score, {w} workers, own process", embedded),
        ]
        if spark is not None:
            rows.append((f"spark batch_score, local[{w}], Parquet -> Parquet", spark))
        for label, value in rows:
            print(f"{label:58}{value:>12,.0f}{value / explain:>12.0%}{value / contrib:>17.1f}x")
        print("\nCPU seconds per run (median):")
        for label, key in (("Scorer.explain, blocks", "blocks"), ("Scorer.explain, whole", "whole")):
            user, kernel = (statistics.median(c[i] for c in explain_cpu[key]) for i in (0, 1))
            print(f"  {label:36}user {user:6.2f} s  system {kernel:5.2f} s")
        mine_u, mine_s, workers_u, workers_s = (statistics.median(c[i] for c in embedded_cpu) for i in range(4))
        print(
            f"  {'embedded job, its process':36}user {mine_u:6.2f} s  system {mine_s:5.2f} s  (reads, ships, "
            "scores while workers start, report)"
        )
        workers_line = f"  {'embedded job, its workers':36}user {workers_u:6.2f} s  system {workers_s:5.2f} s"
        print(f"{workers_line}  (start and score)")
        print(
            "  (the whole-matrix call's system time is the kernel faulting in huge pages for its 1M-row temporaries; "
            "it swings with the machine's memory state)"
        )
        print(f"\nembedded vs Scorer.explain on blocks: {embedded / explain:.0%} (target >= 80%)")
        head, pace, tail = (statistics.median(t[i] for t in timelines) for i in range(3))
        print(
            f"  the embedded job's timeline: first part committed after {head:.2f} s (workers start, first chunks); "
            f"then {pace:,.0f} rows/s ({pace / explain:.0%} of the blocks) up to the last part; {tail:.2f} s after "
            "it (duplicate ids, report)"
        )
        if spark is not None:
            print(
                f"spark vs embedded, per core (both on {w}): {spark / embedded:.0%} (target >= 70%; JVM started and "
                f"Python workers warm, as in a session that scores more than once; the session's first job, its "
                f"workers starting: {args.rows / spark_cold:,.0f} rows/s, {args.rows / spark_cold / embedded:.0%})"
            )
        cli_wall, cli_job = (statistics.median(c[i] for c in cli) for i in (0, 1))
        print(
            f"a user's `thinfile batch-score --workers {w}` in a fresh process: {cli_wall:.2f} s for {args.rows:,} "
            f"rows ({args.rows / cli_wall:,.0f} rows/s); the job itself {cli_job:.2f} s (its workers and their fork "
            f"server start cold), outside the job {cli_wall - cli_job:.2f} s (imports, the model, the exit); "
            f"`thinfile --help` alone {help_wall:.2f} s"
        )
        print(
            f"embedded peak RSS (the job's process + its workers): {peak[0] / 2**30:.2f} GiB at "
            f"chunk_rows={args.chunk_rows:,}"
        )

        pa.set_cpu_count(1)
        cost, once = phases(scorer, book, args.rows, min(args.chunk_rows, args.rows), work, r)
        total = sum(cost.values())
        print(f"\nphases, as a worker runs them (CPU seconds per 1M rows; total {total:.2f} s):")
        for name, seconds in cost.items():
            print(f"  {name:36}{seconds:8.3f} s  {seconds / total:6.1%}")
        print("once per job, after the last chunk (seconds; the duplicate-id check runs beside the figures):")
        for name, seconds in once.items():
            print(f"  {name:36}{seconds:8.3f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
