"""Ids held as bytes or as uuids: every row is scored, each id written as text, as `read_table` (schema check, train,
fairness) reads it: a byte that is not UTF-8 as its escape, a uuid in its standard form."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from thinfile.features.io import read_table
from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer

ROWS = 30


def _book_with_ids(book: pd.DataFrame, scorer: Scorer, ids: pa.Array, path: Path) -> None:
    table = pa.Table.from_pandas(book.head(ROWS), preserve_index=False).replace_schema_metadata(None)
    at = table.column_names.index(scorer.schema.id_column)
    pq.write_table(table.set_column(at, scorer.schema.id_column, ids), path)


def _scored_ids(folder: Path, id_column: str) -> list[str]:
    return pd.read_parquet(folder / "scores").sort_values("row")[id_column].tolist()


def test_a_binary_id_that_is_not_utf8_is_scored_and_written_with_its_bytes_escaped(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    held = [str(i).encode() for i in book[scorer.schema.id_column].head(ROWS)]
    held[3] = b"\xff\xfe"
    _book_with_ids(book, scorer, pa.array(held, pa.binary()), tmp_path / "book.parquet")

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (ROWS, ROWS, 0)
    written = _scored_ids(tmp_path / "out", scorer.schema.id_column)
    assert written == [b.decode("utf-8", "backslashreplace") for b in held]
    assert written[3] == "\\xff\\xfe"
    assert written == read_table(tmp_path / "book.parquet")[scorer.schema.id_column].tolist()


def test_a_uuid_id_is_scored_and_written_in_its_standard_text_form(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    made = [uuid.uuid4() for _ in range(ROWS)]
    stored = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([u.bytes for u in made], pa.binary(16)))
    _book_with_ids(book, scorer, stored, tmp_path / "book.parquet")
    held = pq.read_table(tmp_path / "book.parquet").column(scorer.schema.id_column).to_pylist()  # pyarrow: uuid.UUID

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (ROWS, ROWS, 0)
    written = _scored_ids(tmp_path / "out", scorer.schema.id_column)
    assert held == made and written == [str(u) for u in held]
    assert written == read_table(tmp_path / "book.parquet")[scorer.schema.id_column].tolist()
