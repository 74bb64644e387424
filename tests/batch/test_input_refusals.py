"""Input files that stop a job before anything is written: the message names each and says what to do."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thinfile.features.schema import Schema
from thinfile.serving.batch import batch_score
from thinfile.serving.batch.input import BatchInputError, inspect_input
from thinfile.training.scorer.artefact import Scorer


def refusal(source: Path, schema: Schema) -> str:
    with pytest.raises(BatchInputError) as err:
        inspect_input(source, schema)
    return str(err.value)


def with_line_edited(table: pd.DataFrame, path: Path, line: int, edit: Callable[[str], str]) -> None:
    """`table` as a CSV at `path`, its line `line` (0: the header) as `edit` rewrites it."""
    table.to_csv(path, index=False)
    lines = path.read_text().split("\n")
    lines[line] = edit(lines[line])
    path.write_text("\n".join(lines))


@pytest.fixture
def book_folder(book: pd.DataFrame, tmp_path: Path) -> Path:
    folder = tmp_path / "book" / "region=north" / "dt=2026-11-26"
    folder.mkdir(parents=True)
    book.head(100).to_parquet(folder / "a.parquet")
    return tmp_path / "book"


def test_a_zero_byte_csv_is_refused_as_an_empty_file(book_folder: Path, schema: Schema) -> None:
    (book_folder / "region=north" / "dt=2026-11-26" / "empty.csv").write_bytes(b"")
    said = refusal(book_folder, schema)
    assert "region=north/dt=2026-11-26/empty.csv: empty file (0 bytes, not even a header" in said


def test_a_zero_byte_parquet_file_is_refused_as_an_empty_file(book_folder: Path, schema: Schema) -> None:
    (book_folder / "empty.parquet").write_bytes(b"")
    assert "empty.parquet: empty file (0 bytes" in refusal(book_folder, schema)


def test_a_header_only_csv_is_accepted_with_no_rows(book: pd.DataFrame, book_folder: Path, schema: Schema) -> None:
    book.head(0).to_csv(book_folder / "header.csv", index=False)
    rows = {p.name: p.rows for p in inspect_input(book_folder, schema)}
    assert rows == {"header.csv": 0, "region=north/dt=2026-11-26/a.parquet": 100}


def test_a_refusal_of_one_file_in_a_folder_says_to_fix_delete_or_move_it_and_rerun(
    book_folder: Path, schema: Schema
) -> None:
    (book_folder / "empty.csv").write_bytes(b"")
    said = refusal(book_folder, schema)
    assert said.startswith("1 of 2 input files cannot be scored, nothing was written")
    assert said.endswith(f"Fix or delete this file, or move it out of {book_folder}, and rerun")


def test_a_refusal_of_several_files_says_to_fix_delete_or_move_them_and_rerun(
    book: pd.DataFrame, book_folder: Path, schema: Schema
) -> None:
    (book_folder / "empty.csv").write_bytes(b"")
    book.head(10).drop(columns=[schema.id_column]).to_parquet(book_folder / "missing-col.parquet")
    said = refusal(book_folder, schema)
    assert said.startswith("2 of 3 input files cannot be scored, nothing was written")
    assert "missing-col.parquet: missing required column(s)" in said
    assert said.endswith(f"Fix or delete these files, or move them out of {book_folder}, and rerun")


def test_a_refused_single_file_input_says_to_fix_or_replace_it(tmp_path: Path, schema: Schema) -> None:
    (tmp_path / "book.csv").write_bytes(b"")
    said = refusal(tmp_path / "book.csv", schema)
    assert "book.csv: empty file" in said and said.endswith("Fix or replace the file and rerun")


def test_a_link_to_a_file_that_is_gone_is_refused_naming_it_and_where_it_pointed(
    book_folder: Path, schema: Schema, tmp_path: Path
) -> None:
    (book_folder / "b.csv").symlink_to(tmp_path / "exports" / "b.csv")
    said = refusal(book_folder, schema)
    assert f"{book_folder / 'b.csv'} is a link to {tmp_path / 'exports' / 'b.csv'}, which does not exist" in said
    assert "fix the link or remove it" in said


def test_a_row_of_the_wrong_width_in_another_encoding_is_refused_for_the_encoding_without_a_traceback(
    book: pd.DataFrame, tmp_path: Path, schema: Schema, capfd: pytest.CaptureFixture[str]
) -> None:
    text = book.head(20).to_csv(index=False).encode()
    (tmp_path / "book.csv").write_bytes(text + "A-late,Zhōu,3\n".encode("gb18030") + text.split(b"\n", 2)[1] + b"\n")
    said = refusal(tmp_path / "book.csv", schema)
    assert "book.csv is not UTF-8 text" in said and "THINFILE_CSV_ENCODING=gb18030" in said
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out and "Exception ignored" not in printed.err


def test_a_semicolon_separated_csv_is_refused_naming_its_delimiter_not_every_column(
    book: pd.DataFrame, tmp_path: Path, schema: Schema
) -> None:
    book.head(20).to_csv(tmp_path / "book.csv", sep=";", index=False)
    said = refusal(tmp_path / "book.csv", schema)
    assert "the file looks separated by semicolons" in said and "missing required column" not in said


def test_a_csv_row_with_a_quote_left_open_is_refused_naming_it_not_scored_as_one_row(
    book: pd.DataFrame, tmp_path: Path, schema: Schema
) -> None:
    path = tmp_path / "book.csv"
    with_line_edited(book.head(3_000), path, 2_001, lambda line: '"' + line)  # row 2,002 of the file
    said = refusal(path, schema)
    assert "row 2,002 of the file (the header is row 1) opens a quote it never closes" in said
    assert "the next 999 line(s)" in said  # by hand: rows 2,003 to 3,001 of a 3,001-line file


def test_a_csv_whose_header_is_longer_than_64_kib_is_read(book: pd.DataFrame, tmp_path: Path, schema: Schema) -> None:
    path = tmp_path / "wide.csv"
    extra = pd.DataFrame(0, index=range(50), columns=[f"extra_column_{i:05d}" for i in range(6_000)])
    pd.concat([book.head(50).reset_index(drop=True), extra], axis=1).to_csv(path, index=False)
    assert len(path.read_text().split("\n", 1)[0]) > 64 * 1024
    assert [part.rows for part in inspect_input(path, schema)] == [50]


def test_a_csv_field_of_twenty_megabytes_is_refused_in_one_line_saying_what_to_do(
    book: pd.DataFrame, tmp_path: Path, schema: Schema
) -> None:
    path = tmp_path / "notes.csv"
    book.head(20).assign(notes=["x" * 20_000_000 if i == 5 else "" for i in range(20)]).to_csv(path, index=False)
    said = refusal(path, schema)
    assert "runs longer than the reader's block" in said and "store the table as Parquet" in said
    assert "straddl" not in said and len(said) < 1_000


def _twice_named(book: pd.DataFrame, path: Path, name: str) -> None:
    """The book's first rows to a Parquet file holding column `name` twice."""
    table = pa.Table.from_pandas(book.head(20), preserve_index=False)
    pq.write_table(pa.Table.from_arrays([*table.columns, table.column(name)], [*table.column_names, name]), path)


