"""Columns that hold the same value as another in every row: a copy of an input, of a protected attribute, or of
the outcome itself."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd


def copied_columns(frame: pd.DataFrame, names: Sequence[str], head_rows: int = 10_000) -> dict[str, str]:
    """Each of `names` equal, in every row and in type, to an earlier one, mapped to the first of them. Columns
    are told apart by a hash of their first `head_rows` rows, then (only where those match) of all their rows,
    so only likely copies are compared whole. A table with no rows has none (every column would equal every
    other)."""
    if not len(frame):
        return {}
    head = frame.head(head_rows)
    whole: dict[str, bytes] = {}

    def digest_of(name: str) -> bytes:
        if name not in whole:
            whole[name] = _digest(frame[name])
        return whole[name]

    seen: dict[tuple[str, bytes], list[str]] = {}
    copies: dict[str, str] = {}
    for name in names:
        earlier = seen.setdefault((str(frame[name].dtype), _digest(head[name])), [])
        original = next((e for e in earlier if digest_of(e) == digest_of(name) and frame[name].equals(frame[e])), None)
        if original is None:
            earlier.append(name)
        else:
            copies[name] = original
    return copies


def _digest(column: pd.Series) -> bytes:
    return hashlib.blake2b(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes()).digest()


def copies_of_outcome(
    frame: pd.DataFrame, names: Sequence[str], outcome: np.ndarray, head_rows: int = 1_000, min_each: int = 10
) -> dict[str, bool]:
    """The columns of `names` that hold the 0/1 `outcome` (NaN: unknown) in every row where it is known: True for
    the outcome itself, False for its opposite. Each is compared on its first `head_rows` known rows first. Unless
    each outcome is known on `min_each` rows, none is (a flag could match a handful of outcomes by chance)."""
    known = np.flatnonzero(~np.isnan(outcome))
    ones = int(np.count_nonzero(outcome[known] == 1))
    if min(ones, len(known) - ones) < min_each:
        return {}
    y, head = outcome[known], known[:head_rows]
    found: dict[str, bool] = {}
    for name in names:
        column = frame[name]
        for same in (True, False):
            wanted = y if same else 1.0 - y
            if np.array_equal(_numbers(column.iloc[head]), wanted[: len(head)]) and np.array_equal(
                _numbers(column.iloc[known]), wanted
            ):
                found[name] = same
                break
    return found


def _numbers(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column.dtype):
        column = column.astype("float64")
    elif not pd.api.types.is_numeric_dtype(column.dtype):  # text or categories: '1' and '0'
        column = pd.Series(column.astype(object).to_numpy(), dtype=object).map(str, na_action="ignore")
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
