"""Figures for reports: plain `matplotlib.figure.Figure` objects (no pyplot, no global backend), saved as PNG files
for MLflow or embedded as SVG in the HTML reports."""

from __future__ import annotations

import base64
import io
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Literal

from matplotlib import font_manager, get_cachedir, rc_context
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.layout_engine import LayoutEngine
from matplotlib.text import Text
from matplotlib.textpath import TextToPath

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


def new_figure(
    width: float,
    height: float,
    rows: int = 1,
    cols: int = 1,
    layout: Literal["constrained"] | LayoutEngine = "constrained",
) -> Figure:
    """A figure of `width` x `height` inches, owned by nobody but the caller; laid out by matplotlib's constrained
    layout, or by `layout` (`reporting.layout.MeasuredLayout()` for a figure whose axes sit in one row)."""
    fig = Figure(figsize=(width, height), layout=layout)
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
    """PNG figures hold `characters` that no installed font has: they show as boxes."""

    def __init__(self, characters: str) -> None:
        self.characters = characters
        shown = characters[:12] + ("..." if len(characters) > 12 else "")
        super().__init__(
            f"PNG plots: no installed font has the characters {shown!r} (group or feature names?): they show as "
            "boxes; install a CJK font (Debian/Ubuntu: apt-get install fonts-noto-cjk), then delete matplotlib's "
            f"font list ({Path(get_cachedir()) / 'fontlist-*.json'}) so that it finds the font, and the plots use "
            "it (the HTML reports show them already)"
        )


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


@contextmanager
def _no_glyph_warnings() -> Iterator[None]:
    """matplotlib's warning per missing glyph left out: the caller names the characters once, or the reader's
    browser draws the text."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        yield


def render_png(fig: Figure, dpi: int = 100) -> tuple[bytes, str]:
    """The figure as PNG, and the characters of its texts that no installed font has (drawn as boxes)."""
    buf = io.BytesIO()
    fonts = sans_serif_fonts()
    with png_fonts(fonts), _no_glyph_warnings():
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue(), missing_characters(fig, fonts)


def warn_missing_glyphs(missing: str, stacklevel: int = 2) -> None:
    """One MissingGlyphWarning naming the characters `missing` and what to install (none when it is empty)."""
    if missing:
        warnings.warn(MissingGlyphWarning(missing), stacklevel=stacklevel + 1)


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG; characters no installed font has are named in one MissingGlyphWarning (with what to
    install) rather than in one matplotlib warning each."""
    data, missing = render_png(fig, dpi)
    warn_missing_glyphs(missing, stacklevel=2)
    return data


_TEXT_PATHS = TextToPath()


def _is_wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in ("W", "F")


def text_inches(texts: Iterable[str], size: float) -> float:
    """Width of the widest text at `size` points, in inches (measured, not drawn). A wide character (Chinese,
    Japanese, Korean) counts one em, as CJK fonts draw it, whether or not this machine has one: the reader's
    browser draws an SVG's text."""
    font = FontProperties(size=size)
    widest = 0.0
    with _no_glyph_warnings():
        for text in texts:
            wide = sum(map(_is_wide, text))
            narrow = "".join(c for c in text if not _is_wide(c)) if wide else text
            width = _TEXT_PATHS.get_text_width_height_descent(narrow, font, ismath=False)[0] if narrow else 0.0
            widest = max(widest, width + wide * size)
    return widest / 72


def svg_data_uri(fig: Figure) -> str:
    """The figure as a `data:image/svg+xml;base64,...` URI, for an <img> that needs no other file. Its text stays
    text, drawn by the browser in the reader's fonts (group names in any script), and it costs a third of the
    time of a PNG."""
    buf = io.BytesIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "thinfile"}), _no_glyph_warnings():
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.write_bytes(png_bytes(fig, dpi))
    return path


def write_png(fig: Figure, path: Path, dpi: int) -> str:
    """Save the figure as PNG at `path`; the characters no installed font has, for the caller to warn of once."""
    data, missing = render_png(fig, dpi)
    path.write_bytes(data)
    return missing
