"""The HTML report is self-contained, puts the verdict and what it could not check first, and renders in a real
browser (headless Chromium screenshot)."""

from __future__ import annotations

import base64
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from test_metrics import APPROVED, CUT, LENIENT, PD, SCALE, TINY, G, tiny_frame

from thinfile.features.schema import parse_schema
from thinfile.training.fairness.audit import FairnessReport, build_report
from thinfile.training.fairness.report import render_html
from thinfile.training.fairness_stage import write_report
from thinfile.training.settings import FairnessAudit, FairnessLimits


@pytest.fixture(scope="module")
def html_file(report: FairnessReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    html, _ = write_report(report, tmp_path_factory.mktemp("report"), "fairness_report", "test report")
    return html


@pytest.fixture(scope="module")
def incomplete_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report on 20 rows whose intersection groups (5 rows each) are too small to check."""
    limits = FairnessLimits(disparate_impact_min=0.1, equal_opportunity_max=1, calibration_gap_max=1)
    score = [650.0 if a else 500.0 for a in APPROVED]
    report = build_report(
        tiny_frame(), TINY, PD, score, scale=SCALE, cutoffs=CUT, limits=limits, audit=FairnessAudit(min_group_rows=6)
    )
    path = tmp_path_factory.mktemp("incomplete") / "report.html"
    path.write_text(render_html(report, "incomplete report"))
    return path


def test_html_needs_no_other_file(html_file: Path) -> None:
    text = html_file.read_text()
    assert text.startswith("<!DOCTYPE html>")
    srcs = re.findall(r'src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)
    assert "<script" not in text and "href=" not in text
    body = text[text.index("<body>") :]
    assert body.index('class="verdict') < body.index("Inclusion lift") < body.index("Proxy audit")


def test_group_names_in_chinese_reach_the_figures_as_text(tmp_path: Path) -> None:
    schema = parse_schema(
        {
            **TINY.model_dump(mode="json", exclude_none=True, include={"name", "id_column", "target", "features"}),
            "protected": [{"name": "hukou", "categories": ["城镇", "农村"]}],
        }
    )
    frame = tiny_frame().assign(hukou=np.where(G == "a", "城镇", "农村"))
    score = [650.0 if a else 500.0 for a in APPROVED]
    report = build_report(
        frame, schema, PD, score, scale=SCALE, cutoffs=CUT, limits=LENIENT, audit=FairnessAudit(min_group_rows=1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing-glyph warning: the browser, not matplotlib, draws the words
        html = render_html(report, "户籍")
    svgs = [
        ET.fromstring(base64.b64decode(src)) for src in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', html)
    ]
    words = {
        w for svg in svgs for t in svg.iter("{http://www.w3.org/2000/svg}text") for w in "".join(t.itertext()).split()
    }
    assert {"城镇", "农村"} <= words


def test_unchecked_groups_are_listed_under_the_verdict_with_their_size(incomplete_html: Path) -> None:
    body = incomplete_html.read_text().split("<body>", 1)[1]
    assert re.search(r'<div class="verdict incomplete">INCOMPLETE: ', body)
    box = body.index("Not checked: 4 group(s)")
    assert body.index('class="verdict') < box < body.index("<h2>g</h2>")
    rows = re.findall(r"<tr><td class=\"l\">g &amp; h</td><td class=\"l\">([ab] &amp; [uv])</td><td>(\d+)</td>", body)
    assert sorted(rows) == [("a &amp; u", "5"), ("a &amp; v", "5"), ("b &amp; u", "5"), ("b &amp; v", "5")]
    assert "PASS:" not in body


@pytest.mark.slow
def test_html_renders_in_headless_chromium(html_file: Path, screenshot, tmp_path: Path) -> None:
    pixels = screenshot(html_file, tmp_path / "shot.png")
    not_white = (pixels < 0.95).any(axis=2).mean()
    assert not_white > 0.02, f"screenshot nearly blank ({not_white:.1%} non-white pixels)"
    assert pixels.std() > 0.05
    top = pixels[: pixels.shape[0] // 4]
    assert (abs(top[..., 0] - top[..., 1]) > 0.05).any(), "no coloured verdict banner near the top"


@pytest.mark.slow
def test_incomplete_report_renders_with_an_amber_banner(incomplete_html: Path, screenshot, tmp_path: Path) -> None:
    pixels = screenshot(incomplete_html, tmp_path / "incomplete.png")
    top = pixels[: pixels.shape[0] // 4]
    amber = (top[..., 0] > 0.95) & (top[..., 1] > 0.9) & (top[..., 2] < 0.85)
    assert amber.mean() > 0.01, "no amber 'incomplete' banner near the top"
