"""A lender's own cut-offs in a batch job: the same variables the service reads, or the flags."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.training.scorer.artefact import Scorer

runner = CliRunner()


def score_head(book: pd.DataFrame, rows: int, tmp_path: Path, scorer_dir: Path) -> Result:
    """`thinfile batch-score` of the book's first `rows` rows, as Parquet, into tmp_path/out."""
    book.head(rows).to_parquet(tmp_path / "book.parquet")
    return runner.invoke(
        app, ["batch-score", str(tmp_path / "book.parquet"), str(tmp_path / "out"), "-m", str(scorer_dir)]
    )


def test_the_services_cutoff_variable_decides_the_batch_too_with_the_models_refer_band(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scorer_dir: Path, scorer: Scorer, book: pd.DataFrame
) -> None:
    book.head(2_000).to_parquet(tmp_path / "book.parquet")
    approve = 640.0
    band = scorer.cutoffs.approve - scorer.cutoffs.refer
    monkeypatch.setenv("THINFILE_APPROVE_CUTOFF", str(approve))
    out = runner.invoke(
        app, ["batch-score", str(tmp_path / "book.parquet"), str(tmp_path / "out"), "-m", str(scorer_dir)]
    )
    assert out.exit_code == 0, out.output
    assert f"approve at {approve:g} and above, refer from {approve - band:g}" in out.output
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    expected = pd.Series("decline", index=scores.index)
    expected[scores["score"] >= approve - band] = "refer"
    expected[scores["score"] >= approve] = "approve"
    assert (scores["decision"].astype(str) == expected).all()
    assert scores["decision"].astype(str).nunique() == 3


def test_a_refer_cutoff_above_the_approve_cutoff_is_one_line_and_exit_2(
    tmp_path: Path, scorer_dir: Path, book: pd.DataFrame
) -> None:
    book.head(10).to_parquet(tmp_path / "book.parquet")
    cmd = ["batch-score", str(tmp_path / "book.parquet"), str(tmp_path / "out"), "-m", str(scorer_dir)]
    out = runner.invoke(app, [*cmd, "--approve-cutoff", "600", "--refer-cutoff", "650"])
    assert out.exit_code == 2
    assert "refer cut-off 650.0 is above approve cut-off 600.0" in out.output and "Traceback" not in out.output
    assert not (tmp_path / "out" / "scores").exists()


def test_cutoff_as_train_names_it_is_the_approve_cutoff(tmp_path: Path, scorer_dir: Path, book: pd.DataFrame) -> None:
    book.head(500).to_parquet(tmp_path / "book.parquet")
    out = runner.invoke(
        app,
        [
            "batch-score",
            str(tmp_path / "book.parquet"),
            str(tmp_path / "out"),
            "-m",
            str(scorer_dir),
            "--cutoff",
            "700",
        ],
    )
    assert out.exit_code == 0, out.output
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    assert ((scores["decision"].astype(str) == "approve") == (scores["score"] >= 700)).all()


def test_the_services_top_reasons_variable_sets_the_reasons_a_batch_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scorer_dir: Path, book: pd.DataFrame
) -> None:
    monkeypatch.setenv("THINFILE_TOP_REASONS", "2")
    out = score_head(book, 200, tmp_path, scorer_dir)
    assert out.exit_code == 0, out.output
    columns = pd.read_parquet(tmp_path / "out" / "scores").columns
    assert [c for c in columns if c.endswith("_code")] == ["reason_1_code", "reason_2_code"]


def test_a_top_reasons_variable_the_service_would_refuse_is_refused_by_the_batch_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scorer_dir: Path, book: pd.DataFrame
) -> None:
    monkeypatch.setenv("THINFILE_TOP_REASONS", "50")
    out = score_head(book, 10, tmp_path, scorer_dir)
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "THINFILE_TOP_REASONS" in out.output or "--top-reasons" in out.output


def test_two_settings_for_the_reasons_a_batch_writes_that_disagree_are_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scorer_dir: Path, book: pd.DataFrame
) -> None:
    monkeypatch.setenv("THINFILE_TOP_REASONS", "6")
    monkeypatch.setenv("THINFILE_BATCH__TOP_REASONS", "3")
    out = score_head(book, 10, tmp_path, scorer_dir)
    assert out.exit_code == 2 and not (tmp_path / "out").exists()
    assert "THINFILE_TOP_REASONS says 6, the settings' batch.top_reasons says 3" in " ".join(out.output.split())
