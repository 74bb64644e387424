"""The 350-950 score scale: PD <-> score, linear in log-odds, so log-odds contributions become exact points."""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator
from scipy.special import expit, logit

from thinfile.features.settings import Section


class ScoreScale(Section):
    """PD -> score: score = offset + factor * ln(odds of good), factor = pdo / ln 2."""

    base_score: float = 650.0
    base_odds: float = Field(20.0, gt=0, description="odds of good (good:bad) at base_score")
    pdo: float = Field(50.0, gt=0, description="points to double the odds")
    min_score: float = 350.0
    max_score: float = 950.0
    decimals: int = Field(
        2,
        ge=0,
        le=6,
        description="decimal places a score is written with; its band and decision read it as written, so a score "
        "shown at a cut-off is decided as shown",
    )
    bands: tuple[tuple[str, float], ...] = (
        ("poor", 350.0),
        ("fair", 550.0),
        ("good", 600.0),
        ("very good", 650.0),
        ("excellent", 700.0),
    )

    @model_validator(mode="after")
    def _check(self) -> ScoreScale:
        lows = [low for _, low in self.bands]
        if lows != sorted(lows) or lows[0] > self.min_score:
            raise ValueError("bands must be given by ascending lower bound, the first at or below min_score")
        if self.min_score >= self.max_score:
            raise ValueError("min_score must be below max_score")
        return self


def factor(scale: ScoreScale) -> float:
    """Points per unit of log-odds: PDO / ln 2."""
    return float(scale.pdo / np.log(2.0))


def offset(scale: ScoreScale) -> float:
    """Score at log-odds 0 (even odds)."""
    return float(scale.base_score - factor(scale) * np.log(scale.base_odds))


def margin_to_score(margin: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    """Unclipped score from log-odds of default: offset + factor * ln(odds of good)."""
    return offset(scale) - factor(scale) * np.asarray(margin, dtype=np.float64)


def score_to_margin(score: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    return (offset(scale) - np.asarray(score, dtype=np.float64)) / factor(scale)


def pd_to_score(pd_: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    """Clipped score for a probability of default."""
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-12, 1 - 1e-12)
    return margin_to_clipped_score(logit(p), scale)


def score_to_pd(score: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    """The probability of default a score stands for on `scale`."""
    return np.asarray(expit(score_to_margin(score, scale)))


def clip(score: np.ndarray, scale: ScoreScale) -> np.ndarray:
    return np.clip(score, scale.min_score, scale.max_score)


def clipped_score(unclipped: np.ndarray, scale: ScoreScale) -> np.ndarray:
    """The score as written, banded and decided on: clipped to the scale and rounded to its decimals."""
    return np.round(clip(unclipped, scale), scale.decimals)


def margin_to_clipped_score(margin: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    return clipped_score(margin_to_score(margin, scale), scale)


def bands(score: np.ndarray, scale: ScoreScale) -> np.ndarray:
    """Band name of each (clipped) score."""
    names = np.array([name for name, _ in scale.bands], dtype=object)
    lows = np.array([low for _, low in scale.bands])
    return names[np.searchsorted(lows, np.asarray(score), side="right") - 1]
