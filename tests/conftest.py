"""Fixtures shared by every area: the built-in schema and small populations from the project's generator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from thinfile.features.generator import generate_frame
from thinfile.features.schema import Schema, load_schema


@pytest.fixture(scope="session")
def schema() -> Schema:
    return load_schema()


@pytest.fixture(scope="session")
def population(schema: Schema) -> pd.DataFrame:
    """30,000 synthetic people (seed 11); treat as read-only."""
    return generate_frame(schema, rows=30_000, seed=11)


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test writes into the repository's mlruns/ or data/: THINFILE_HOME is a temporary folder."""
    before = os.environ.get("THINFILE_HOME")
    os.environ["THINFILE_HOME"] = str(tmp_path_factory.mktemp("thinfile-home"))
    yield
    if before is None:
        os.environ.pop("THINFILE_HOME", None)
    else:
        os.environ["THINFILE_HOME"] = before


@pytest.fixture(scope="session")
def home_for(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A private THINFILE_HOME (MLflow store, data, reports) per test folder, made once per session."""
    homes: dict[str, Path] = {}

    def home(area: str) -> Path:
        if area not in homes:
            homes[area] = tmp_path_factory.mktemp(f"{area}_home")
        return homes[area]

    return home


@pytest.fixture(autouse=True)
def _area_store(
    request: pytest.FixtureRequest, home_for: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test talks to its folder's own store; MLFLOW_TRACKING_URI (which mlflow exports) never leaks in."""
    monkeypatch.setenv("THINFILE_HOME", str(home_for(request.path.parent.name)))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def screenshot() -> Callable[..., np.ndarray]:
    """Render a report in headless Chromium (a real browser) and return the screenshot's RGB pixels."""
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install -y chromium)")

    def shoot(html: Path, png: Path, width: int = 1200, height: int = 1600) -> np.ndarray:
        cmd = [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            html.as_uri(),
        ]
        subprocess.run(cmd, capture_output=True, timeout=120, check=False, cwd=png.parent)
        assert png.exists() and png.stat().st_size > 10_000, "chromium wrote no screenshot"
        return np.asarray(mpimg.imread(png))[..., :3]

    return shoot


_PEAK = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[2:]).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(code)"
)


@pytest.fixture
def peak_kib(tmp_path: Path) -> Callable[[list[str]], tuple[int, subprocess.CompletedProcess[str]]]:
    """Run a command in tmp_path; its peak resident memory in KiB (the kernel's count, through a wrapper process
    whose only child it is) and how it ended."""

    def run(cmd: list[str]) -> tuple[int, subprocess.CompletedProcess[str]]:
        peak = tmp_path / f"peak-{len(list(tmp_path.glob('peak-*')))}"
        done = subprocess.run(
            [sys.executable, "-c", _PEAK, str(peak), *cmd], capture_output=True, text=True, cwd=tmp_path, timeout=600
        )
        return int(peak.read_text()), done

    return run
