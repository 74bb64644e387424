"""Exact score decomposition: TreeSHAP log-odds -> score points, dimension sub-scores, reason codes, hints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas
from pydantic import Field
from scipy.special import expit

from thinfile.features.schema import DIMENSIONS, Feature, FeatureReading, FeatureType, Schema, Wording
from thinfile.training.scorer import scale as scoring
from thinfile.training.scorer.policy import Cutoffs, decisions
from thinfile.training.scorer.scale import ScoreScale

DEFAULT_TOP_REASONS = 4
MOST_TOP_REASONS = 10
TopReasons = Annotated[
    int, Field(ge=1, le=MOST_TOP_REASONS, description="reason codes given per score (adverse action: usually 4)")
]
_EPS = 1e-9
_FOURS = (4,) * len(DIMENSIONS)  # round(points, 4) for each dimension, without a comprehension's frame
_FEW_ROWS = 64  # up to this many rows a full sort per row costs less than partitioning's per-call overhead
HintTexts = dict[tuple[int, float], tuple[str, str]]
"""(feature, value) -> the bound in words and the hint that it stops the feature costing points: the values are the
model's own hint values, so the texts are few and written once per scorer."""
PointsSearch = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""(X, features: rows x k feature indices, -1 none) -> per question, the feature's points at its farthest hint
value, the value found (the nearest at which it costs no points, else the farthest; NaN: no candidate) and
whether it stops costing points there."""
ContributionSearch = Callable[[np.ndarray, np.ndarray, float, float], tuple[np.ndarray, np.ndarray, np.ndarray]]
"""(X, features, outer, floor) -> as PointsSearch, with the calibrated contribution at the farthest value in place
of points and "outer x contribution >= floor" in place of "costs no points" (see `Scorer.contribution_search`)."""


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
    top: int
    hint_values: dict[int, np.ndarray]
    feature_points: Callable[[np.ndarray], np.ndarray] | None
    points_search: PointsSearch | None = None
    hint_texts: HintTexts = field(default_factory=dict)
    index: pandas.Index | None = None
    """the rows' labels in the table explained (`to_frame` keeps them); None for a matrix"""

    def __len__(self) -> int:
        return len(self.score)

    def display_value(self, row: int, j: int) -> object:
        """The applicant's value of feature j in the schema's terms (category name, bool, number, None)."""
        return _shown(self.schema.readings[j], float(self.X[row, j]))

    def hint(self, row: int, j: int) -> str | None:
        """What would help: the nearest value of an actionable feature at which it stops costing points.

        Found on the model itself: the feature's points are monotone in its value, so a binary search
        over the model's own split values for that feature finds the break-even value for this row.
        None when the feature is not actionable, its value is missing, or no value would help.
        """
        return self.hints(np.array([row]), np.array([[j]]))[0][0]

    def hints(self, rows: np.ndarray, features: np.ndarray) -> list[list[str | None]]:
        """The hint (as `hint`) of feature features[i, k] (-1: none) for row rows[i], all searched in one pass."""
        return self._hints(self.X[rows], rows.tolist(), features)

    def _hints(self, X: np.ndarray, rows: list[int], features: np.ndarray) -> list[list[str | None]]:
        """Hints for the rows `rows` of self.X (X: those rows)."""
        if self.points_search is not None:
            last, value, reached = (a.tolist() for a in self.points_search(X, features))
        else:
            last, value, reached = self._search_by_rows(rows, features)
        written, words = self.hint_texts, self.schema.words
        out = []
        for i, (row, js) in enumerate(zip(rows, features.tolist())):
            texts: list[str | None] = []
            for k, j in enumerate(js):
                c = value[i][k]
                text = None
                if j >= 0 and c == c:
                    bound, stops = written.get((j, c)) or self._write_hint(j, c)
                    if reached[i][k]:
                        text = stops
                    else:
                        gain = last[i][k] - self.points[row, j]
                        if gain >= 1.0:
                            text = words.hint(self.schema.readings[j].feature.display_name, bound, gain)
                texts.append(text)
            out.append(texts)
        return out

    def _write_hint(self, j: int, value: float) -> tuple[str, str]:
        """The bound `value` of feature j in words, and the hint that it stops j costing points (kept for reuse)."""
        words, f = self.schema.words, self.schema.readings[j].feature
        bound = _bound(words, f, value)
        written = self.hint_texts[(j, value)] = (bound, words.hint(f.display_name, bound))
        return written

    def _search_by_rows(self, rows: list[int], features: np.ndarray) -> tuple[list, list, list]:
        """(points at the farthest candidate, the value found (NaN: none), whether it stops the feature costing
        points) per question, by explaining the row once per step of a bisection (for models the tables do not
        hold whole)."""
        shape = features.shape
        last, value = np.full(shape, np.nan).tolist(), np.full(shape, np.nan).tolist()
        reached = np.zeros(shape, dtype=bool).tolist()
        for i, row in enumerate(rows):
            for k, j in enumerate(features[i].tolist()):
                if j < 0 or self.feature_points is None:
                    continue
                f = self.schema.features[j]
                values = self.hint_values.get(j)
                v = self.X[row, j]
                if not f.actionable or f.monotone == 0 or values is None or np.isnan(v):
                    continue
                candidates = values[values > v] if f.monotone > 0 else values[values < v][::-1]
                if candidates.size:
                    last[i][k], value[i][k], reached[i][k] = self._bisect(row, j, candidates)
        return last, value, reached

    def _bisect(self, row: int, j: int, candidates: np.ndarray) -> tuple[float, float, bool]:
        assert self.feature_points is not None
        feature_points = self.feature_points

        def points_at(c: float) -> float:
            x = self.X[row].copy()
            x[j] = c
            return float(feature_points(x[None, :])[0, j])

        lo, hi = 0, len(candidates) - 1
        at_last = points_at(candidates[hi])
        if at_last < -_EPS:
            return at_last, candidates[hi], False
        while lo < hi:
            mid = (lo + hi) // 2
            if points_at(candidates[mid]) >= -_EPS:
                hi = mid
            else:
                lo = mid + 1
        return at_last, candidates[lo], True

    def reasons(self, row: int) -> list[dict[str, object]]:
        """Row `row`'s reason codes as `records()` gives them: code, text, value, points lost and hint."""
        return self._reasons(row, self._hints(self.X[row : row + 1], [row], self.reason_index[row : row + 1])[0])

    def _reasons(self, row: int, hints: list[str | None]) -> list[dict[str, object]]:
        info = self.schema.readings
        x = self.X[row]
        out = []
        for j, pts, hint in zip(self.reason_index[row].tolist(), self.reason_points[row].tolist(), hints):
            if j < 0:
                break
            f = info[j]
            value = _shown(f, float(x[j]))
            out.append(
                {
                    "code": f.name,
                    "text": f.reason if value is not None else f.reason_when_missing,
                    "value": value,
                    "points_lost": round(-pts, 4),
                    "hint": hint,
                }
            )
        return out

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per row (the service's answer body, without model and request ids)."""
        n = len(self)
        hints = self._hints(self.X, list(range(n)), self.reason_index)
        score, band, pd, decision = self.score.tolist(), self.band.tolist(), self.pd.tolist(), self.decision.tolist()
        dimensions = self.dimensions.tolist()
        base = round(float(self.base_points), 4)
        return [
            {
                "score": score[i],
                "band": str(band[i]),
                "pd": pd[i],
                "decision": str(decision[i]),
                "reasons": self._reasons(i, hints[i]),
                "dimensions": dict(zip(DIMENSIONS, map(round, dimensions[i], _FOURS))),
                "base_points": base,
            }
            for i in range(n)
        ]

    def to_frame(self) -> pandas.DataFrame:
        """Flat columns for tables: score, band, pd, decision, dimension points, `top` reason codes (padded); indexed
        as the table explained was, so that it joins back to it."""
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
        missing_texts = np.array([r.reason_when_missing for r in self.schema.readings] + [None], dtype=object)
        rows = np.arange(len(self))
        for k in range(self.top):
            idx = self.reason_index[:, k] if k < self.reason_index.shape[1] else np.full(len(self), -1)
            missing = np.isnan(self.X[rows, np.maximum(idx, 0)]) & (idx >= 0)
            cols[f"reason_{k + 1}_code"] = names[idx]
            cols[f"reason_{k + 1}_text"] = np.where(missing, missing_texts[idx], texts[idx])
            lost = -self.reason_points[:, k] if k < self.reason_points.shape[1] else np.zeros(len(self))
            cols[f"reason_{k + 1}_points_lost"] = np.where(idx >= 0, lost, np.nan)
        return pandas.DataFrame(cols, index=self.index)


def _shown(f: FeatureReading, v: float) -> object:
    """A matrix value in the schema's terms (category name, bool, int, float; None when missing)."""
    if v != v:
        return None
    if f.type is FeatureType.category:
        return f.levels[int(v)]
    if f.type is FeatureType.bool:
        return bool(v)
    if f.type is FeatureType.int:
        return int(v)
    return v


def _bound(words: Wording, f: Feature, value: float) -> str:
    return words.bound(f.monotone > 0, value, f.type in (FeatureType.int, FeatureType.bool), f.unit)


def _round_to_digits(x: np.ndarray, direction: Callable[[np.ndarray], np.ndarray], digits: int = 4) -> np.ndarray:
    """Round to `digits` significant digits in the given direction (so a shown value still crosses the split)."""
    magnitude = np.floor(np.log10(np.maximum(np.abs(x), 1e-12)))
    scale = 10.0 ** (digits - 1 - magnitude)
    return direction(x * scale) / scale


def hint_values(schema: Schema, splits: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Per actionable monotone feature, the values that cross each of the model's splits on it, in range."""
    out = {}
    for j, f in enumerate(schema.features):
        if not f.actionable or f.monotone == 0 or j not in splits:
            continue
        thr = splits[j][np.isfinite(splits[j])]
        whole = f.type in (FeatureType.int, FeatureType.bool)
        if f.monotone > 0:
            values = np.floor(thr) + 1 if whole else _round_to_digits(np.nextafter(thr, np.inf), np.ceil)
        else:
            values = np.floor(thr) if whole else _round_to_digits(thr, np.floor)
        lo = f.min if f.min is not None else 0.0
        hi = f.max if f.max is not None else 1.0
        out[j] = np.unique(np.clip(values, lo, hi))
    return out


def _smallest(points: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k smallest values per row, in the order a stable argsort gives (ties: lower index)."""
    n, p = points.shape
    if k == 0 or 4 * k >= p or n <= _FEW_ROWS:
        return np.argsort(points, axis=1, kind="stable")[:, :k]
    part = np.sort(np.argpartition(points, k - 1, axis=1)[:, :k], axis=1)
    values = np.take_along_axis(points, part, axis=1)
    order = np.take_along_axis(part, np.argsort(values, axis=1, kind="stable"), axis=1)
    tied = (points <= values.max(axis=1)[:, None]).sum(axis=1) > k  # a tie across the k-th place
    if tied.any():
        order[tied] = np.argsort(points[tied], axis=1, kind="stable")[:, :k]
    return order


def top_reasons(points: np.ndarray, top: int = DEFAULT_TOP_REASONS) -> tuple[np.ndarray, np.ndarray]:
    """Indices and points of the (up to) `top` features that lowered each score most; -1 pads."""
    k = min(top, points.shape[1])
    order = _smallest(points, k)
    chosen = points[np.arange(len(points))[:, None], order]
    lowered = chosen < -_EPS
    return np.where(lowered, order, -1), np.where(lowered, chosen, 0.0)


def explain_contributions(
    schema: Schema,
    X: np.ndarray,
    contrib: np.ndarray,
    scale: ScoreScale,
    cutoffs: Cutoffs,
    hint_values: dict[int, np.ndarray] | None = None,
    contributions: Callable[[np.ndarray], np.ndarray] | None = None,
    top: int = DEFAULT_TOP_REASONS,
    contribution_search: ContributionSearch | None = None,
    hint_texts: HintTexts | None = None,
) -> Explanation:
    """Turn log-odds contributions (n x p+1, last column the bias) into an Explanation.

    Hints search the model through `contribution_search` when given (one call for all of them), else by
    explaining changed rows through `contributions`."""
    fac = scoring.factor(scale)
    points_search: PointsSearch | None = None
    if contribution_search is not None:
        search = contribution_search

        def search_points(X: np.ndarray, features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            last, value, reached = search(X, features, -fac, -_EPS)
            return -fac * last, value, reached

        points_search = search_points

    bias = contrib[:, -1]
    points = -fac * contrib[:, :-1]
    margin = contrib.sum(axis=1)
    base = scoring.offset(scale) - fac * float(bias[0]) if len(bias) else scoring.offset(scale)
    unclipped = scoring.offset(scale) - fac * margin
    clipped = scoring.clipped_score(unclipped, scale)
    idx, pts = top_reasons(points, top)
    return Explanation(
        schema=schema,
        X=X,
        margin=margin,
        score_unclipped=unclipped,
        score=clipped,
        pd=expit(margin),
        band=scoring.bands(clipped, scale),
        decision=decisions(clipped, cutoffs),
        base_points=base,
        points=points,
        dimensions=points @ schema.dimension_matrix,
        reason_index=idx,
        reason_points=pts,
        top=top,
        hint_values=hint_values or {},
        feature_points=(lambda rows: -fac * contributions(rows)[:, :-1]) if contributions else None,
        points_search=points_search,
        hint_texts={} if hint_texts is None else hint_texts,
    )
