"""A book with no rows (a CSV holding only its header) is a finished job that says so: nothing scored, and a
report that claims nothing it did not measure."""

from pathlib import Path

import pandas as pd
import pytest

from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer


@pytest.mark.parametrize("line_end", ["\n", "\r\n", ""], ids=["newline", "crlf", "no-final-newline"])
def test_a_header_only_csv_is_scored_as_no_rows_and_the_summary_says_so(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path, line_end: str
) -> None:
    (tmp_path / "book.csv").write_bytes((",".join(book.columns) + line_end).encode())

    result = batch_score(tmp_path / "book.csv", tmp_path / "out", scorer, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (0, 0, 0)
    assert "the input holds no rows (a header only?): nothing was scored" in result.summary()


def test_a_report_on_no_rows_blames_no_reference_and_passes_nothing(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    book.head(0).to_parquet(tmp_path / "book.parquet")

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)

    assert scorer.reference
    assert result.report["stability"] == {
        "available": False,
        "note": "no row was scored, so stability (PSI) cannot be measured",
    }
    html = (tmp_path / "out" / "population_report.html").read_text()
    assert "The book has no rows: nothing was scored, so nothing here was measured." in html
    assert "training reference" not in html


def test_a_report_on_no_scored_rows_shows_no_empty_tables_nor_their_legend(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    feature = scorer.schema.features[0]
    book.head(20).assign(**{feature.name: "not a value"}).to_csv(tmp_path / "book.csv", index=False)
    book.head(20).to_csv(tmp_path / "good.csv", index=False)

    batch_score(tmp_path / "book.csv", tmp_path / "out", scorer, workers=1)
    batch_score(tmp_path / "good.csv", tmp_path / "good", scorer, workers=1)

    empty = (tmp_path / "out" / "population_report.html").read_text()
    scored = (tmp_path / "good" / "population_report.html").read_text()
    for heading in ("<h2>Bands and decisions</h2>", "<h2>Approval at the cut-offs</h2>", "<h2>How to read this</h2>"):
        assert heading in scored and heading not in empty
    assert f"rejected by column: {feature.name} 20" in empty


def test_a_report_on_a_book_whose_every_row_was_rejected_says_that_and_not_that_it_had_no_rows(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    feature = scorer.schema.features[0]
    book.head(20).assign(**{feature.name: "not a value"}).to_csv(tmp_path / "book.csv", index=False)

    result = batch_score(tmp_path / "book.csv", tmp_path / "out", scorer, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (20, 0, 20)
    html = (tmp_path / "out" / "population_report.html").read_text()
    assert "Every row was rejected: nothing was scored, so nothing here was measured." in html
    assert "the input holds no rows" not in result.summary()
