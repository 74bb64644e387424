"""Batch scoring throughput, in one run on the same rows: the floor (raw LightGBM pred_contrib in memory),
the embedded engine (2 worker processes, everything included: read, validate, reasons, write, report),
and the Spark engine on local[2]. Also the peak memory (parent + workers) of the embedded engine.

    .venv/bin/python bench/batch.py --rows 200000
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from thinfile.config import Settings
from thinfile.features.generator import generate_frame
from thinfile.features.schema import load_schema
from thinfile.serving.batch import batch_score
from thinfile.training.champion import fit_champion


def _peak_rss(stop: threading.Event, out: list[int]) -> None:
    me = psutil.Process()
    while not stop.is_set():
        procs = [me, *me.children(recursive=True)]
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        out[0] = max(out[0], total)
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--train-rows", type=int, default=60_000)
    ap.add_argument("--chunk-rows", type=int, default=Settings().batch.chunk_rows)
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()

    schema = load_schema()
    data = generate_frame(schema, rows=args.train_rows, seed=1)
    cut = int(len(data) * 0.75)
    scorer = fit_champion(data.iloc[:cut], data.iloc[cut:], schema)
    print(
        f"model: {scorer.booster.num_trees()} trees, {len(schema.features)} features; rows: {args.rows:,}; "
        f"cores: {psutil.cpu_count()}; load average before: {psutil.getloadavg()[0]:.1f}"
    )
    work = Path(tempfile.mkdtemp(prefix="thinfile-bench-"))
    try:
        book = generate_frame(schema, rows=args.rows, seed=2)
        book.to_parquet(work / "book.parquet")

        X = schema.to_matrix(book)
        t = time.perf_counter()
        scorer.booster.predict(X, pred_contrib=True)
        floor = args.rows / (time.perf_counter() - t)
        del X

        stop, peak = threading.Event(), [0]
        watcher = threading.Thread(target=_peak_rss, args=(stop, peak), daemon=True)
        watcher.start()
        embedded = batch_score(work / "book.parquet", work / "embedded", scorer, chunk_rows=args.chunk_rows, workers=2)
        stop.set()
        watcher.join()
        print(f"floor    raw booster.predict(pred_contrib=True), in memory, 2 threads : {floor:>9,.0f} rows/s")
        print(
            f"embedded batch_score, 2 workers, read+validate+reasons+write+report: {embedded.rows_per_s:>9,.0f} rows/s "
            f"= {embedded.rows_per_s / floor:.0%} of the floor (target >= 60%)"
        )
        print(
            f"         peak RSS parent + workers: {peak[0] / 2**30:.2f} GiB at chunk_rows={args.chunk_rows:,} "
            "(bounded by chunk size x read-ahead, not by input size)"
        )
        if not args.no_spark:
            from thinfile.serving.batch.spark import spark_session

            spark_session("local[2]")
            t = time.perf_counter()
            spark = batch_score(
                work / "book.parquet",
                work / "spark",
                scorer,
                engine="spark",
                master="local[2]",
                chunk_rows=args.chunk_rows,
            )
            print(
                f"spark    local[2], mapInPandas, same output (JVM already up)        : "
                f"{spark.rows_per_s:>9,.0f} rows/s "
                f"= {spark.rows_per_s / floor:.0%} of the floor"
            )
        per_core = embedded.rows_per_s / 2
        hours = 1.1e9 / (per_core * 128) / 3600
        print(f"per-core embedded throughput {per_core:,.0f} rows/s -> 1.1 billion rows on 128 cores: {hours:.1f} h")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
