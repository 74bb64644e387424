"""Global explanations of a scorer, in score points: SHAP beeswarm, dependence plots, points by dimension and group."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import shap
from matplotlib import colormaps
from matplotlib.figure import Figure

from thinfile.features.schema import DIMENSIONS
from thinfile.training.audit_groups import group_labels
from thinfile.training.registry import client
from thinfile.training.reporting import new_figure
from thinfile.training.reporting.drawing import Plots, draw_pngs
from thinfile.training.reporting.layout import MeasuredLayout
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import GlobalExplainConfig

ARTIFACT_DIR = "explanations"
DPI = 110


DIMENSION_LABELS = {
    "credit_history": "credit history",
    "capacity": "capacity",
    "behaviour": "behaviour",
    "identity": "identity",
    "connections": "connections",
}


def sample_rows(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def shap_explanation(scorer: Scorer, frame: pd.DataFrame) -> tuple[shap.Explanation, np.ndarray]:
    """The scorer's exact per-feature score points as a shap.Explanation (and the 5 dimension sub-scores)."""
    ex = scorer.explain(frame)
    names = scorer.schema.feature_names
    values = shap.Explanation(
        values=ex.points,
        base_values=np.full(len(ex), ex.base_points),
        data=ex.X,
        feature_names=names,
    )
    return values, ex.dimensions


def top_features(points: np.ndarray, names: list[str], k: int) -> list[str]:
    """Features with the largest mean absolute points, most important first."""
    order = np.argsort(-np.abs(points).mean(axis=0), kind="stable")
    return [names[j] for j in order[:k]]


def beeswarm_figure(values: shap.Explanation, max_display: int = 15) -> Figure:
    """shap's beeswarm drawn on our own Figure's axes (shap.plots.beeswarm with ax= touches no pyplot state)."""
    fig = new_figure(9, 0.42 * max_display + 1.8)
    ax = fig.subplots()
    shap.plots.beeswarm(
        values,
        max_display=max_display,
        ax=ax,
        show=False,
        plot_size=None,
        color_bar_label="feature value (low to high)",
    )
    ax.set_xlabel("score points (positive raises the score)")
    ax.set_title("What moves the score: points per feature, one dot per applicant")
    return fig


