"""`thinfile batch-score` reads its settings from THINFILE_BATCH__* variables and the settings file; its own flags
win over both."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from thinfile.cli import app

ROWS = 450


def parts(out: Path) -> list[int]:
    """Rows of each scores part, in file order."""
    return [pq.ParquetFile(p).metadata.num_rows for p in sorted((out / "scores").glob("*.parquet"))]


def score(book: Path, out: Path, scorer_dir: Path, *options: str, before: tuple[str, ...] = ()) -> list[int]:
    done = CliRunner().invoke(
        app, [*before, "batch-score", str(book), str(out), "--model", str(scorer_dir), "--workers", "1", *options]
    )
    assert done.exit_code == 0, done.output
    return parts(out)


@pytest.fixture
def small_book(book: pd.DataFrame, tmp_path: Path) -> Path:
    book.head(ROWS).to_parquet(tmp_path / "book.parquet")
    return tmp_path / "book.parquet"


def test_chunk_rows_from_the_environment_sets_the_parts(
    small_book: Path, scorer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_BATCH__CHUNK_ROWS", "100")
    assert score(small_book, tmp_path / "out", scorer_dir) == [100, 100, 100, 100, 50]


def test_chunk_rows_from_the_settings_file_sets_the_parts(
    small_book: Path, scorer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_SETTINGS_FILE", "")  # what --settings sets in this process is undone after the test
    (tmp_path / "s.yaml").write_text("batch:\n  chunk_rows: 200\n")
    found = score(small_book, tmp_path / "out", scorer_dir, before=("--settings", str(tmp_path / "s.yaml")))
    assert found == [200, 200, 50]


def test_the_chunk_rows_flag_wins_over_the_environment(
    small_book: Path, scorer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_BATCH__CHUNK_ROWS", "100")
    assert score(small_book, tmp_path / "out", scorer_dir, "--chunk-rows", "300") == [300, 150]
