"""A layout engine for figures whose axes sit in one row: margins measured from the texts the axes will show (tick
labels from each axis's own locator and formatter, axis labels, titles), without drawing them.

matplotlib's constrained layout gets the same margins by laying out every tick label through the renderer, twice
per draw, and saving a figure draws it twice: that is about a third of the CPU of drawing an evaluation figure.
A figure this engine cannot lay out (an inset, a colorbar, a second row of axes, tick labels on the right or turned)
gets the constrained layout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.layout_engine import ConstrainedLayoutEngine, LayoutEngine
from matplotlib.text import Text

_EDGE_IN = 0.06
"""blank band kept around the figure's edge"""
_LINE = 1.2
"""a text line's height, in multiples of its font size (matplotlib's linespacing)"""


def _points(size: object) -> float:
    return float(FontProperties(size=size).get_size_in_points())  # type: ignore[arg-type]


def _text_height(text: Text | None) -> float:
    """Inches the lines of `text` take up (0 for no text)."""
    content = text.get_text() if text is not None else ""
    if not content:
        return 0.0
    return (content.count("\n") + 1) * float(text.get_size()) * _LINE / 72  # type: ignore[union-attr]


def _widest(texts: list[str], size: float, dpi: float) -> float:
    """Inches of the widest line of `texts` at `size` points, as Agg draws it (its hinting makes text a few per cent
    wider than the font's outlines say) in the fonts in force when the figure is drawn."""
    if not texts:
        return 0.0
    renderer, prop = RendererAgg(1, 1, dpi), FontProperties(size=size)
    lines = {line for text in texts for line in text.split("\n") if line}
    return max((renderer.get_text_width_height_descent(line, prop, ismath=False)[0] for line in lines), default=0) / dpi


@dataclass(frozen=True)
class _Ticks:
    """An axis's major ticks for its current view, their labels, and whether the formatter adds an offset or
    multiplier ('1e6') beyond the axis's end: worked out once per axis and draw, from its own locator and
    formatter."""

    locs: list[float]
    texts: list[str]
    offset: bool

    @property
    def shown(self) -> list[str]:
        return [t for t in self.texts if t]


def _ticks(axis: Axis) -> _Ticks:
    lo, hi = sorted(axis.get_view_interval())
    slack = (hi - lo) * 1e-9
    locs = [x for x in axis.get_major_locator()() if lo - slack <= x <= hi + slack]
    formatter = axis.get_major_formatter()
    texts = list(formatter.format_ticks(locs))  # also works out the formatter's offset from these ticks
    return _Ticks(locs, texts, bool(formatter.get_offset()) if hasattr(formatter, "get_offset") else False)


def _tick_band(name: str) -> float:
    """Inches from the axes' edge taken by the tick marks and their pad (`name`: 'x' or 'y')."""
    size, pad = (
        (mpl.rcParams["xtick.major.size"], mpl.rcParams["xtick.major.pad"])
        if name == "x"
        else (mpl.rcParams["ytick.major.size"], mpl.rcParams["ytick.major.pad"])
    )
    return (float(size) + float(pad)) / 72


def _label_band(label: Text) -> float:
    return _text_height(label) + (float(mpl.rcParams["axes.labelpad"]) / 72 if label.get_text() else 0.0)


def _offset_band(ticks: _Ticks) -> float:
    """Inches the axis's offset or multiplier takes beyond its end (0 when there is none)."""
    return _points(mpl.rcParams["xtick.labelsize"]) * _LINE / 72 if ticks.offset else 0.0


def _left(ax: Axes, y: _Ticks, dpi: float) -> float:
    if not ax.yaxis.get_visible():
        return 0.0
    ticks = _widest(y.shown, _points(mpl.rcParams["ytick.labelsize"]), dpi)
    return ticks + _tick_band("y") + _label_band(ax.yaxis.label)


def _bottom(ax: Axes, x: _Ticks) -> float:
    size = _points(mpl.rcParams["xtick.labelsize"])
    lines = max((t.count("\n") + 1 for t in x.shown), default=0)
    ticks = lines * size * _LINE / 72 + _tick_band("x")
    return ticks + max(_label_band(ax.xaxis.label), _offset_band(x))


