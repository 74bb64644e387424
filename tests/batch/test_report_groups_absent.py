"""A book without the schema's protected columns (a scoring book need not hold them) gets a population report
that says approval by group was not measured for them, at its top and in the job's summary: not a silent gap."""

from pathlib import Path

import pandas as pd

from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer


def test_a_book_without_protected_columns_says_approval_by_group_was_not_measured(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    protected = scorer.schema.protected_names
    book.head(400).drop(columns=protected[:1]).to_parquet(tmp_path / "book.parquet")

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)

    assert result.report["groups_absent"] == protected[:1]
    assert set(result.report["fairness"]) == set(protected[1:])
    said = f"Approval by group not measured for {protected[0]}: the book has no such column"
    assert said in result.summary()
    assert said in (tmp_path / "out" / "population_report.html").read_text()


def test_a_book_with_every_protected_column_says_nothing_of_it(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    book.head(400).to_parquet(tmp_path / "book.parquet")

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)

    assert result.report["groups_absent"] == []
    assert "not measured" not in result.summary()
