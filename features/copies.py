"""Columns that hold the same value as another in every row: a copy of an input, of a protected attribute, or of
the outcome itself."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pandas as pd


def copied_columns(frame: pd.DataFrame, names: Sequence[str], head_rows: int = 10_000) -> dict[str, str]:
    """Each of `names` equal, in every row and in type, to an earlier one, mapped to the first of them. Columns
    are first told apart by a hash of their first `head_rows` rows, so only likely copies are compared whole."""
    head = frame.head(head_rows)
    seen: dict[tuple[str, bytes], list[str]] = {}
    copies: dict[str, str] = {}
    for name in names:
        digest = hashlib.blake2b(pd.util.hash_pandas_object(head[name], index=False).to_numpy().tobytes()).digest()
        earlier = seen.setdefault((str(frame[name].dtype), digest), [])
        original = next((e for e in earlier if frame[name].equals(frame[e])), None)
        if original is None:
            earlier.append(name)
        else:
            copies[name] = original
    return copies
