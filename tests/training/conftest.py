"""Training-area fixtures: a private MLflow store, and the pipeline run once on the shared population."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from thinfile.config import Settings
from thinfile.features.schema import Schema, parse_schema
from thinfile.training.pipeline import TrainResult, train_frame
from thinfile.training.settings import EvaluationConfig, PipelineConfig, TrainConfig


@pytest.fixture(scope="session")
def training_home(home_for) -> Path:
    return home_for("training")


def fast_settings(**pipeline: object) -> Settings:
    """Default settings with small timing samples and no hyper-parameter search (tests never assert speed)."""
    return Settings(
        train=TrainConfig(tune=False),  # the search has its own tests (test_training_tuning, tests/realdata)
        pipeline=PipelineConfig(**pipeline),
        evaluation=EvaluationConfig(timing_rows=2_000, explain_timing_rows=500, plot_rows=5_000),
    )


@pytest.fixture(scope="session")
def trained(population: pd.DataFrame, schema: Schema, training_home: Path) -> TrainResult:
    """Champion + both baselines on the shared 30,000-row population, logged and registered once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(training_home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        return train_frame(population, schema, fast_settings(), source="shared test population")


FOREIGN_SCHEMA = {
    "name": "acme-microloans",
    "version": 3,
    "id_column": "loan_ref",
    "target": "went_bad",
    "date_column": "applied_on",
    "protected": [{"name": "region", "categories": ["north", "south"]}],
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
        {"name": "kyc_done", "type": "bool", "dimension": "identity", "monotone": 1, "reason": "Identity not checked"},
    ],
}


def foreign_table(rows: int, seed: int) -> pd.DataFrame:
    """A lender's own table: other column names, another target, a date, and a known risk pattern."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.6, rows)
    late = rng.poisson(2, rows)
    has_record = rng.random(rows) < 0.4
    defaults = np.where(has_record, rng.poisson(0.5, rows), -1)
    tier = rng.choice(["bronze", "silver", "gold"], rows)
    kyc = rng.random(rows) < 0.7
    logit = -2.5 - 0.8 * (np.log(income) - 8) + 0.35 * late + 0.6 * np.clip(defaults, 0, None) - 0.4 * kyc
    return pd.DataFrame(
        {
            "loan_ref": [f"L{i:06d}" for i in range(rows)],
            "applied_on": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D"),
            "monthly_income": income,
            "late_bills": late,
            "bank_defaults": pd.Series(np.where(has_record, defaults, 0), dtype="Int64").mask(~has_record),
            "wallet_tier": tier,
            "kyc_done": kyc,
            "region": rng.choice(["north", "south"], rows),
            "went_bad": (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )


@pytest.fixture(scope="session")
def quick() -> Settings:
    return fast_settings()


@pytest.fixture(scope="session")
def foreign_schema() -> Schema:
    return parse_schema(FOREIGN_SCHEMA, "acme test schema")


@pytest.fixture(scope="session")
def make_foreign_table():
    return foreign_table


@pytest.fixture
def foreign_files(tmp_path: Path) -> tuple[Path, Path]:
    schema_path = tmp_path / "acme.yaml"
    schema_path.write_text(yaml.safe_dump(FOREIGN_SCHEMA, sort_keys=False))
    data_path = tmp_path / "acme.parquet"
    foreign_table(6_000, seed=5).to_parquet(data_path, index=False)
    return data_path, schema_path