def dependence_figure(values: shap.Explanation, feature: str, label: str, unit: str) -> Figure:
    """Score points against the feature's value, one dot per applicant, with the value's distribution behind.

    Drawn directly rather than with shap.plots.scatter, which registers the figure with pyplot (plt.sca)
    and so would keep every figure alive.
    """
    column = values[:, feature]
    x = np.asarray(column.data, dtype=np.float64)
    y = np.asarray(column.values, dtype=np.float64)
    known = np.isfinite(x)
    fig = new_figure(6.5, 4.5, layout=MeasuredLayout())
    ax = fig.subplots()
    if known.any():
        hi = float(np.quantile(x[known], 0.995))
        shown = known & (x <= hi)
        behind = ax.twinx()
        behind.hist(x[shown], bins=40, color="#cccccc", alpha=0.6)
        behind.set_yticks([])
        ax.set_zorder(behind.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.scatter(x[shown], y[shown], s=8, alpha=0.6, linewidth=0, color="#1e88e5", rasterized=True)
    if (~known).any():
        ax.scatter(
            np.full((~known).sum(), ax.get_xlim()[0]), y[~known], marker="|", s=40, color="#ff0d57", label="missing"
        )
        ax.legend(loc="best", fontsize=8)
    ax.set_ylabel("score points")
    ax.set_xlabel(f"{label} ({unit})" if unit else label)
    ax.set_title(f"Score points from {label.lower()}")
    ax.axhline(0, color="grey", linewidth=0.8)
    return fig


def dimension_figure(dimensions: np.ndarray, groups: np.ndarray | None = None, group_name: str = "") -> Figure:
    """Box plots of the five dimension sub-scores; one box per group when groups are given."""
    labels = [DIMENSION_LABELS.get(d, d) for d in DIMENSIONS]
    fig = new_figure(9, 4.8, layout=MeasuredLayout())
    ax = fig.subplots()
    if groups is None:
        ax.boxplot([dimensions[:, k] for k in range(len(DIMENSIONS))], tick_labels=labels, showfliers=False)
        ax.set_title("Points by dimension across the population")
    else:
        names = sorted(set(groups))
        width = 0.8 / len(names)
        colours = colormaps["tab10"]
        for i, g in enumerate(names):
            mask = groups == g
            pos = np.arange(len(DIMENSIONS)) + (i - (len(names) - 1) / 2) * width
            bp = ax.boxplot(
                [dimensions[mask, k] for k in range(len(DIMENSIONS))],
                positions=pos,
                widths=width * 0.9,
                showfliers=False,
                patch_artist=True,
            )
            for box in bp["boxes"]:
                box.set_facecolor(colours(i))
                box.set_alpha(0.6)
            ax.plot([], [], color=colours(i), linewidth=8, alpha=0.6, label=f"{g} (n={int(mask.sum())})")
        ax.set_xticks(np.arange(len(DIMENSIONS)), labels)
        ax.legend(title=group_name, loc="best")
        ax.set_title(f"Points by dimension, split by {group_name}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("score points (sum over the dimension's features)")
    return fig


def feature_points_by_group_figure(
    points: np.ndarray, names: list[str], groups: np.ndarray, group_name: str, k: int = 15
) -> Figure:
    """Mean points per feature for each group: where one group gains or loses points the other does not."""
    means = {g: points[groups == g].mean(axis=0) for g in sorted(set(groups))}
    spread = np.max(list(means.values()), axis=0) - np.min(list(means.values()), axis=0)
    order = np.argsort(-spread, kind="stable")[:k][::-1]
    fig = new_figure(9, 0.38 * len(order) + 1.8, layout=MeasuredLayout())
    ax = fig.subplots()
    height = 0.8 / len(means)
    for i, (g, m) in enumerate(means.items()):
        ax.barh(np.arange(len(order)) + (i - (len(means) - 1) / 2) * height, m[order], height=height, label=str(g))
    ax.set_yticks(np.arange(len(order)), [names[j] for j in order])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("mean score points")
    ax.set_title(f"Features whose points differ most by {group_name}")
    ax.legend(title=group_name)
    return fig


def global_explanation_plots(
    scorer: Scorer, frame: pd.DataFrame, config: GlobalExplainConfig | None = None
) -> tuple[Plots, Plots]:
    """The global-explanation figures of `scorer` on (a sample of) `frame`, explained now and drawn on demand: the
    overview (beeswarm, dimensions, groups) and the dependence plots, two groups of about the same drawing work."""
    config = config or GlobalExplainConfig()
    sample = sample_rows(frame, config.rows, seed=config.seed)
    values, dimensions = shap_explanation(scorer, sample)
    schema = scorer.schema
    names = schema.feature_names
    top = top_features(values.values, names, config.dependence_plots)
    attrs = [a for a in schema.protected_names[:1] if a in sample.columns]
    groups = {attr: group_labels(sample, [attr], names=schema.group_names) for attr in attrs}

    def overview() -> dict[str, Figure]:
        figures = {"shap_beeswarm.png": beeswarm_figure(values, max_display=min(15, len(names)))}
        figures["points_by_dimension.png"] = dimension_figure(dimensions)
        for attr, labels in groups.items():
            figures[f"points_by_dimension_by_{attr}.png"] = dimension_figure(dimensions, labels, attr)
            by_group = feature_points_by_group_figure(values.values, names, labels, attr)
            figures[f"feature_points_by_{attr}.png"] = by_group
        return figures

    def dependence() -> dict[str, Figure]:
        figures = {}
        for name in top:
            f = schema.by_name[name]
            figures[f"dependence_{name}.png"] = dependence_figure(values, name, f.display_name, f.unit)
        return figures

    return Plots(ARTIFACT_DIR, overview, dpi=DPI), Plots(ARTIFACT_DIR, dependence, dpi=DPI)


def write_global_explanations(
    scorer: Scorer, frame: pd.DataFrame, out_dir: str | Path, config: GlobalExplainConfig | None = None
) -> list[Path]:
    """Write the global-explanation PNGs for `scorer` on (a sample of) `frame` to `out_dir`."""
    plots = tuple(replace(p, folder=".") for p in global_explanation_plots(scorer, frame, config))
    return draw_pngs(plots, out_dir, timeout_s=float("inf"), background=False).wait()


def log_global_explanations(
    scorer: Scorer,
    frame: pd.DataFrame,
    run_id: str,
    out_dir: str | Path,
    config: GlobalExplainConfig | None = None,
) -> list[Path]:
    """Write the global explanations to `out_dir` (kept: the caller owns it) and log them to MLflow run `run_id`
    under `explanations/`."""
    paths = write_global_explanations(scorer, frame, out_dir, config)
    client().log_artifacts(run_id, str(out_dir), ARTIFACT_DIR)
    return paths
