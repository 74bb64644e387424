"""Tree-shape study: test AUC against an unconstrained LightGBM, and explanation cost, for a few shapes.

Usage: python bench/train_shape.py [--rows 300000] [--explain-rows 20000] [--seed 7]
Every model trains on the same split with early stopping on validation. The reference is LightGBM
with no monotone constraints, 31 leaves and no depth limit (library defaults). For each shape the
table gives trees, test AUC, AUC loss against the reference, plain-predict and exact-TreeSHAP
(`Scorer.explain`) rows/s, measured in this run on the same rows. The default in `TrainConfig`
should be the cheapest shape to explain whose AUC loss stays <= 0.002.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from thinfile.features.generator import generate_frame
from thinfile.features.schema import load_schema
from thinfile.training.champion import lgb_params, train_booster
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.settings import TrainConfig
from thinfile.training.split import split_frame

SHAPES = [  # (label, num_leaves, max_depth, monotone)
    ("unconstrained 31 leaves", 31, -1, False),
    ("monotone 15 leaves, depth 5", 15, 5, True),
    ("monotone 8 leaves, depth 3", 8, 3, True),
    ("monotone 4 leaves, depth 2", 4, 2, True),
]  # monotone with 31 leaves and no depth limit took > 10 min to fit here ("intermediate" method): left out


def rows_per_s(fn, rows: int, repeat: int = 2) -> float:
    best = min(_timed(fn) for _ in range(repeat))
    return rows / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--explain-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--learning-rate", type=float, default=None, help="override TrainConfig.learning_rate")
    args = parser.parse_args()
    schema = load_schema()
    base = TrainConfig(seed=args.seed)
    if args.learning_rate:
        base = base.model_copy(update={"learning_rate": args.learning_rate})
    frame = generate_frame(schema, rows=args.rows, seed=args.seed)
    split = split_frame(frame, schema, base)
    X, Xv, Xt = (schema.to_matrix(s) for s in (split.train, split.valid, split.test))
    y, yv, yt = (s[schema.target].to_numpy() for s in (split.train, split.valid, split.test))
    oracle = roc_auc_score(yt, split.test[schema.oracle_column])
    Xe = Xt[: args.explain_rows]
    print(
        f"rows {args.rows:,} (train {len(X):,}, test {len(Xt):,}); oracle test AUC {oracle:.4f}; "
        f"learning rate {base.learning_rate}, max rounds {base.max_rounds}"
    )
    print(f"{'shape':30} {'trees':>5} {'AUC':>7} {'loss':>7} {'fit s':>6} {'predict/s':>11} {'explain/s':>10}")
    reference = None
    for label, leaves, depth, monotone in SHAPES:
        config = base.model_copy(update={"num_leaves": leaves, "max_depth": depth})
        params = lgb_params(schema, config)
        if not monotone:
            params.pop("monotone_constraints")
            params.pop("monotone_constraints_method")
        start = time.perf_counter()
        booster = train_booster(schema, X, y, Xv, yv, config, params=params)
        fit = time.perf_counter() - start
        auc = roc_auc_score(yt, booster.predict(Xt))
        reference = auc if reference is None else reference
        scorer = Scorer(schema=schema, booster=booster, scale=ScoreScale())
        predict = rows_per_s(lambda b=booster: b.predict(Xe), len(Xe))
        explain = rows_per_s(lambda s=scorer: s.explain(Xe), len(Xe))
        print(
            f"{label:30} {booster.num_trees():>5} {auc:>7.4f} {reference - auc:>7.4f} {fit:>6.1f} "
            f"{predict:>11,.0f} {explain:>10,.0f}"
        )
    default = base
    print(
        f"\nTrainConfig default: num_leaves={default.num_leaves}, max_depth={default.max_depth}, "
        f"learning_rate={default.learning_rate}, max_rounds={default.max_rounds}"
    )
    assert np.isfinite(reference)


if __name__ == "__main__":
    main()
