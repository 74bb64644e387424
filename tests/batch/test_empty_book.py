"""A book with no rows (a CSV holding only its header) is a finished job that says so: nothing scored, and a
report that claims nothing it did not measure."""

from pathlib import Path

import pandas as pd

from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer


def test_a_header_only_csv_is_scored_as_no_rows_and_the_summary_says_so(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    book.head(0).to_csv(tmp_path / "book.csv", index=False)

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
    assert "No row was scored (the book has no rows, or every row was rejected)" in html
    assert "training reference" not in html
