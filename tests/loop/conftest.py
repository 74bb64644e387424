"""Lending-loop fixtures: one small bureau-era history (every outcome kept, and as the lender sees it)."""

from __future__ import annotations

import pandas as pd
import pytest

from thinfile.features.history import history_frame, history_schema, observed
from thinfile.features.schema import Schema
from thinfile.features.settings import GeneratorParams, HistorySettings


@pytest.fixture(scope="session")
def hist_schema(schema: Schema) -> Schema:
    return history_schema(schema)


@pytest.fixture(scope="session")
def small_params() -> GeneratorParams:
    """The default world, with a smaller reference sample for the policy's cut-off (faster tests)."""
    return GeneratorParams()


@pytest.fixture(scope="session")
def history_settings() -> HistorySettings:
    return HistorySettings(policy={"reference_rows": 20_000}, explore_share=0.05)


@pytest.fixture(scope="session")
def history(schema: Schema, small_params: GeneratorParams, history_settings: HistorySettings) -> pd.DataFrame:
    """20,000 applicants (seed 5) with a bureau-era history and 5% exploration; every outcome present. Read-only."""
    return history_frame(schema, small_params, history_settings, rows=20_000, seed=5)


@pytest.fixture(scope="session")
def seen(history: pd.DataFrame, hist_schema: Schema) -> pd.DataFrame:
    """The same history as the lender sees it: rejects' outcomes empty. Read-only."""
    return observed(history, hist_schema)
