"""Population stability: a training reference stored with the model, and PSI against it."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from thinfile.features.schema import FeatureType, Schema

_FLOOR = 1e-4


def psi(expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    """Population stability index of two bin-share vectors (floored to avoid log 0)."""
    e = np.clip(np.asarray(expected, dtype=np.float64), _FLOOR, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), _FLOOR, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def _edges(values: np.ndarray, bins: int) -> list[float]:
    present = values[~np.isnan(values)]
    if present.size == 0:
        return []
    return np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])).tolist()


def bin_shares(values: np.ndarray, edges: list[float], categorical_levels: int | None = None) -> list[float]:
    """Shares per bin; the last bin holds missing values."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if categorical_levels is not None:
        counts = np.bincount(values[~missing].astype(np.int64), minlength=categorical_levels)[:categorical_levels]
    else:
        counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    shares = np.append(counts, missing.sum()).astype(np.float64)
    return (shares / max(len(values), 1)).tolist()


@numba.njit(cache=True)
def _count_bins(X: np.ndarray, edges: np.ndarray, n_edges: np.ndarray, levels: np.ndarray, out: np.ndarray) -> None:
    """Add to `out[j]` the counts `bin_shares` takes shares of, for every column j of `X`, in one row-major pass.

    Column j: `levels[j]` >= 0 counts category codes 0..levels[j]-1; otherwise the bin of a value is the number of
    `edges[j, :n_edges[j]]` at or below it; missing values go to the last bin; `n_edges[j]` < 0 skips the column.
    """
    n, p = X.shape
    for i in range(n):
        for j in range(p):
            e = n_edges[j]
            if e < 0:
                continue
            v = X[i, j]
            lv = levels[j]
            if np.isnan(v):
                out[j, lv if lv >= 0 else e + 1] += 1
            elif lv >= 0:
                if 0 <= v < lv:
                    out[j, int(v)] += 1
            else:
                k = 0
                for q in range(e):  # no early exit: a branch-free count is faster than a search over ~10 edges
                    k += edges[j, q] <= v
                out[j, k] += 1


def bin_counts(X: np.ndarray, bins: Sequence[tuple[list[float] | None, int | None] | None]) -> list[list[int] | None]:
    """Counts per bin (missing last) of every column of `X`, as `bin_shares` x rows: `bins[j]` is the column's
    (edges, categorical levels), or None to skip it."""
    p = X.shape[1]
    widest = max([len(b[0] or []) for b in bins if b is not None] + [0])
    edges = np.full((p, max(widest, 1)), np.inf)
    n_edges = np.full(p, -1, dtype=np.int64)
    levels = np.full(p, -1, dtype=np.int64)
    for j, b in enumerate(bins):
        if b is None:
            continue
        column_edges, column_levels = b
        if column_levels is not None:
            levels[j], n_edges[j] = column_levels, 0
        else:
            n_edges[j] = len(column_edges or [])
            edges[j, : n_edges[j]] = column_edges or []
    width = int(max(levels.max(), n_edges.max() + 1, 0)) + 1
    out = np.zeros((p, width), dtype=np.int64)
    _count_bins(np.ascontiguousarray(X, dtype=np.float64), edges, n_edges, levels, out)
    result: list[list[int] | None] = []
    for j, b in enumerate(bins):
        if b is None:
            result.append(None)
        else:
            used = int(levels[j]) + 1 if levels[j] >= 0 else int(n_edges[j]) + 2
            result.append(out[j, :used].tolist())
    return result


def build_reference(schema: Schema, X: np.ndarray, scores: np.ndarray, bins: int = 10) -> dict:
    """Bin edges and shares of every feature and of the score on the training rows (JSON-ready)."""
    ref: dict = {"rows": int(len(X)), "features": {}}
    for j, f in enumerate(schema.features):
        if f.type is FeatureType.category:
            ref["features"][f.name] = {"edges": None, "shares": bin_shares(X[:, j], [], len(f.levels))}
        else:
            edges = _edges(X[:, j], bins)
            ref["features"][f.name] = {"edges": edges, "shares": bin_shares(X[:, j], edges)}
    edges = _edges(np.asarray(scores, dtype=np.float64), bins)
    ref["score"] = {"edges": edges, "shares": bin_shares(scores, edges)}
    return ref


def population_psi(schema: Schema, reference: dict, X: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """PSI of the score (key 'score') and of each feature against the reference."""
    out = {"score": psi(reference["score"]["shares"], bin_shares(scores, reference["score"]["edges"]))}
    for j, f in enumerate(schema.features):
        r = reference["features"][f.name]
        levels = len(f.levels) if f.type is FeatureType.category else None
        out[f.name] = psi(r["shares"], bin_shares(X[:, j], r["edges"] or [], levels))
    return out
