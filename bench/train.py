"""Training on 1M rows: the champion pipeline against plain `lightgbm.train` on the same arrays (the floor).

Usage: python bench/train.py [--rows 1000000] [--seed 7]
The pipeline (validation, split, champion fit with calibration and reference, evaluation, plots, MLflow
logging and registration; baselines off) runs in a throw-away THINFILE_HOME; then, in the same process,
`lightgbm.train` is timed with the champion's parameters on the same train/validation matrices with the
same early stopping. Overhead = (pipeline - floor) / pipeline. Also prints the acceptance figures
(AUC vs oracle, ECE, thin-file AUC against the bureau-only scorecard fitted on the same split).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ["THINFILE_HOME"] = tempfile.mkdtemp(prefix="thinfile-bench-")
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    from thinfile.config import Settings
    from thinfile.features.generator import generate_frame
    from thinfile.features.schema import load_schema
    from thinfile.training.champion import TrainConfig, lgb_params, train_booster
    from thinfile.training.evaluate import evaluate
    from thinfile.training.pipeline import PipelineConfig, train_frame
    from thinfile.training.scorecard import fit_bureau_scorecard

    schema = load_schema()
    settings = Settings(train=TrainConfig(seed=args.seed), pipeline=PipelineConfig(baselines=False))
    start = time.perf_counter()
    frame = generate_frame(schema, rows=args.rows, seed=args.seed)
    print(f"generated {len(frame):,} rows in {time.perf_counter() - start:.1f}s")

    phases: list[tuple[str, float]] = []
    last = [time.perf_counter()]

    def progress(message: str) -> None:
        now = time.perf_counter()
        phases.append((message, now - last[0]))
        last[0] = now

    start = time.perf_counter()
    result = train_frame(frame, schema, settings, source=f"bench {args.rows:,} rows", progress=progress)
    pipeline = time.perf_counter() - start
    phases.append(("(end)", time.perf_counter() - last[0]))
    champ = result.champion.metrics

    split = result.split
    X, Xv, y, yv = split.X_train, split.X_valid, split.y("train"), split.y("valid")
    start = time.perf_counter()
    booster = train_booster(schema, X, y, Xv, yv, settings.train, params=lgb_params(schema, settings.train))
    floor = time.perf_counter() - start

    bureau = fit_bureau_scorecard(split.train, schema, settings.train.seed)
    bureau_ev = evaluate(bureau.predict_pd(split.test), split.test, schema, settings.scale)

    print(f"\nsplit: {split.sizes()}")
    print("pipeline phases (time until the next message):")
    for (message, _), (_, seconds) in zip([("(start)", 0.0), *phases[:-1]], phases, strict=True):
        print(f"  {seconds:8.1f}s  after: {message}")
    print(
        f"\nchampion pipeline          {pipeline:8.1f} s  (champion fit alone {champ['fit_seconds']:.1f} s, "
        f"{int(champ['best_iteration'])} trees)"
    )
    print(f"plain lightgbm.train       {floor:8.1f} s  ({booster.num_trees()} trees, same params and arrays)")
    print(f"pipeline overhead          {(pipeline - floor) / pipeline:8.1%} of the total")
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


if __name__ == "__main__":
    main()
