"""The HTML report is self-contained and renders in a real browser (headless Chromium screenshot)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from thinfile.training.fairness.audit import FairnessReport
from thinfile.training.fairness_stage import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def html_file(report: FairnessReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    html, _ = write_report(report, tmp_path_factory.mktemp("report"), "fairness_report", "test report")
    return html


def test_html_needs_no_other_file(html_file: Path) -> None:
    text = html_file.read_text()
    assert text.startswith("<!DOCTYPE html>")
    srcs = re.findall(r'src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<script" not in text and "href=" not in text
    assert "PASS" in text or "FAIL" in text
    assert text.index("verdict") < text.index("Inclusion lift") < text.index("Proxy audit")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install -y chromium)")
def test_html_renders_in_headless_chromium(html_file: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        html_file.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False, cwd=tmp_path)
    assert shot.exists() and shot.stat().st_size > 10_000
    pixels = mpimg.imread(shot)[..., :3]
    not_white = (pixels < 0.95).any(axis=2).mean()
    assert not_white > 0.02, f"screenshot nearly blank ({not_white:.1%} non-white pixels)"
    assert pixels.std() > 0.05
    # the verdict banner (pale red or green) is drawn near the top
    top = pixels[: pixels.shape[0] // 4]
    assert (np.abs(top[..., 0] - top[..., 1]) > 0.05).any()
