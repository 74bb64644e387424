"""Fixtures shared by every area: the built-in schema and small populations from the project's generator."""

from __future__ import annotations

import pandas as pd
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema, load_schema


@pytest.fixture(scope="session")
def schema() -> Schema:
    return load_schema()


@pytest.fixture(scope="session")
def population(schema: Schema) -> pd.DataFrame:
    """30,000 synthetic people (seed 11); treat as read-only."""
    return generate_frame(schema, rows=30_000, seed=11)
