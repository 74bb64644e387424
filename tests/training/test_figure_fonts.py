"""PNG figures and a lender's names in Chinese: drawn in an installed CJK font, or named in one warning; measured
at their true width for the HTML reports."""

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

from thinfile.training.reporting.drawing import Plots, can_fork, draw_pngs
from thinfile.training.reporting.figures import (
    CJK_FONTS,
    MissingGlyphWarning,
    png_bytes,
    png_fonts,
    sans_serif_fonts,
    text_inches,
)

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


def _labelled(*labels: str) -> dict[str, Figure]:
    return {f"plot_{k}.png": _legend_figure((label,)) for k, label in enumerate(labels)}


@pytest.mark.skipif(not can_fork(), reason="drawing processes need fork")
def test_plots_drawn_in_several_processes_give_one_warning_naming_every_missing_character(tmp_path: Path) -> None:
    if sans_serif_fonts() != ["DejaVu Sans"]:
        pytest.skip("this machine has a CJK font installed")
    groups = (Plots("a", lambda: _labelled("农村", "城市")), Plots("b", lambda: _labelled("男", "农村")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawing = draw_pngs(groups, tmp_path, timeout_s=60)
        assert drawing.processes  # drawn in child processes, which cannot warn the user themselves
        written = drawing.wait()
    assert len(written) == 4
    assert [w.category for w in caught] == [MissingGlyphWarning]
    assert "农村城市男" in str(caught[0].message)


def test_a_wide_character_is_measured_one_em_wide_whatever_the_fonts_here() -> None:
    size = 10.0
    one_em = size / 72
    assert text_inches(["农村"], size) == pytest.approx(2 * one_em)
    mixed, latin = text_inches(["农村 & 19-29"], size), text_inches([" & 19-29"], size)
    assert mixed == pytest.approx(latin + 2 * one_em)
    assert text_inches(["a", "农村城市"], size) == pytest.approx(4 * one_em)


def test_measuring_chinese_text_gives_no_glyph_warnings() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text_inches(["农村 & 19-29", "男"], 7)
    assert caught == []
