"""Bin counts for PSI, counted in one pass, are the counts numpy's searchsorted and bincount give column by column."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.training.stability import bin_counts


def numpy_counts(values: np.ndarray, edges: list[float], levels: int | None) -> list[int]:
    missing = np.isnan(values)
    present = values[~missing]
    if levels is not None:
        counts = np.bincount(present.astype(np.int64), minlength=levels)[:levels]
    else:
        counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    return [*counts.tolist(), int(missing.sum())]


@st.composite
def column(draw: st.DrawFn, rows: int) -> tuple[np.ndarray, tuple[list[float] | None, int | None] | None]:
    kind = draw(st.sampled_from(["number", "category", "skip"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "category":
        levels = draw(st.integers(1, 12))
        values = rng.integers(0, levels, rows).astype(np.float64)
        spec: tuple[list[float] | None, int | None] | None = (None, levels)
    else:
        values = np.round(rng.normal(0, 3, rows), draw(st.integers(0, 2)))  # ties on the edges
        edges = sorted({float(x) for x in np.round(rng.normal(0, 3, draw(st.integers(0, 12))), 1)})
        spec = None if kind == "skip" else (edges, None)
    values[rng.random(rows) < draw(st.floats(0, 0.5))] = np.nan
    return values, spec


@st.composite
def tables(draw: st.DrawFn) -> list[tuple[np.ndarray, tuple[list[float] | None, int | None] | None]]:
    rows = draw(st.integers(0, 300))
    return draw(st.lists(column(rows), min_size=1, max_size=6))


@settings(max_examples=200, deadline=None)
@given(tables())
def test_one_pass_counts_equal_numpys_column_by_column(cols) -> None:
    X = np.column_stack([values for values, _ in cols])
    got = bin_counts(X, [spec for _, spec in cols])
    for (values, spec), counts in zip(cols, got, strict=True):
        if spec is None:
            assert counts is None
        else:
            assert counts == numpy_counts(values, spec[0] or [], spec[1])


def test_a_value_on_an_edge_falls_in_the_bin_above_it_as_searchsorted_right_puts_it() -> None:
    X = np.array([[1.0], [2.0], [2.5], [np.nan]])
    assert bin_counts(X, [([1.0, 2.0], None)]) == [[0, 1, 2, 1]]
