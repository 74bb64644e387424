"""What exploration buys: TTD AUC and thin-file approvals against the share of would-be rejects approved at random.

Usage: python bench/exploration.py [--rows 200000] [--seed 0] [--shares 0.01,0.02,0.05,0.10] [--repeats 3]
    [--png docs/lending-loop-exploration.png]

One bureau-era history; for each exploration share the booked-only champion is fitted (median time of
`--repeats` fits, as a ratio to the share-0 fit measured in the same run) and measured on the same
through-the-door test applicants against true_pd, at the share-0 history's expected bad rate. The
reject-inference methods at share 0 (no logging) are printed beside the curve, with the floor and ceiling.
Load average is printed before and after: figures taken on a busy machine say so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import run, use_home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shares", default="0.01,0.02,0.05,0.10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--png", default=None, help="also save the curve as a PNG")
    args = parser.parse_args()
    use_home(None, "thinfile-bench-")

    from thinfile.features.generator import generate_frame
    from thinfile.features.history import bureau_era_policy, history_schema, observed, with_history
    from thinfile.features.schema import load_schema
    from thinfile.features.settings import GeneratorParams, HistorySettings
    from thinfile.training.lending_loop.measure import TruthSet, truth_metrics
    from thinfile.training.lending_loop.report import exploration_figure
    from thinfile.training.loop import FLOOR, compare_methods, fit_on_history
    from thinfile.training.reporting import save_png
    from thinfile.training.settings import LoopSettings, TrainingSettings
    from thinfile.training.split import split_frame

    load_before = os.getloadavg()
    schema, params, history, settings = load_schema(), GeneratorParams(), HistorySettings(), TrainingSettings()
    hist = history_schema(schema)
    shares = [0.0, *(float(s) for s in args.shares.split(",") if s.strip())]
    policy = bureau_era_policy(schema, params, history.policy)
    people = generate_frame(schema, params, rows=args.rows, seed=args.seed)
    base = with_history(people, hist, policy, 0.0, args.seed)
    reference = TruthSet.from_frame(split_frame(base, hist, settings.train).test, hist)

    loop = LoopSettings(rows=args.rows, seed=args.seed, log_runs=False)
    start = time.perf_counter()
    methods = [r.row() for r in compare_methods(base, hist, settings, loop, "bench", lambda _m: None)]
    methods_seconds = time.perf_counter() - start

    curve = []
    for share in shares:
        full = with_history(people, hist, policy, share, args.seed)
        seen = observed(full, hist)
        times, fitted = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fitted = fit_on_history(seen, hist, settings, FLOOR)
            times.append(time.perf_counter() - t0)
        assert fitted is not None
        truth = TruthSet.from_frame(
            fitted.split.test, hist, target_bad_rate=reference.target_bad_rate, approval_rate=reference.approval_rate
        )
        m = truth_metrics(fitted.scorer.predict_pd(fitted.split.X_test), truth)
        explored = full["explored"].to_numpy()
        pd_ = full["true_pd"].to_numpy()
        curve.append(
            {
                "explore_share": share,
                "seconds": statistics.median(times),
                "extra_expected_defaults_per_1000": 1000 * pd_[explored].sum() / len(full),
                **m,
            }
        )
    load_after = os.getloadavg()

    floor_s = curve[0]["seconds"]
    print(
        f"{args.rows:,} applicants, seed {args.seed}; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
    )
    print(f"reference bad rate (share-0 history, expected): {reference.target_bad_rate:.4f}")
    print("\nexploration share | AUC all | AUC rejects | thin-file approved | extra defaults/1000 | fit s | x share 0")
    for c in curve:
        print(
            f"{c['explore_share']:>17.0%} | {c['truth_auc']:.4f} | {c.get('truth_auc_rejects', float('nan')):.4f} | "
            f"{c['policy_approval_thin_file_at_hist_bad_rate']:>18.1%} | "
            f"{c['extra_expected_defaults_per_1000']:>19.2f} | "
            f"{c['seconds']:>5.1f} | {c['seconds'] / floor_s:>9.2f}"
        )
    print(f"\nmethods at share 0 ({methods_seconds:.0f} s for all, one fit each)")
    print("method   | AUC all | AUC rejects | thin-file approved | inference s | fit s")
    for m in methods:
        print(
            f"{m['method']:<8} | {m['truth_auc']:.4f} | {m.get('truth_auc_rejects', float('nan')):.4f} | "
            f"{m['policy_approval_thin_file_at_hist_bad_rate']:>18.1%} | {m['seconds_inference']:>11.1f} | "
            f"{m['seconds_fit']:>5.1f}"
        )
    if args.png:
        fig = exploration_figure(curve, methods)
        save_png(fig, args.png)
        print(f"\ncurve: {args.png}")


if __name__ == "__main__":
    run(main)
