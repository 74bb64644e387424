"""Shares in what thinfile says: one decimal, but a part is never 0.0% and a part short of the whole never 100.0%."""

import numpy as np
import pandas as pd
import pytest

from thinfile.features.infer import infer_schema
from thinfile.features.words import percent


@pytest.mark.parametrize(
    ("share", "said"),
    [
        (0.0, "0.0%"),
        (1 / 6000, "under 0.1%"),
        (0.0005, "0.1%"),
        (0.25, "25.0%"),
        (5999 / 6000, "over 99.9%"),
        (1.0, "100.0%"),
    ],
)
def test_a_share_is_said_to_one_decimal_without_rounding_a_part_away(share: float, said: str) -> None:
    assert percent(share) == said


def test_infer_says_a_column_with_one_missing_value_in_6000_is_missing_under_0_1_percent() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"id": np.arange(6000), "income": rng.normal(5000, 900, 6000), "bad": rng.integers(0, 2, 6000)}
    )
    frame.loc[17, "income"] = np.nan
    found = infer_schema(frame, name="t", target="bad", id_column="id")
    (income,) = [c for c in found.columns if c.name == "income"]
    assert "missing in 1 row (under 0.1%)" in income.seen
