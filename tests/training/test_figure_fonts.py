"""PNG figures and a lender's group names in Chinese: drawn in an installed CJK font, or named in one warning."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from matplotlib import font_manager
from matplotlib.figure import Figure

from thinfile.training.reporting.figures import CJK_FONTS, MissingGlyphWarning, png_bytes, png_fonts, sans_serif_fonts

GROUPS = ("农村", "城市")


def _legend_figure(labels: tuple[str, ...]) -> Figure:
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    for k, label in enumerate(labels):
        ax.plot([0, 1], [k, k + 1], label=label)
    ax.legend()
    return fig


def _drawn(labels: tuple[str, ...]) -> tuple[np.ndarray, list[warnings.WarningMessage]]:
    """A figure built and saved as the drawing processes do; its pixels and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with png_fonts():
            fig = _legend_figure(labels)
        png = png_bytes(fig)
    return mpimg.imread(io.BytesIO(png))[..., :3], list(caught)


def _square_font(path: Path, family: str, characters: str) -> Path:
    """A TrueType font named `family` whose only glyphs are filled squares for `characters`."""
    names = [".notdef", *(f"u{ord(c):04X}" for c in characters)]
    pen = TTGlyphPen(None)
    pen.moveTo((100, 0))
    pen.lineTo((100, 700))
    pen.lineTo((900, 700))
    pen.lineTo((900, 0))
    pen.closePath()
    square = pen.glyph()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): n for c, n in zip(characters, names[1:])})
    builder.setupGlyf({n: square for n in names})
    builder.setupHorizontalMetrics({n: (1000, 0) for n in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    builder.setupPost()
    builder.save(str(path))
    return path


@pytest.fixture
def installed_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A CJK font by one of the names the figures fall back to, known to matplotlib for this test only."""
    family = CJK_FONTS[0]
    path = _square_font(tmp_path / "cjk.ttf", family, "".join(GROUPS))
    monkeypatch.setattr(font_manager.fontManager, "ttflist", list(font_manager.fontManager.ttflist))
    font_manager.fontManager.addfont(str(path))
    font_manager.FontManager._findfont_cached.cache_clear()
    yield family
    font_manager.FontManager._findfont_cached.cache_clear()


def test_latin_and_accented_labels_draw_without_a_warning() -> None:
    _, caught = _drawn(("rural", "urbain é"))
    assert caught == []


def test_chinese_group_names_without_a_cjk_font_give_one_warning_saying_what_to_install() -> None:
    if sans_serif_fonts() != ["DejaVu Sans"]:
        pytest.skip("this machine has a CJK font installed")
    _, caught = _drawn(GROUPS)
    assert [w.category for w in caught] == [MissingGlyphWarning]
    message = str(caught[0].message)
    assert "农村城市" in message and "apt-get install fonts-noto-cjk" in message


def test_an_installed_cjk_font_draws_the_chinese_group_names(installed_cjk_font: str) -> None:
    assert installed_cjk_font in sans_serif_fonts()
    with_font, caught = _drawn(GROUPS)
    assert caught == []
    font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist if f.name != installed_cjk_font]
    font_manager.FontManager._findfont_cached.cache_clear()
    boxes, _ = _drawn(GROUPS)
    assert with_font.shape == boxes.shape
    assert np.abs(with_font - boxes).max() > 0.2  # filled squares, not DejaVu's hollow boxes
