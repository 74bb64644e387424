"""The HTML report is self-contained, puts the verdict and what it could not check first, and renders in a real
browser (headless Chromium screenshot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_metrics import APPROVED, CUT, PD, SCALE, TINY, tiny_frame

from thinfile.training.fairness.audit import FairnessAudit, FairnessLimits, FairnessReport, build_report
from thinfile.training.fairness.report import render_html
from thinfile.training.fairness_stage import write_report


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
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in text and "href=" not in text
    body = text[text.index("<body>") :]
    assert body.index('class="verdict') < body.index("Inclusion lift") < body.index("Proxy audit")


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
