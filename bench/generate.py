"""Generation speed vs the floor: writing the same amount of random data to Parquet with pyarrow.

Usage: python bench/generate.py [--rows 2000000] [--peak-rows 10000000]
Prints rows/s for `generate_population`, rows/s for the pyarrow floor (same rows, columns and types,
same part size), their ratio, and optionally the peak memory of `thinfile generate --rows PEAK`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thinfile.features.generator import chunk_plan, generate_chunk
from thinfile.features.population import generate_population
from thinfile.features.schema import load_schema
from thinfile.features.settings import GeneratorParams


def floor_seconds(rows: int, out: Path) -> float:
    """Write random columns shaped like the population (one Parquet part per chunk), timing writes only."""
    schema = load_schema()
    like = pa.Table.from_pandas(
        generate_chunk(schema, GeneratorParams(), np.random.SeedSequence(1), 0, 1000), preserve_index=False
    ).schema
    rng = np.random.default_rng(0)
    spent = 0.0
    for i, (_, n) in enumerate(chunk_plan(rows, GeneratorParams().chunk_rows)):
        arrays = []
        for field in like:
            if pa.types.is_floating(field.type):
                arrays.append(pa.array(rng.lognormal(3, 2, n)))
            elif pa.types.is_integer(field.type):
                arrays.append(pa.array(rng.integers(0, 100, n), type=field.type))
            elif pa.types.is_boolean(field.type):
                arrays.append(pa.array(rng.random(n) < 0.5))
            elif pa.types.is_dictionary(field.type):
                arrays.append(
                    pa.DictionaryArray.from_arrays(rng.integers(0, 5, n).astype(np.int8), pa.array(list("abcde")))
                )
            else:
                arrays.append(pa.array([f"A{j:010d}" for j in rng.integers(0, 10**9, n)]))
        table = pa.table(arrays, names=like.names)
        start = time.perf_counter()
        pq.write_table(table, out / f"part-{i:05d}.parquet", compression="snappy")
        spent += time.perf_counter() - start
    return spent


def peak_memory_mib(rows: int, out: Path) -> tuple[float, float]:
    """Run `thinfile generate` and sample the summed RSS of its whole process tree (parent + workers)."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "thinfile.cli", "generate", "--rows", str(rows), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.1)
    if proc.returncode:
        raise SystemExit(f"thinfile generate failed with exit code {proc.returncode}")
    return peak / 2**20, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--peak-rows", type=int, default=0, help="also run `thinfile generate` at this size")
    args = parser.parse_args()
    schema = load_schema()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_population(schema, Path(tmp) / "gen", args.rows, seed=0)
        gen = time.perf_counter() - start
        (Path(tmp) / "floor").mkdir()
        floor = floor_seconds(args.rows, Path(tmp) / "floor")
        print(f"rows: {args.rows:,}")
        print(f"generate (incl. data card): {args.rows / gen:>12,.0f} rows/s  ({gen:.1f} s)")
        print(f"pyarrow floor (write only): {args.rows / floor:>12,.0f} rows/s  ({floor:.1f} s)")
        print(f"generation time / floor time: {gen / floor:.2f}x  (target <= 3x)")
        if args.peak_rows:
            peak, secs = peak_memory_mib(args.peak_rows, Path(tmp) / "peak")
            print(
                f"`thinfile generate --rows {args.peak_rows:,}`: {secs:.0f} s, "
                f"peak RSS of the process tree {peak:,.0f} MiB (target < 2048)"
            )


if __name__ == "__main__":
    main()
