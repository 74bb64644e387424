"""Row hashes: one per row of a model matrix with its outcome, alike for the same values wherever the row stands."""

from __future__ import annotations

import numpy as np

from thinfile.features.table_hash import row_hashes


def _rows(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.choice([0.0, 1.0, 2.5, np.nan, -3.0], size=(n, 6))
    return X, rng.integers(0, 2, n).astype(np.float64)


def test_rows_hash_alike_exactly_when_their_values_are_alike() -> None:
    X, y = _rows(np.random.default_rng(3), 5_000)  # few values: many rows repeat
    distinct = np.unique(np.column_stack([np.nan_to_num(X, nan=99.0), y]), axis=0)
    assert len(np.unique(row_hashes(X, y))) == len(distinct)


def test_a_rows_hash_does_not_depend_on_its_place_or_its_nans_bits_or_zeros_sign() -> None:
    X, y = _rows(np.random.default_rng(4), 1_000)
    moved = np.random.default_rng(5).permutation(len(X))
    other = X[moved].copy()
    other[other == 0.0] = -0.0
    bits = other.view(np.uint64)
    bits[np.isnan(other)] |= np.uint64(1)  # another NaN payload
    assert np.array_equal(row_hashes(other, y[moved]), row_hashes(X, y)[moved])


def test_an_outcome_alone_tells_two_rows_apart() -> None:
    X = np.zeros((2, 3))
    assert len(np.unique(row_hashes(X, np.array([0.0, 1.0])))) == 2