def test_a_parquet_file_with_a_repeated_column_name_is_refused_naming_the_file_and_the_column(
    book: pd.DataFrame, tmp_path: Path, schema: Schema
) -> None:
    name = schema.features[0].name
    _twice_named(book, tmp_path / "book.parquet", name)
    assert pq.read_schema(tmp_path / "book.parquet").names.count(name) == 2  # pyarrow's own reading
    said = refusal(tmp_path / "book.parquet", schema)
    assert "book.parquet: " in said and f"repeated column names: ['{name}']" in said
    assert said.endswith("Fix or replace the file and rerun") and "\n" not in said


def test_batch_score_refuses_a_parquet_file_with_a_repeated_column_before_writing_anything(
    book: pd.DataFrame, scorer: Scorer, tmp_path: Path
) -> None:
    _twice_named(book, tmp_path / "book.parquet", "bureau_utilisation")
    with pytest.raises(BatchInputError, match=r"book\.parquet: .*repeated column names: \['bureau_utilisation'\]"):
        batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1)
    assert not (tmp_path / "out").exists()


def test_a_gzip_compressed_csv_is_refused_as_compressed_not_as_another_encoding(
    book: pd.DataFrame, tmp_path: Path, schema: Schema
) -> None:
    (tmp_path / "book.csv").write_bytes(gzip.compress(book.head(100).to_csv(index=False).encode()))
    said = refusal(tmp_path / "book.csv", schema)
    assert "book.csv is gzip-compressed, not CSV text: decompress it first" in said and "GB18030" not in said


def test_a_quote_left_open_in_a_files_last_column_is_refused_naming_its_row(
    book: pd.DataFrame, tmp_path: Path, schema: Schema
) -> None:
    path = tmp_path / "book.csv"
    table = book.head(3_000).assign(note=[f"n{i}" for i in range(3_000)])
    with_line_edited(table, path, 1_001, lambda line: line.rsplit(",", 1)[0] + ',"n1000')  # the count of fields holds
    said = refusal(path, schema)
    assert "row 1,002 of the file (the header is row 1) opens a quote it never closes" in said
