"""PD <-> 350-950 score. The score is linear in log-odds, so log-odds contributions become exact points."""

from __future__ import annotations

import numpy as np

from thinfile.config import Cutoffs, ScoreScale


def factor(scale: ScoreScale) -> float:
    """Points per unit of log-odds: PDO / ln 2."""
    return scale.pdo / np.log(2.0)


def offset(scale: ScoreScale) -> float:
    """Score at log-odds 0 (even odds)."""
    return scale.base_score - factor(scale) * np.log(scale.base_odds)


def margin_to_score(margin: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    """Unclipped score from log-odds of default: offset + factor * ln(odds of good)."""
    return offset(scale) - factor(scale) * np.asarray(margin, dtype=np.float64)


def score_to_margin(score: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    return (offset(scale) - np.asarray(score, dtype=np.float64)) / factor(scale)


def pd_to_score(pd_: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    """Clipped score for a probability of default."""
    p = np.clip(np.asarray(pd_, dtype=np.float64), 1e-12, 1 - 1e-12)
    return clip(margin_to_score(np.log(p / (1 - p)), scale), scale)


def score_to_pd(score: np.ndarray | float, scale: ScoreScale) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-score_to_margin(score, scale)))


def clip(score: np.ndarray, scale: ScoreScale) -> np.ndarray:
    return np.clip(score, scale.min_score, scale.max_score)


def bands(score: np.ndarray, scale: ScoreScale) -> np.ndarray:
    """Band name of each (clipped) score."""
    names = np.array([name for name, _ in scale.bands], dtype=object)
    lows = np.array([low for _, low in scale.bands])
    return names[np.searchsorted(lows, np.asarray(score), side="right") - 1]


def decisions(score: np.ndarray, cutoffs: Cutoffs) -> np.ndarray:
    """approve / refer / decline for each score."""
    score = np.asarray(score)
    return np.where(score >= cutoffs.approve, "approve", np.where(score >= cutoffs.refer, "refer", "decline")).astype(object)
