"""Figures laid out from measured texts (MeasuredLayout): as drawn by matplotlib's Agg renderer, every text lies
inside the figure and no axis label runs into its tick labels."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import shap
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from thinfile.features.schema import DIMENSIONS
from thinfile.training.fairness.audit import ProxyAudit
from thinfile.training.fairness.report import proxy_figure
from thinfile.training.global_explain import dependence_figure, dimension_figure, feature_points_by_group_figure
from thinfile.training.plots import evaluation_figures
from thinfile.training.reporting import new_figure
from thinfile.training.reporting.figures import png_fonts
from thinfile.training.reporting.layout import MeasuredLayout
from thinfile.training.scorer.scale import ScoreScale

LONG_NAME = "number_of_people_being_liable_to_provide_maintenance_for"


def _undrawn_tick_labels(fig: Figure) -> set[int]:
    """The labels of ticks outside their axis's view: matplotlib keeps them, visible, but does not draw them."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            slack = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks():
                if not lo - slack <= tick.get_loc() <= hi + slack:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return hidden


def _drawn_boxes(labels: list[Text], hidden: set[int]) -> list:
    return [t.get_window_extent() for t in labels if t.get_visible() and t.get_text() and id(t) not in hidden]


def _drawn_texts(fig: Figure) -> list[tuple[Text, object]]:
    canvas = FigureCanvasAgg(fig)
    with png_fonts(), warnings.catch_warnings():  # as the PNGs are drawn; no CJK font here: boxes, as wide
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        canvas.draw()
    renderer = canvas.get_renderer()
    hidden = _undrawn_tick_labels(fig)
    return [
        (t, t.get_window_extent(renderer))
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text() and id(t) not in hidden
    ]


def _assert_laid_out(fig: Figure) -> None:
    assert isinstance(fig.get_layout_engine(), MeasuredLayout)
    width, height = fig.bbox.width, fig.bbox.height
    texts = _drawn_texts(fig)
    for text, box in texts:
        assert box.x0 >= -0.5 and box.y0 >= -0.5, f"{text.get_text()!r} is cut at the left or bottom: {box}"
        assert box.x1 <= width + 0.5 and box.y1 <= height + 0.5, f"{text.get_text()!r} is cut at the right or top"
    for ax in fig.axes:
        hidden = _undrawn_tick_labels(fig)
        ticks = [
            t.get_window_extent()
            for t in ax.get_yticklabels()
            if t.get_visible() and t.get_text() and id(t) not in hidden
        ]
        if ax.yaxis.label.get_text() and ticks and ax.yaxis.get_label_position() == "left":
            assert ax.yaxis.label.get_window_extent().x1 <= min(b.x0 for b in ticks) + 0.5
        ticks = [
            t.get_window_extent()
            for t in ax.get_xticklabels()
            if t.get_visible() and t.get_text() and id(t) not in hidden
        ]
        if ax.xaxis.label.get_text() and ticks:
            assert ax.xaxis.label.get_window_extent().y1 <= min(b.y0 for b in ticks) + 0.5


@pytest.fixture(scope="module")
def scores() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 20_000
    p = np.clip(rng.beta(1, 9, n), 1e-4, 1 - 1e-4)
    return {
        "y": (rng.random(n) < p).astype(int),
        "p": p,
        "score": rng.uniform(350, 950, n),
        "region": np.where(rng.random(n) < 0.4, "农村", "城市"),  # group names in Chinese, as a lender's may be
        "age": rng.choice(["18-25", "26-40", "41-60", "60+"], n),
    }


def test_every_evaluation_figure_keeps_its_texts_inside(scores: dict[str, np.ndarray]) -> None:
    calibration = pd.DataFrame({"pd_mean": np.linspace(0.01, 0.4, 10), "default_rate": np.linspace(0.02, 0.38, 10)})
    groups = {"region": scores["region"], "age band": scores["age"]}
    figures = evaluation_figures(
        scores["y"], scores["p"], scores["score"], calibration, ScoreScale(), groups, "a long model label, tuned"
    )
    for fig in figures.values():
        _assert_laid_out(fig)


def test_long_feature_names_stay_inside() -> None:
    rng = np.random.default_rng(5)
    names = [LONG_NAME, "x", "income_monthly"]
    points = rng.normal(size=(300, 3)) * [1, 30, 200]
    _assert_laid_out(feature_points_by_group_figure(points, names, rng.choice(["female", "male"], 300), "sex"))


def test_a_dependence_plot_with_its_distribution_behind_stays_inside() -> None:
    rng = np.random.default_rng(6)
    data = rng.lognormal(10, 1, (400, 2))
    data[:20, 0] = np.nan
    values = shap.Explanation(values=rng.normal(size=(400, 2)) * 40, data=data, feature_names=["income", "age"])
    _assert_laid_out(dependence_figure(values, "income", "Monthly income", "CNY"))


def test_dimension_boxes_by_group_stay_inside() -> None:
    rng = np.random.default_rng(7)
    dims = rng.normal(size=(500, len(DIMENSIONS))) * 60
    _assert_laid_out(dimension_figure(dims, rng.choice(["rural", "urban"], 500), "residence"))


def test_a_proxy_audit_of_attributes_named_in_chinese_stays_inside() -> None:
    proxies = [ProxyAudit("户籍_residence_registration_type", 0.71, 900, []), ProxyAudit("age_band", 0.55, 900, [])]
    _assert_laid_out(proxy_figure(proxies))


def test_counts_in_the_millions_with_an_axis_offset_stay_inside() -> None:
    fig = new_figure(6, 4, layout=MeasuredLayout())
    ax = fig.subplots()
    ax.bar([1, 2, 3], [12_345_678, 23_456_789, 3_000_000])
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.set(title="Applicants", ylabel="applicants", xlabel="month")
    _assert_laid_out(fig)


def _second_row(fig: Figure) -> None:
    fig.subplots(2, 1)


def _inset(fig: Figure) -> None:
    fig.subplots().plot([0, 1], [0, 1000])
    fig.add_axes((0.6, 0.6, 0.2, 0.2))


def _colorbar(fig: Figure) -> None:
    ax = fig.subplots()
    fig.colorbar(ax.scatter([1, 2, 3], [1, 2, 3], c=[1, 2, 3]), ax=ax, label="value")


def _right_hand_labels(fig: Figure) -> None:
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.twinx().plot([0, 1], [0, 123_456])


def _turned_labels(fig: Figure) -> None:
    ax = fig.subplots()
    ax.bar(["a rather long category", "another long one"], [1, 2])
    ax.tick_params(axis="x", labelrotation=45)


@pytest.mark.parametrize("build", [_second_row, _inset, _colorbar, _right_hand_labels, _turned_labels])
def test_a_figure_the_measured_layout_cannot_lay_out_gets_the_constrained_layout(build: Callable) -> None:
    def figure(layout: object) -> Figure:
        fig = new_figure(6, 5, layout=layout)  # type: ignore[arg-type]
        build(fig)
        for ax in fig.axes:
            ax.set_title("panel")
        FigureCanvasAgg(fig).draw()
        return fig

    measured, constrained = figure(MeasuredLayout()), figure("constrained")
    for a, b in zip(measured.axes, constrained.axes, strict=True):
        assert np.allclose(a.get_position().bounds, b.get_position().bounds)
