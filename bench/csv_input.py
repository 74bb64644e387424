"""A CSV book against the same book in Parquet: what reading a lender's CSV export costs a batch job.

    .venv/bin/python bench/csv_input.py [--rows 1000000] [--repeat 3] [--workers 2]

A batch job parses a CSV input twice: once whole in the parent before anything is written (`inspect_input`:
rows counted, rows with the wrong number of fields found, which become rejects; one thread, so that each such
row's place in the file is known), then chunk by chunk in the workers. A Parquet input's inspection reads only
its footer. Times, each the median of `--repeat` runs in rounds (each once per round):
  inspect csv       `inspect_input` of the CSV file
  read csv, 1 / N   `pyarrow.csv.read_csv` of the same file on one thread / on every core (the reference: one
                    parse of the file, no checks)
  inspect parquet   `inspect_input` of the Parquet file
  job csv, parquet  the embedded job end to end (`batch_score`, `--workers` processes) on each file, in a process
                    of its own as a user's `thinfile batch-score` runs
Prints rows/s, the inspection against one parse on one thread, the CSV job against the Parquet job, and the load
average before and after.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from common import interleaved_medians, load, run, scratch

from thinfile.features.generator import generate_frame
from thinfile.features.schema import load_schema
from thinfile.serving.batch.input import inspect_input
from thinfile.training.champion import fit_champion
from thinfile.training.settings import TrainConfig

JOB = (
    "import sys; from thinfile.serving.batch.job import batch_score; "
    "batch_score(sys.argv[1], sys.argv[2], sys.argv[3], workers=int(sys.argv[4]), overwrite=True)"
)


def job(book: Path, out: Path, model: Path, workers: int) -> None:
    """The embedded job on `book`, in a fresh process."""
    subprocess.run([sys.executable, "-c", JOB, str(book), str(out), str(model), str(workers)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=29)
    args = parser.parse_args()
    before = load()
    schema = load_schema()
    work = scratch("thinfile-bench-csv-")
    print(f"generating {args.rows:,} rows and a model on 50,000 others ...", flush=True)
    frame = generate_frame(schema, rows=args.rows, seed=args.seed)
    train = generate_frame(schema, rows=50_000, seed=args.seed + 1)
    scorer = fit_champion(train.iloc[:40_000], train.iloc[40_000:], schema, TrainConfig())
    model = scorer.save(work / "model")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    del frame
    csv, parquet = work / "book.csv", work / "book.parquet"
    pacsv.write_csv(table, csv)
    pq.write_table(table, parquet)
    del table
    size = os.path.getsize(csv) / 2**20
    print(f"CSV {size:,.0f} MiB, Parquet {os.path.getsize(parquet) / 2**20:,.0f} MiB; measuring ...", flush=True)
    one = pacsv.ReadOptions(use_threads=False)
    times = interleaved_medians(
        {
            "inspect csv": lambda: inspect_input(csv, schema),
            "read csv, 1 thread": lambda: pacsv.read_csv(csv, read_options=one),
            f"read csv, {os.cpu_count()} threads": lambda: pacsv.read_csv(csv),
            "inspect parquet": lambda: inspect_input(parquet, schema),
            "job csv": lambda: job(csv, work / "out-csv", model, args.workers),
            "job parquet": lambda: job(parquet, work / "out-parquet", model, args.workers),
        },
        args.repeat,
    )
    print(
        f"\nbench/csv_input: {args.rows:,} rows, {len(schema.features)} features, {os.cpu_count()} cores, "
        f"{args.workers} workers; load average {before} before and {load()} after; median of {args.repeat}\n"
    )
    print(f"{'':28}{'seconds':>10}{'rows/s':>14}")
    for name, seconds in times.items():
        print(f"{name:28}{seconds:10.2f}{args.rows / seconds:14,.0f}")
    single = times["read csv, 1 thread"]
    print(
        f"\n  inspecting the CSV: {times['inspect csv'] / single:.2f}x one parse of it on one thread "
        f"({times['inspect csv'] - times['inspect parquet']:.2f} s more than a Parquet footer)"
    )
    print(f"  the job on the CSV: {times['job csv'] / times['job parquet']:.2f}x the job on the Parquet file")


if __name__ == "__main__":
    run(main)
