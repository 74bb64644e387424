"""Reason codes' hot path: rows/s of `Scorer.explain` vs raw LightGBM `pred_contrib` vs plain `predict`.

Usage: python bench/explain.py [--train-rows 200000] [--rows 100000] [--threads 0]
All three run in this process on the same rows; ratios are against `pred_contrib` (the floor of any
exact TreeSHAP explanation).
"""

from __future__ import annotations

import argparse
import time

from thinfile.features.generator import generate_frame
from thinfile.features.schema import load_schema
from thinfile.training.champion import TrainConfig, fit_champion


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=0, help="LightGBM threads (0 = all cores)")
    args = parser.parse_args()
    schema = load_schema()
    data = generate_frame(schema, rows=args.train_rows + args.rows, seed=21)
    cut = int(args.train_rows * 0.8)
    scorer = fit_champion(data[:cut], data[cut : args.train_rows], schema, TrainConfig())
    scorer.num_threads = args.threads
    X = schema.to_matrix(data[args.train_rows :])
    n = len(X)
    booster = scorer.booster
    kw = {"num_threads": args.threads} if args.threads else {}
    floor = best_of(lambda: booster.predict(X, pred_contrib=True, **kw))
    explain = best_of(lambda: scorer.explain(X))
    explain_frame = best_of(lambda: scorer.explain(X).to_frame())
    predict = best_of(lambda: booster.predict(X, **kw))
    one = X[:1]
    single = best_of(lambda: [scorer.explain(one).records() for _ in range(200)]) / 200
    trees = booster.num_trees()
    print(
        f"model: {trees} trees, num_leaves={scorer.booster.params.get('num_leaves')}, "
        f"max_depth={scorer.booster.params.get('max_depth')}; rows: {n:,}"
    )
    print(f"plain predict               {n / predict:>12,.0f} rows/s")
    print(f"raw pred_contrib (floor)    {n / floor:>12,.0f} rows/s")
    print(
        f"Scorer.explain              {n / explain:>12,.0f} rows/s  = {floor / explain:.2f}x the speed of pred_contrib"
    )
    print(
        f"Scorer.explain + to_frame   {n / explain_frame:>12,.0f} rows/s  = "
        f"{floor / explain_frame:.2f}x the speed of pred_contrib"
    )
    print(f"one row, explain + records  {single * 1e3:>12.3f} ms")


if __name__ == "__main__":
    main()
