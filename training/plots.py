"""Evaluation figures: ROC, KS, calibration, score distribution by band and by group (Figure objects, no pyplot)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from thinfile.training.reporting import BAND_COLOURS, new_figure
from thinfile.training.reporting.layout import MeasuredLayout
from thinfile.training.scorer.scale import ScoreScale


def roc_figure(y: np.ndarray, p: np.ndarray, title: str, oracle: np.ndarray | None = None) -> Figure:
    fig = new_figure(5, 5, layout=MeasuredLayout())
    ax = fig.subplots()
    fpr, tpr, _ = roc_curve(y, p)
    ax.plot(fpr, tpr, label="model")
    if oracle is not None:
        ofpr, otpr, _ = roc_curve(y, oracle)
        ax.plot(ofpr, otpr, linestyle="--", label="oracle (true PD)")
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.set(xlabel="false positive rate (goods flagged)", ylabel="true positive rate (bads flagged)", title=title)
    ax.legend(loc="lower right")
    return fig


def ks_figure(y: np.ndarray, score: np.ndarray, title: str) -> Figure:
    """Cumulative share of bads and goods below each score, with the KS gap marked."""
    grid = np.linspace(score.min(), score.max(), 400)
    bads, goods = np.sort(score[y == 1]), np.sort(score[y == 0])
    cum_bad = np.searchsorted(bads, grid, side="right") / max(len(bads), 1)
    cum_good = np.searchsorted(goods, grid, side="right") / max(len(goods), 1)
    gap = cum_bad - cum_good
    at = int(np.argmax(gap))
    fig = new_figure(6, 4, layout=MeasuredLayout())
    ax = fig.subplots()
    ax.plot(grid, cum_bad, label="bads")
    ax.plot(grid, cum_good, label="goods")
    ax.vlines(grid[at], cum_good[at], cum_bad[at], colors="black", linestyles=":", label=f"KS {gap[at]:.3f}")
    ax.set(xlabel="score", ylabel="cumulative share", title=title)
    ax.legend(loc="lower right")
    return fig


def calibration_figure(table: pd.DataFrame, title: str) -> Figure:
    fig = new_figure(5, 5, layout=MeasuredLayout())
    ax = fig.subplots()
    top = float(max(table["pd_mean"].max(), table["default_rate"].max())) * 1.05
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
    ax.plot(table["pd_mean"], table["default_rate"], marker="o")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title=title, xlim=(0, top), ylim=(0, top))
    return fig


def score_band_figure(score: np.ndarray, scale: ScoreScale, title: str) -> Figure:
    """Histogram of scores, coloured by band, with each band's share."""
    lows = [low for _, low in scale.bands] + [scale.max_score]
    fig = new_figure(7, 4, layout=MeasuredLayout())
    ax = fig.subplots()
    for i, (name, low) in enumerate(scale.bands):
        high = lows[i + 1]
        inside = (score >= low) & ((score < high) if i < len(scale.bands) - 1 else (score <= high))
        bins = np.arange(low, high + 10, 10)
        ax.hist(
            score[inside],
            bins=bins.tolist(),
            color=BAND_COLOURS[i % len(BAND_COLOURS)],
            label=f"{name} {inside.mean():.1%}",
        )
    ax.set(xlabel="score", ylabel="applicants", title=title, xlim=(scale.min_score, scale.max_score))
    ax.legend()
    return fig


def score_group_figure(score: np.ndarray, groups: dict[str, np.ndarray], scale: ScoreScale, title: str) -> Figure:
    """Score density per group, one panel per protected attribute."""
    n = max(len(groups), 1)
    fig = new_figure(5 * n, 4, layout=MeasuredLayout())
    axes = fig.subplots(1, n, squeeze=False)
    bins = np.linspace(scale.min_score, scale.max_score, 61)
    for ax, (attr, values) in zip(axes[0], groups.items()):
        for group in sorted(set(values)):
            ax.hist(
                score[values == group], bins=bins.tolist(), density=True, histtype="step", linewidth=1.4, label=group
            )
        ax.set(xlabel="score", title=attr)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("density")
    fig.suptitle(title)
    return fig


def evaluation_figures(
    y: np.ndarray,
    p: np.ndarray,
    score: np.ndarray,
    calibration: pd.DataFrame,
    scale: ScoreScale,
    groups: dict[str, np.ndarray],
    model_label: str,
    oracle: np.ndarray | None = None,
) -> dict[str, Figure]:
    """Every figure for one model, keyed by artifact file name."""
    return {
        "roc.png": roc_figure(y, p, f"ROC: {model_label}", oracle),
        "ks.png": ks_figure(y, score, f"KS: {model_label}"),
        "calibration.png": calibration_figure(calibration, f"Calibration: {model_label}"),
        "score_by_band.png": score_band_figure(score, scale, f"Scores by band: {model_label}"),
        "score_by_group.png": score_group_figure(score, groups, scale, f"Scores by group: {model_label}"),
    }
