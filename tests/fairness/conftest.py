"""Fairness-area fixtures: a private MLflow store, a champion and bureau scorecard fitted once, a foreign schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thinfile.config import Settings
from thinfile.features.schema import Schema, parse_schema
from thinfile.training.champion import fit_champion
from thinfile.training.fairness.audit import FairnessReport, fairness_report
from thinfile.training.scorecard import WoeScorecard, fit_bureau_scorecard
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import FairnessAudit, GlobalExplainConfig, TrainConfig
from thinfile.training.split import Split, split_frame


@pytest.fixture(scope="session")
def fairness_home(home_for) -> Path:
    return home_for("fairness")


@pytest.fixture(scope="session")
def fast() -> Settings:
    """Default limits and cut-offs; fewer boosting rounds, smaller proxy classifiers (speed is not tested)."""
    return Settings(
        train=TrainConfig(learning_rate=0.1, max_rounds=150),
        audit=FairnessAudit(proxy_rows=8_000, proxy_rounds=30, mitigation_rounds=2),
        explanations=GlobalExplainConfig(rows=1_500, dependence_plots=2),
    )


@pytest.fixture(scope="session")
def split(population: pd.DataFrame, schema: Schema, fast: Settings) -> Split:
    return split_frame(population, schema, fast.train)


@pytest.fixture(scope="session")
def champion(split: Split, schema: Schema, fast: Settings) -> Scorer:
    return fit_champion(split.train, split.valid, schema, fast.train, fast.scale, fast.cutoffs)


@pytest.fixture(scope="session")
def bureau(split: Split, schema: Schema) -> WoeScorecard:
    return fit_bureau_scorecard(split.train, schema)


@pytest.fixture(scope="session")
def report(champion: Scorer, bureau: WoeScorecard, split: Split, fast: Settings) -> FairnessReport:
    """The champion's report on the held-out rows, with the bureau-only scorecard as inclusion baseline."""
    return fairness_report(champion, split.test, baseline=bureau, limits=fast.fairness, audit=fast.audit)


FOREIGN_SCHEMA = {
    "name": "acme-microloans",
    "id_column": "loan_ref",
    "target": "went_bad",
    "protected": [{"name": "region", "categories": ["north", "south"]}, {"name": "sex", "categories": ["f", "m"]}],
    "features": [
        {
            "name": "monthly_income",
            "type": "float",
            "min": 0,
            "max": 1e6,
            "dimension": "capacity",
            "monotone": 1,
            "reason": "Low income",
        },
        {
            "name": "late_bills",
            "type": "int",
            "min": 0,
            "max": 50,
            "dimension": "behaviour",
            "monotone": -1,
            "reason": "Late bills",
        },
        {
            "name": "bank_defaults",
            "type": "int",
            "min": 0,
            "max": 20,
            "dimension": "credit_history",
            "monotone": -1,
            "reason": "Defaults on the bank record",
            "traditional": True,
        },
        {
            "name": "wallet_tier",
            "type": "category",
            "categories": ["bronze", "silver", "gold"],
            "dimension": "identity",
            "reason": "Wallet tier",
        },
    ],
}


@pytest.fixture(scope="session")
def foreign_schema() -> Schema:
    return parse_schema(FOREIGN_SCHEMA, "acme test schema")


@pytest.fixture(scope="session")
def foreign_table() -> pd.DataFrame:
    """A lender's own table: other names, no oracle; the south has thinner bank records."""
    rng = np.random.default_rng(3)
    n = 6_000
    south = rng.random(n) < 0.4
    income = rng.lognormal(8, 0.6, n) * np.where(south, 0.8, 1.0)
    late = rng.poisson(2, n)
    has_record = rng.random(n) < np.where(south, 0.2, 0.5)
    defaults = rng.poisson(0.5, n)
    logit = -2.5 - 0.8 * (np.log(income) - 8) + 0.35 * late + 0.6 * np.where(has_record, defaults, 0)
    return pd.DataFrame(
        {
            "loan_ref": [f"L{i:06d}" for i in range(n)],
            "monthly_income": income,
            "late_bills": late,
            "bank_defaults": pd.Series(np.where(has_record, defaults, 0), dtype="Int64").where(has_record),
            "wallet_tier": rng.choice(["bronze", "silver", "gold"], n),
            "region": np.where(south, "south", "north"),
            "sex": rng.choice(["f", "m"], n),
            "went_bad": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
