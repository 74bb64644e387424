"""Reason codes' hot path: rows/s of exact explanations against LightGBM's pred_contrib and plain predict.

Usage: python bench/explain.py [--train-rows 200000] [--rows 100000] [--threads 0] [--repeat 3]

Trains the champion (its default shape: depth 3, 8 leaves, early-stopped) on the synthetic population,
then times on the same rows, in this process: plain `Booster.predict`, `Booster.predict(pred_contrib=True)`
(LightGBM's exact TreeSHAP), `Scorer.contributions` (thinfile's tables), `Scorer.explain` and
`Scorer.explain(...).to_frame()`, and one row explained with its records. Each figure is the median of
`--repeat` runs; ratios are against pred_contrib and plain predict measured in the same run. The load
average is printed before and after: figures from a busy machine are not comparable.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from common import load, median_seconds

from thinfile.features.generator import generate_frame
from thinfile.features.schema import load_schema
from thinfile.training.champion import fit_champion
from thinfile.training.settings import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=0, help="threads for LightGBM and the tables (0 = all cores)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {load()} ({os.cpu_count()} cores)")

    start = time.perf_counter()
    schema = load_schema()
    data = generate_frame(schema, rows=args.train_rows + args.rows, seed=21)
    cut = int(args.train_rows * 0.8)
    scorer = fit_champion(data[:cut], data[cut : args.train_rows], schema, TrainConfig())
    scorer.num_threads = args.threads
    X = schema.to_matrix(data[args.train_rows :])
    booster = scorer.booster
    print(f"phase train: {time.perf_counter() - start:.1f}s")

    start = time.perf_counter()
    scorer.explain(X[:10]).records()
    print(f"phase tables + JIT warm-up: {time.perf_counter() - start:.2f}s; {scorer.explain_engine}")

    n, r = len(X), args.repeat
    kw = {"num_threads": args.threads} if args.threads else {}
    predict = median_seconds(lambda: booster.predict(X, **kw), r)
    contrib = median_seconds(lambda: booster.predict(X, pred_contrib=True, **kw), r)
    tables = median_seconds(lambda: scorer.contributions(X), r)
    explain = median_seconds(lambda: scorer.explain(X), r)
    frame = median_seconds(lambda: scorer.explain(X).to_frame(), r)
    one = X[:1]
    single = median_seconds(lambda: [scorer.explain(one).records() for _ in range(200)], r) / 200
    exact = np.abs(scorer.contributions(X[:20_000]) - scorer.contributions(X[:20_000], exact_engine="lightgbm")).max()

    params = booster.params
    print(
        f"model: {booster.num_trees()} trees, num_leaves={params.get('num_leaves')}, "
        f"max_depth={params.get('max_depth')}; rows: {n:,}; median of {r}"
    )
    print(f"{'':30}{'rows/s':>12}{'x pred_contrib':>16}{'x predict':>11}")
    for name, seconds in (
        ("plain predict", predict),
        ("LightGBM pred_contrib", contrib),
        ("Scorer.contributions (tables)", tables),
        ("Scorer.explain", explain),
        ("Scorer.explain + to_frame", frame),
    ):
        print(f"{name:30}{n / seconds:>12,.0f}{contrib / seconds:>15.2f}x{predict / seconds:>10.2f}x")
    print(f"one row, explain + records    {single * 1e3:>9.3f} ms")
    print(f"largest |tables - pred_contrib| on 20,000 rows: {exact:.1e} log-odds")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
