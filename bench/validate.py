"""Validation speed against the memory floor, in one run on the same rows (one core: numpy is single-threaded here).

    .venv/bin/python bench/validate.py [--rows 1000000] [--repeats 3] [--bad-share 0.01]

Times (median of --repeats) on the synthetic schema's population (48 features):
  floor       one numpy pass over the same columns: every feature column of the model matrix compared once
              with its upper bound (the least any check of every value can cost, the matrix already built)
  clean       `validate_table` on the generator's table (no faults)
  faults      `validate_table` on the same table with --bad-share of rows carrying one planted fault each
              (text in a number column, out of range, not whole, unknown category, missing required, missing id)
  rejects     `ValidationReport.rejects()` of the table with faults
  to_matrix   `Schema.to_matrix` of the clean rows (what training and batch do next)
and, on --reference-rows rows only, the reference (pandera over the whole table) for the speed-up.
Prints rows/s, the ratio to the floor and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from common import median_seconds

from thinfile.features.generator import generate_frame
from thinfile.features.schema import FeatureType, Schema, load_schema
from thinfile.features.validate import validate_table
from thinfile.features.validate_reference import reference_validate_table


def plant_faults(frame: pd.DataFrame, schema: Schema, share: float, seed: int) -> pd.DataFrame:
    """A copy of `frame` where `share` of the rows carry one fault each, of six kinds in turn."""
    rng = np.random.default_rng(seed)
    bad = frame.copy()
    rows = rng.choice(len(frame), int(len(frame) * share), replace=False)
    kinds = np.array_split(rows, 6)
    text_col, range_col, whole_col = "bureau_utilisation", "bill_days_to_pay", "microloan_count_24m"
    category, required = "occupation_sector", next(f.name for f in schema.features if not f.nullable)
    bad = bad.astype({text_col: object, whole_col: "float64", category: object})
    bad.loc[kinds[0], text_col] = "n/a"
    bad.loc[kinds[1], range_col] = 1e9
    bad.loc[kinds[2], whole_col] = 2.5
    bad.loc[kinds[3], category] = "astronaut"
    bad.loc[kinds[4], required] = pd.NA
    bad.loc[kinds[5], schema.id_column] = None
    return bad


def floor_pass(X: np.ndarray, upper: np.ndarray) -> int:
    return sum(int(np.count_nonzero(X[j] <= upper[j])) for j in range(len(upper)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bad-share", type=float, default=0.01)
    ap.add_argument("--reference-rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    schema = load_schema()
    start = time.perf_counter()
    frame = generate_frame(schema, rows=args.rows, seed=args.seed)
    faulty = plant_faults(frame, schema, args.bad_share, args.seed)
    print(f"{args.rows:,} rows x {len(schema.features)} features generated in {time.perf_counter() - start:.1f}s")
    X = np.ascontiguousarray(schema.to_matrix(frame).T)
    upper = np.array([len(f.levels) if f.type is FeatureType.category else f.max or 1.0 for f in schema.features])
    reference_rows = faulty.head(args.reference_rows)

    load_before = os.getloadavg()
    report = validate_table(faulty, schema, require_target=True)
    timings = {
        "floor": median_seconds(lambda: floor_pass(X, upper), args.repeats),
        "clean": median_seconds(lambda: validate_table(frame, schema, require_target=True), args.repeats),
        "faults": median_seconds(lambda: validate_table(faulty, schema, require_target=True), args.repeats),
        "rejects": median_seconds(report.rejects, args.repeats),
        "to_matrix": median_seconds(lambda: schema.to_matrix(report.clean), args.repeats),
    }
    fast_small = median_seconds(lambda: validate_table(reference_rows, schema, require_target=True), args.repeats)
    slow_small = median_seconds(
        lambda: reference_validate_table(reference_rows, schema, require_target=True), args.repeats
    )
    load_after = os.getloadavg()

    print(f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min); cores {os.cpu_count()}")
    print(f"rejects found: {len(report.rejects()):,} rows ({len(report.errors):,} errors); median of {args.repeats}")
    print(f"{'phase':<12}{'seconds':>10}{'rows/s':>14}{'x floor':>10}")
    for name, seconds in timings.items():
        print(f"{name:<12}{seconds:>10.3f}{args.rows / seconds:>14,.0f}{seconds / timings['floor']:>10.1f}")
    print(
        f"\nreference (pandera over the whole table) on {len(reference_rows):,} rows with faults: "
        f"{slow_small:.3f}s against {fast_small:.3f}s fast ({slow_small / fast_small:.1f}x)"
    )
    print(f"target >= 1,000,000 rows/s per core: clean {args.rows / timings['clean']:,.0f} rows/s")


if __name__ == "__main__":
    main()
