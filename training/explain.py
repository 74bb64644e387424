"""Exact score decomposition: TreeSHAP log-odds -> score points, dimension sub-scores, reason codes, hints."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinfile.config import Cutoffs, ScoreScale
from thinfile.features.schema import DIMENSIONS, FeatureType, Schema
from thinfile.training import score as scoring

TOP_REASONS = 4
_EPS = 1e-9


@dataclass(frozen=True)
class Explanation:
    """Scores of n rows with every point accounted for: base_points + points.sum(1) == score_unclipped."""

    schema: Schema
    X: np.ndarray
    margin: np.ndarray
    score_unclipped: np.ndarray
    score: np.ndarray
    pd: np.ndarray
    band: np.ndarray
    decision: np.ndarray
    base_points: float
    points: np.ndarray
    dimensions: np.ndarray
    reason_index: np.ndarray
    reason_points: np.ndarray
    hints: dict[str, float]

    def __len__(self) -> int:
        return len(self.score)

    def display_value(self, row: int, j: int) -> object:
        """The applicant's value of feature j in the schema's terms (category name, bool, number, None)."""
        v = self.X[row, j]
        if np.isnan(v):
            return None
        f = self.schema.features[j]
        if f.type is FeatureType.category:
            return f.categories[int(v)]
        if f.type is FeatureType.bool:
            return bool(v)
        if f.type is FeatureType.int:
            return int(v)
        return float(v)

    def hint(self, row: int, j: int) -> str | None:
        """What would help, from the model's break-even value for an actionable feature; None if nothing."""
        f = self.schema.features[j]
        target = self.hints.get(f.name)
        if not f.actionable or target is None or f.monotone == 0:
            return None
        v = self.X[row, j]
        if np.isnan(v):
            return None
        shown = f"{target:g}" if f.type is not FeatureType.int else f"{int(np.ceil(target)) if f.monotone > 0 else int(np.floor(target))}"
        unit = f" {f.unit}" if f.unit else ""
        if f.monotone > 0 and v < target:
            return f"{f.display_name}: at least {shown}{unit} would typically stop this costing points"
        if f.monotone < 0 and v > target:
            return f"{f.display_name}: at most {shown}{unit} would typically stop this costing points"
        return None

    def reasons(self, row: int) -> list[dict[str, object]]:
        out = []
        for j, pts in zip(self.reason_index[row], self.reason_points[row]):
            if j < 0:
                break
            f = self.schema.features[j]
            out.append({
                "code": f.name,
                "text": f.reason,
                "value": self.display_value(row, j),
                "points_lost": round(float(-pts), 4),
                "hint": self.hint(row, j),
            })
        return out

    def records(self) -> list[dict[str, object]]:
        """One plain dict per row (the service's answer body, without model and request ids)."""
        return [
            {
                "score": round(float(self.score[i]), 2),
                "band": str(self.band[i]),
                "pd": float(self.pd[i]),
                "decision": str(self.decision[i]),
                "reasons": self.reasons(i),
                "dimensions": {d: round(float(self.dimensions[i, k]), 4) for k, d in enumerate(DIMENSIONS)},
                "base_points": round(float(self.base_points), 4),
            }
            for i in range(len(self))
        ]

    def to_frame(self, top: int = TOP_REASONS) -> pd.DataFrame:
        """Flat columns for tables: score, band, pd, decision, dimension points, top reason codes."""
        cols: dict[str, object] = {
            "score": self.score,
            "score_unclipped": self.score_unclipped,
            "band": self.band.astype(str),
            "pd": self.pd,
            "decision": self.decision.astype(str),
        }
        for k, d in enumerate(DIMENSIONS):
            cols[f"points_{d}"] = self.dimensions[:, k]
        names = np.array(self.schema.feature_names + [None], dtype=object)
        texts = np.array([f.reason for f in self.schema.features] + [None], dtype=object)
        for k in range(min(top, self.reason_index.shape[1])):
            idx = self.reason_index[:, k]
            cols[f"reason_{k + 1}_code"] = names[idx]
            cols[f"reason_{k + 1}_text"] = texts[idx]
            cols[f"reason_{k + 1}_points_lost"] = np.where(idx >= 0, -self.reason_points[:, k], np.nan)
        return pd.DataFrame(cols)


def dimension_matrix(schema: Schema) -> np.ndarray:
    """(features x 5) indicator of each feature's dimension."""
    m = np.zeros((len(schema.features), len(DIMENSIONS)))
    for j, f in enumerate(schema.features):
        m[j, DIMENSIONS.index(f.dimension.value)] = 1.0
    return m


def top_reasons(points: np.ndarray, top: int = TOP_REASONS) -> tuple[np.ndarray, np.ndarray]:
    """Indices and points of the (up to) `top` features that lowered each score most; -1 pads."""
    k = min(top, points.shape[1])
    order = np.argsort(points, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(points, order, axis=1)
    lowered = chosen < -_EPS
    return np.where(lowered, order, -1), np.where(lowered, chosen, 0.0)


def explain_contributions(
    schema: Schema, X: np.ndarray, contrib: np.ndarray, scale: ScoreScale, cutoffs: Cutoffs,
    hints: dict[str, float] | None = None,
) -> Explanation:
    """Turn log-odds contributions (n x p+1, last column the bias) into an Explanation."""
    fac = scoring.factor(scale)
    bias = contrib[:, -1]
    points = -fac * contrib[:, :-1]
    margin = contrib.sum(axis=1)
    base = scoring.offset(scale) - fac * float(bias[0]) if len(bias) else scoring.offset(scale)
    unclipped = scoring.offset(scale) - fac * margin
    clipped = scoring.clip(unclipped, scale)
    idx, pts = top_reasons(points)
    return Explanation(
        schema=schema, X=X, margin=margin, score_unclipped=unclipped, score=clipped,
        pd=1.0 / (1.0 + np.exp(-margin)), band=scoring.bands(clipped, scale),
        decision=scoring.decisions(clipped, cutoffs), base_points=base, points=points,
        dimensions=points @ dimension_matrix(schema), reason_index=idx, reason_points=pts,
        hints=hints or {},
    )


def break_even_values(schema: Schema, X: np.ndarray, points: np.ndarray, bins: int = 50) -> dict[str, float]:
    """Per actionable monotone feature, the value from which it typically stops costing points.

    Measured on reference rows: values are cut into quantile bins and the first bin (from the bad
    end) whose median points are >= 0 gives the break-even value.
    """
    out: dict[str, float] = {}
    for j, f in enumerate(schema.features):
        if not f.actionable or f.monotone == 0:
            continue
        present = ~np.isnan(X[:, j])
        if present.sum() < 20:
            continue
        x, p = X[present, j], points[present, j]
        order = np.argsort(x * f.monotone, kind="stable")
        x, p = x[order], p[order]
        for chunk_x, chunk_p in zip(np.array_split(x, bins), np.array_split(p, bins)):
            if chunk_x.size and np.median(chunk_p) >= -_EPS:
                out[f.name] = float(chunk_x[0])
                break
    return out