def _top(ax: Axes, y: _Ticks) -> float:
    title = _text_height(ax.title)
    pad = float(mpl.rcParams["axes.titlepad"]) / 72 if title else 0.0
    return max(title + pad, _offset_band(y))


def _overhang(ax: Axes, x: _Ticks, fig: Figure) -> float:
    """How far the last x tick label reaches past the axes' right edge: half its width, less the room between the
    last tick and the edge (taken at the axes' present width)."""
    lo, hi = sorted(ax.xaxis.get_view_interval())
    if not x.locs or hi <= lo:
        return 0.0
    room = (hi - max(x.locs)) / (hi - lo) * ax.get_position().width * fig.get_size_inches()[0]
    return max(_widest(x.texts[-1:], _points(mpl.rcParams["xtick.labelsize"]), fig.dpi) / 2 - room, 0.0)


def _plain(ax: Axes, x: _Ticks, y: _Ticks) -> bool:
    """Tick labels only at the left and bottom, level (a twin's right-hand axis may be there without labels)."""
    yp, xp = ax.yaxis.get_tick_params(), ax.xaxis.get_tick_params()
    beyond = (yp.get("labelright") and y.shown) or (xp.get("labeltop") and x.shown)
    return not beyond and not xp.get("rotation") and not yp.get("rotation")


def _one_row_grid(fig: Figure) -> bool:
    """Every axes is a grid cell (or its twin) of a grid of one row."""
    specs = [ax.get_subplotspec() for ax in fig.axes]
    return all(spec is not None and spec.get_gridspec().nrows == 1 for spec in specs)


class MeasuredLayout(LayoutEngine):
    """Margins from measured texts for a figure whose axes (and their twins) form one row of a grid, with level tick
    labels at the left and bottom only; a legend must sit inside its axes. Any other figure (an inset, a colorbar,
    a second row, labels on the right or top, turned labels) is laid out by the constrained layout."""

    _adjust_compatible = True
    _colorbar_gridspec = False  # a colorbar gets axes of its own, outside the grid: the constrained layout places it

    def set(self, **kwargs: object) -> None:
        raise TypeError("MeasuredLayout has no parameters")

    def execute(self, fig: Figure) -> None:
        ticks = {ax: (_ticks(ax.xaxis), _ticks(ax.yaxis)) for ax in fig.axes} if _one_row_grid(fig) else None
        if ticks is None or not all(_plain(ax, x, y) for ax, (x, y) in ticks.items()):
            ConstrainedLayoutEngine().execute(fig)
            return
        columns: dict[int, list[Axes]] = defaultdict(list)
        for ax in fig.axes:
            columns[ax.get_subplotspec().colspan.start].append(ax)  # type: ignore[union-attr]
        if not columns:
            return
        width, height = fig.get_size_inches()
        lefts = [max(_left(ax, ticks[ax][1], fig.dpi) for ax in column) for _, column in sorted(columns.items())]
        overhang = max(_overhang(ax, x, fig) for ax, (x, _) in ticks.items())
        bottom = max(_bottom(ax, x) for ax, (x, _) in ticks.items())
        top = max(_top(ax, y) for ax, (_, y) in ticks.items())
        suptitle = fig.get_suptitle()
        if suptitle:
            top += (suptitle.count("\n") + 1) * _points(mpl.rcParams["figure.titlesize"]) * _LINE / 72 + _EDGE_IN
        n = len(columns)
        gap = max(lefts[1:], default=0.0) + overhang + _EDGE_IN
        left = _EDGE_IN + lefts[0]
        right = _EDGE_IN + overhang
        inner = width - left - right - (n - 1) * gap
        fig.subplots_adjust(
            left=left / width,
            right=1 - right / width,
            bottom=(_EDGE_IN + bottom) / height,
            top=1 - (_EDGE_IN + top) / height,
            wspace=gap / (inner / n) if n > 1 else 0.0,
        )
