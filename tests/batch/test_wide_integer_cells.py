"""An integer cell too large for a float64 to hold exactly (2**60, a uint64's largest value) is one rejected row,
outside its column's valid range, as `thinfile schema check` lists it: never the end of the job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer

ROWS = 40
BAD_ROW = 7


def _book_with(book: pd.DataFrame, scorer: Scorer, value: int, kind: pa.DataType, path: Path) -> str:
    """The book's first rows with one int feature as `kind`, holding `value` at BAD_ROW; the feature's name."""
    feature = next(f for f in scorer.schema.features if f.type.value == "int" and f.max < 2**53)
    table = pa.Table.from_pandas(book.head(ROWS), preserve_index=False).replace_schema_metadata(None)
    cells = [0 if v is None else v for v in table.column(feature.name).to_pylist()]
    cells[BAD_ROW] = value
    at = table.column_names.index(feature.name)
    pq.write_table(table.set_column(at, feature.name, pa.array(cells, kind)), path)
    return feature.name


@pytest.mark.parametrize(
    ("value", "kind"), [(2**60, pa.int64()), (2**64 - 1, pa.uint64())], ids=["int64 2**60", "uint64 max"]
)
def test_an_integer_too_wide_for_a_float_is_one_reject_outside_the_range_and_the_rest_are_scored(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path, value: int, kind: pa.DataType
) -> None:
    column = _book_with(book, scorer, value, kind, tmp_path / "book.parquet")
    assert pq.read_table(tmp_path / "book.parquet").column(column)[BAD_ROW].as_py() == value  # pyarrow's own reading

    result = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)

    assert (result.rows_in, result.scored, result.rejected) == (ROWS, ROWS - 1, 1)
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")
    assert rejects["row"].tolist() == [BAD_ROW] and rejects["columns"].tolist() == [column]
    assert rejects["reason"][0].startswith(f"{column}: ") and "is outside the valid range" in rejects["reason"][0]
