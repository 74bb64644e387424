"""Real public credit tables: the champion's test AUC against plain `lightgbm.LGBMClassifier()` on the same split.

Usage: python bench/real_tables.py [--splits 5] [--tables german uci synthetic-2k synthetic-20k rare-flag-2k]

For each table and each of --splits seeded splits (the split `thinfile train --seed S` makes), four models are
fitted on the same training rows and scored on the same test rows:
  reference  `LGBMClassifier()` with its defaults (categorical columns declared), no validation rows used;
  champion   as `thinfile train` chooses it: table-fitted defaults, then on tables under 50,000 rows the short
             cross-validated search (training.tuning.choose_config), early-stopped on the validation rows;
  fitted     the table-fitted defaults without the search (what `--no-tune` trains);
  fixed      the fixed 200,000-row defaults (what thinfile trained before they were fitted to the table).
Target (issue 9): mean over the splits of champion - reference >= -0.005 on the real tables. The tables are
the committed fixtures in tests/data (German credit, the UCI credit-card sample) with their schemas; the
synthetic ones are the project's generator at small sizes, and rare-flag-2k a table made here with the shape
of issue 9's failure (2,000 rows, 41 inputs, the strongest a flag on 5% of rows). Also printed: the configs
chosen, the median fit seconds of each model, and the load average before and after (for a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema, load_schema, parse_schema
from thinfile.training.champion import train_booster
from thinfile.training.data import prepare
from thinfile.training.settings import TrainConfig
from thinfile.training.split import Split, split_frame
from thinfile.training.tuning import choose_config

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
REAL = {"german": "german_credit", "uci": "uci_credit_card"}
SYNTHETIC = {"synthetic-2k": 2_000, "synthetic-20k": 20_000}
RARE_FLAG = "rare-flag-2k"  # issue 9's failure: 2,000 rows, ~45 inputs, the strongest one a flag on 5% of rows
TARGET = -0.005


@dataclass
class Row:
    table: str
    seed: int
    reference: float
    champion: float
    fitted: float
    fixed: float
    seconds: dict[str, float]
    chosen: str


def rare_flag_table(rows: int = 2_000, noise: int = 40, seed: int = 5) -> tuple[pd.DataFrame, Schema]:
    """Weak numeric inputs and one strong flag on 5% of rows: fewer flagged training rows than 100 per leaf."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, noise))
    flag = rng.random(rows) < 0.05
    logit = -2.0 + 0.4 * x[:, 0] + 0.3 * x[:, 1] - 0.3 * x[:, 2] + 2.5 * flag
    frame = pd.DataFrame(x, columns=[f"x{j:02d}" for j in range(noise)])
    frame.insert(0, "id", np.arange(rows))
    frame["prior_default_flag"] = flag
    frame["bad"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    number = {"type": "float", "min": -10, "max": 10, "dimension": "other", "reason": "a weak input"}
    features = [{"name": c, **number} for c in frame.columns[1:-2]]
    features.append({"name": "prior_default_flag", "type": "bool", "dimension": "credit_history", "reason": "flag"})
    schema = parse_schema({"name": RARE_FLAG, "id_column": "id", "target": "bad", "features": features})
    return frame, schema


def load(table: str) -> tuple[pd.DataFrame, Schema]:
    if table == RARE_FLAG:
        return rare_flag_table()
    if table in REAL:
        schema = load_schema(DATA / f"{REAL[table]}.yaml")
        return prepare(pd.read_csv(DATA / f"{REAL[table]}.csv"), schema).frame, schema
    schema = load_schema()
    return generate_frame(schema, rows=SYNTHETIC[table], seed=3), schema


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def auc_of(booster: lgb.Booster, split: Split) -> float:
    return float(roc_auc_score(split.y("test"), booster.predict(split.X_test, num_iteration=booster.best_iteration)))


def fit(schema: Schema, split: Split, config: TrainConfig) -> lgb.Booster:
    return train_booster(schema, split.X_train, split.y("train"), split.X_valid, split.y("valid"), config)


def one_split(table: str, frame: pd.DataFrame, schema: Schema, seed: int) -> Row:
    base = TrainConfig(seed=seed)
    split = split_frame(frame, schema, base)
    y = split.y("train")

    def reference() -> float:
        model = lgb.LGBMClassifier(verbosity=-1, random_state=seed)
        model.fit(split.X_train, y, categorical_feature=schema.categorical_indices or "auto")
        return float(roc_auc_score(split.y("test"), model.predict_proba(split.X_test)[:, 1]))

    ref, ref_s = timed(reference)
    chosen, search_s = timed(lambda: choose_config(split, base))
    champion, champion_s = timed(lambda: fit(schema, split, chosen.config))
    fitted_config = base.fitted_to(
        len(y), int(y.sum()), int(split.y("valid").sum()), inputs=len(split.schema.feature_names)
    )
    fitted, fitted_s = timed(lambda: fit(schema, split, fitted_config))
    fixed, fixed_s = timed(lambda: fit(schema, split, base.model_copy(update={"fit_to_table": False})))
    c = chosen.config
    return Row(
        table,
        seed,
        ref,
        auc_of(champion, split),
        auc_of(fitted, split),
        auc_of(fixed, split),
        {
            "reference": ref_s,
            "champion": search_s + champion_s,
            "fitted": fitted_s,
            "fixed": fixed_s,
        },
        f"{c.num_leaves} leaves, depth {c.max_depth}, min_child {c.min_child_samples}, lr {c.learning_rate:.3f}, "
        f"{champion.best_iteration} trees",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--splits", type=int, default=5)
    tables = [*REAL, *SYNTHETIC, RARE_FLAG]
    parser.add_argument("--tables", nargs="+", default=tables, choices=tables)
    args = parser.parse_args()
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    summary = []
    for table in args.tables:
        frame, schema = load(table)
        events = int(frame[schema.target].sum())
        print(f"\n{table}: {len(frame):,} rows, {events:,} defaults, {len(schema.features)} inputs")
        print(f"{'split':>5} {'reference':>9} {'champion':>9} {'diff':>7} {'fitted':>7} {'fixed':>7}  chosen")
        rows = []
        for seed in range(args.splits):
            r = one_split(table, frame, schema, seed)
            rows.append(r)
            print(
                f"{seed:>5} {r.reference:>9.4f} {r.champion:>9.4f} {r.champion - r.reference:>+7.4f} "
                f"{r.fitted:>7.4f} {r.fixed:>7.4f}  {r.chosen}"
            )
        mean = {k: float(np.mean([getattr(r, k) for r in rows])) for k in ("reference", "champion", "fitted", "fixed")}
        secs = {k: float(np.median([r.seconds[k] for r in rows])) for k in rows[0].seconds}
        diff = mean["champion"] - mean["reference"]
        print(
            f" mean {mean['reference']:>9.4f} {mean['champion']:>9.4f} {diff:>+7.4f} {mean['fitted']:>7.4f} "
            f"{mean['fixed']:>7.4f}  {'meets' if diff >= TARGET else 'MISSES'} the target (>= {TARGET})"
        )
        print("  median fit seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in secs.items()))
        summary.append((table, diff, mean["fitted"] - mean["reference"], mean["fixed"] - mean["reference"]))
    print("\nmean test AUC minus plain LGBMClassifier() (same splits):")
    print(f"{'table':>14} {'champion':>9} {'fitted':>8} {'fixed':>8}")
    for table, d, f, x in summary:
        print(f"{table:>14} {d:>+9.4f} {f:>+8.4f} {x:>+8.4f}")
    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
