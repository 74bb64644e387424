"""Figures for reports: plain `matplotlib.figure.Figure` objects (no pyplot, no global backend), saved as PNG files
for MLflow or embedded as SVG in the HTML reports."""

from __future__ import annotations

import base64
import io
import warnings
from contextlib import AbstractContextManager
from pathlib import Path

from matplotlib import font_manager, get_cachedir, rc_context
from matplotlib.figure import Figure
from matplotlib.text import Text

BAND_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#27ae60", "#1e8449")
PALETTE = {
    "model": "#2e86c1",
    "reference": "#aab7b8",
    "good": "#27ae60",
    "bad": "#e67e22",
    "flag": "#c0392b",
    "proxy": "#8e44ad",
    "muted": "#7f8c8d",
}


def new_figure(width: float, height: float, rows: int = 1, cols: int = 1) -> Figure:
    """A figure of `width` x `height` inches with a constrained layout, owned by nobody but the caller."""
    fig = Figure(figsize=(width, height), layout="constrained")
    if rows * cols > 1:
        fig.subplots(rows, cols, squeeze=False)
    return fig


CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK KR",
)
"""Fonts with Chinese, Japanese and Korean characters that PNG figures fall back to, when installed: DejaVu Sans,
matplotlib's own font, has none, and a lender's group names may be written in them."""


class MissingGlyphWarning(UserWarning):
    """A PNG figure holds characters that no installed font has: they show as boxes."""


def sans_serif_fonts() -> list[str]:
    """DejaVu Sans, then each installed font of `CJK_FONTS`: matplotlib draws each character in the first that has
    it."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in CJK_FONTS if name in installed)]


def png_fonts(fonts: list[str] | None = None) -> AbstractContextManager:
    """Settings to build and save figures meant for PNG under: each text falls back from DejaVu Sans to the
    installed CJK fonts, or to `fonts` (a text takes its fonts when it is made, so the figure is built under them
    too)."""
    return rc_context({"font.family": fonts or sans_serif_fonts()})


def _characters(name: str) -> set[int]:
    path = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
    return set(font_manager.get_font(path).get_charmap())


def missing_characters(fig: Figure, fonts: list[str]) -> str:
    """The characters of the figure's texts that none of `fonts` has, in order of first use."""
    text = "".join(t.get_text() for t in fig.findobj(Text))
    wanted = {ord(c) for c in text if not c.isspace() and ord(c) > 0x7F}
    for name in fonts:
        if not wanted:
            break
        wanted -= _characters(name)
    return "".join(dict.fromkeys(c for c in text if ord(c) in wanted))


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG; characters no installed font has are named in one MissingGlyphWarning (with what to
    install) rather than in one matplotlib warning each."""
    buf = io.BytesIO()
    fonts = sans_serif_fonts()
    with png_fonts(fonts), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        fig.savefig(buf, format="png", dpi=dpi)
    missing = missing_characters(fig, fonts)
    if missing:
        shown = missing[:12] + ("..." if len(missing) > 12 else "")
        warnings.warn(
            f"PNG plots: no installed font has the characters {shown!r} (group or feature names?): they show as "
            "boxes; install a CJK font (Debian/Ubuntu: apt-get install fonts-noto-cjk), then delete matplotlib's "
            f"font list ({Path(get_cachedir()) / 'fontlist-*.json'}) so that it finds the font, and the plots use "
            "it (the HTML reports show them already)",
            MissingGlyphWarning,
            stacklevel=2,
        )
    return buf.getvalue()


def svg_data_uri(fig: Figure) -> str:
    """The figure as a `data:image/svg+xml;base64,...` URI, for an <img> that needs no other file. Its text stays
    text, drawn by the browser in the reader's fonts (group names in any script), and it costs a third of the
    time of a PNG."""
    buf = io.BytesIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "thinfile"}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)  # the browser draws the text
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.write_bytes(png_bytes(fig, dpi))
    return path
