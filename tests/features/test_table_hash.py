"""data_hash: a table's content, so that a table read again, from another file format, hashes as it did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thinfile.features.io import read_table
from thinfile.features.table_hash import data_hash


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5_003  # not a multiple of 8: a bit array's last byte has unused bits
    flag = pd.array(rng.random(n) < 0.5, dtype="boolean")
    flag[rng.random(n) < 0.2] = pd.NA
    amount = rng.normal(size=n)
    amount[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "flag": flag,
            "amount": amount,
            "region": pd.Series(rng.choice(["north", "south", None], n), dtype=object),
            "count": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)), dtype="Int64"),
        }
    )


def test_a_table_read_back_from_parquet_hashes_as_it_did(table: pd.DataFrame, tmp_path: Path) -> None:
    table.to_parquet(tmp_path / "t.parquet", index=False)
    read = read_table(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read, table, check_dtype=False)  # the same content, by pandas
    assert data_hash(read) == data_hash(table)


@pytest.mark.parametrize("column", ["flag", "amount", "region", "count"])
def test_a_value_becoming_missing_changes_the_hash(table: pd.DataFrame, column: str) -> None:
    present = int(np.flatnonzero(table[column].notna().to_numpy())[0])
    changed = table.copy()
    changed.loc[present, column] = None
    assert data_hash(changed) != data_hash(table)
