"""Training on 1M rows: the champion pipeline against plain `lightgbm.train` on the same arrays (the floor).

Usage: python bench/train.py [--rows 1000000] [--repeats 3] [--seed 7] [--profile]

Each repeat runs the pipeline (validation, split, champion fit with calibration and reference, evaluation,
plots, MLflow logging and registration, global explanations; baselines off) and then, in the same process,
`lightgbm.train` with the champion's parameters on the same train/validation matrices with the same early
stopping. Overhead = (pipeline - floor) / pipeline, from the medians. A warm-up run on a small table comes
first (MLflow store and experiment created, imports done, the explainer's numba kernels compiled or loaded
from their disk cache); it is reported on its own line, not in the medians. Also prints the acceptance figures
(AUC vs oracle, ECE, thin-file AUC against the bureau-only scorecard fitted on the same split).
With --profile, one more pipeline run under cProfile prints where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import time

import numpy as np
from common import run, use_home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup-rows", type=int, default=60_000)
    parser.add_argument("--profile", action="store_true", help="one more pipeline run under cProfile")
    parser.add_argument("--profile-out", type=str, default="", help="with --profile, also save the stats here")
    args = parser.parse_args()
    use_home(None, "thinfile-bench-")

    import lightgbm

    from thinfile.config import Settings
    from thinfile.features.generator import generate_frame
    from thinfile.features.schema import load_schema
    from thinfile.training.champion import train_booster
    from thinfile.training.evaluate import evaluate
    from thinfile.training.pipeline import train_frame
    from thinfile.training.scorecard import fit_bureau_scorecard
    from thinfile.training.settings import PipelineConfig, TrainConfig
    from thinfile.training.tuning import choose_config

    lightgbm_seconds: list[float] = []
    plain_train = lightgbm.train

    def timed_train(*args: object, **kwargs: object) -> lightgbm.Booster:
        """lightgbm.train, timed: the pipeline's own call is subtracted to give the work around it."""
        start = time.perf_counter()
        try:
            return plain_train(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            lightgbm_seconds.append(time.perf_counter() - start)

    lightgbm.train = timed_train  # type: ignore[assignment]

    schema = load_schema()
    settings = Settings(train=TrainConfig(seed=args.seed), pipeline=PipelineConfig(baselines=False))
    start = time.perf_counter()
    frame = generate_frame(schema, rows=args.rows, seed=args.seed)
    print(f"generated {len(frame):,} rows in {time.perf_counter() - start:.1f}s; cores {os.cpu_count()}")

    start = time.perf_counter()
    train_frame(frame.head(args.warmup_rows), schema, settings, source="bench warm-up")
    warmup = time.perf_counter() - start

    def pipeline_run() -> tuple[float, list[tuple[str, float]], object]:
        phases: list[tuple[str, float]] = []
        last = [time.perf_counter(), "(start)"]

        def progress(message: str) -> None:
            now = time.perf_counter()
            phases.append((str(last[1]), now - float(last[0])))
            last[:] = [now, message]

        begin = time.perf_counter()
        result = train_frame(frame, schema, settings, source=f"bench {args.rows:,} rows", progress=progress)
        end = time.perf_counter()
        phases.append((str(last[1]), end - float(last[0])))
        return end - begin, phases, result

    load_before = os.getloadavg()
    pipelines, floors, around, all_phases = [], [], [], []
    result = None
    for _ in range(args.repeats):
        result = None
        gc.collect()
        lightgbm_seconds.clear()
        seconds, phases, result = pipeline_run()
        pipelines.append(seconds)
        around.append(seconds - sum(lightgbm_seconds))
        all_phases.append(phases)
        split = result.split
        config = choose_config(split, settings.train).config
        X, Xv, y, yv = split.X_train, split.X_valid, split.y("train"), split.y("valid")
        start = time.perf_counter()
        booster = train_booster(schema, X, y, Xv, yv, config)
        floors.append(time.perf_counter() - start)
    load_after = os.getloadavg()
    assert result is not None
    champ = result.champion.metrics
    split = result.split

    pipeline, floor = statistics.median(pipelines), statistics.median(floors)
    print(f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min)")
    print(f"warm-up on {args.warmup_rows:,} rows (store, imports, JIT): {warmup:.1f}s, not counted below")
    print(f"split: {split.sizes()}; median of {args.repeats}")
    print("\npipeline phases (median seconds; each phase runs until the next message):")
    for k, (message, _) in enumerate(all_phases[0]):
        seconds = statistics.median(p[k][1] for p in all_phases if len(p) > k)
        print(f"  {seconds:8.2f}s  {message}")
    print(f"\nchampion pipeline   {pipeline:8.1f} s  runs {', '.join(f'{s:.1f}' for s in pipelines)}")
    print(
        f"plain lightgbm.train{floor:8.1f} s  runs {', '.join(f'{s:.1f}' for s in floors)}  "
        f"({booster.num_trees()} trees; champion {int(champ['best_iteration'])}, same params and arrays)"
    )
    overhead = (pipeline - floor) / pipeline
    print(f"pipeline overhead   {overhead:8.1%} of the pipeline ({pipeline / floor:.2f}x the floor)")
    work = statistics.median(around)
    print(
        f"work around LightGBM{work:8.1f} s  runs {', '.join(f'{s:.1f}' for s in around)}  (the pipeline minus its "
        f"own lightgbm.train: {work / (floor + work):.1%} of a pipeline whose LightGBM took the floor's time)"
    )

    bureau = fit_bureau_scorecard(split.train, schema, settings.train.seed)
    bureau_ev = evaluate(bureau.predict_pd(split.test), split.test, schema, settings.scale)
    print("\nacceptance figures (test split):")
    print(f"  champion AUC {champ['auc']:.4f}  oracle AUC {champ['oracle_auc']:.4f}  gap {champ['oracle_gap']:.4f}")
    print(
        f"  champion ECE {champ['ece']:.4f}  Brier {champ['brier']:.4f}  KS {champ['ks']:.4f}  "
        f"PSI(score) {champ['psi_score']:.4f}"
    )
    print(
        f"  thin-file AUC: champion {champ['auc_thin_file']:.4f}  bureau-only scorecard "
        f"{bureau_ev.metrics.get('auc_thin_file', float('nan')):.4f}  oracle {champ['oracle_auc_thin_file']:.4f}"
    )
    print(f"  overall AUC bureau-only scorecard {bureau_ev.metrics['auc']:.4f}")
    print(f"  predict {champ['predict_rows_per_s']:,.0f} rows/s, explain {champ['explain_rows_per_s']:,.0f} rows/s")
    print(
        f"  calibration: Platt slope {champ['calibration_slope']:.3f}, intercept {champ['calibration_intercept']:.3f}"
    )
    assert np.isfinite(champ["auc"])

    if args.profile:
        result = None
        gc.collect()
        profiler = cProfile.Profile()
        profiler.enable()
        pipeline_run()
        profiler.disable()
        if args.profile_out:
            profiler.dump_stats(args.profile_out)
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(r"thinfile|features/|training/|lightgbm/engine|lightgbm/basic.py.*(predict|update)", 40)
        print("\nprofile of one more pipeline run (cumulative seconds, under cProfile):")
        print(out.getvalue())


if __name__ == "__main__":
    run(main)
