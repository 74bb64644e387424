"""Population stability: a training reference stored with the model, and PSI against it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from thinfile.features.schema import FeatureType, Schema
from thinfile.features.settings import Section

_FLOOR = 1e-4


class StabilityLimits(Section):
    """PSI levels: below `watch` stable, up to `shift` worth watching, above `shift` shifted (retrain)."""

    watch: float = Field(0.1, gt=0, description="PSI above which a distribution is worth watching")
    shift: float = Field(0.25, gt=0, description="PSI above which a feature or the score has shifted")

    def level(self, value: float) -> str:
        return "shift" if value > self.shift else "watch" if value > self.watch else "stable"


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
