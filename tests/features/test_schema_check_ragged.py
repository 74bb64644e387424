"""`schema check` on a CSV book with rows of another number of fields than the header (a stray comma, a cut line):
it reads the other rows and checks them, and fails naming each such row by its line in the file, as `batch-score`
sets them aside as rejects; past `batch.max_wrong_field_rows` in a file it cannot read the file."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.io import read_table_setting_aside

DATA = Path(__file__).resolve().parents[1] / "data"
SCHEMA = DATA / "german_credit.yaml"
runner = CliRunner()


def ragged_book(path: Path, bad_lines: dict[int, str]) -> Path:
    """German credit as CSV, with the given lines of the file (the header is line 1) replaced."""
    lines = (DATA / "german_credit.csv").read_text().splitlines()
    for number, text in bad_lines.items():
        lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")
    return path


def lines_with_other_field_counts(path: Path) -> dict[int, int]:
    """Python's csv module's view: line number (header 1) -> fields, for the rows whose count is not the header's."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return {k + 1: len(row) for k, row in enumerate(rows) if len(row) != len(rows[0])}


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return ragged_book(tmp_path / "book.csv", {40: "41,a,b,c", 500: "499," + "x," * 30 + "y"})


def check(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["schema", "check", *args], env={"COLUMNS": "400", **(env or {})})
    return result.exit_code, " ".join(result.output.split())


def test_a_book_to_score_with_ragged_rows_is_checked_and_fails_naming_each_row_by_its_line(book: Path) -> None:
    code, out = check(str(book), "--schema", str(SCHEMA), "--scoring")
    ragged = lines_with_other_field_counts(book)
    assert sorted(ragged) == [40, 500]
    assert code == 1, out
    assert "998 rows (and 2 not read: another number of fields than the header)" in out
    for line, fields in ragged.items():
        assert f"row {line} has {fields} fields" in out
    assert "batch-score rejects them, reading nothing in them" in out
    assert "FAIL: 998 rows" in out


def test_a_training_table_with_ragged_rows_says_train_cannot_read_it(book: Path) -> None:
    code, out = check(str(book), "--schema", str(SCHEMA))
    assert code == 1, out
    assert "train cannot read the file until they are fixed or removed" in out


def test_past_the_batch_limit_of_ragged_rows_the_file_cannot_be_read(book: Path) -> None:
    code, out = check(
        str(book), "--schema", str(SCHEMA), "--scoring", env={"THINFILE_BATCH__MAX_WRONG_FIELD_ROWS": "1"}
    )
    assert code == 2, out
    assert "more than 1 rows have another number of fields than the header (row 500 of the file has 32 fields" in out
    assert "raise THINFILE_BATCH__MAX_WRONG_FIELD_ROWS" in out


def test_each_file_of_a_folder_gets_its_own_line(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    ragged_book(folder / "a.csv", {3: "2,cut"})
    ragged_book(folder / "b.csv", {7: "6,x,y"})
    code, out = check(str(folder), "--schema", str(SCHEMA), "--scoring")
    assert code == 1, out
    assert "a.csv: 1 row with another number of fields" in out and "row 3 has 2 fields" in out
    assert "b.csv: 1 row with another number of fields" in out and "row 7 has 3 fields" in out


def test_a_clean_csv_reads_as_pandas_reads_it() -> None:
    frame, aside = read_table_setting_aside(DATA / "german_credit.csv", most=10)
    assert aside == []
    pd.testing.assert_frame_equal(frame, pd.read_csv(DATA / "german_credit.csv"), check_dtype=False)


def test_an_empty_file_in_a_book_to_check_is_named_as_read_table_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    ragged_book(folder / "a.csv", {})
    (folder / "b.csv").write_bytes(b"")
    code, out = check(str(folder), "--schema", str(SCHEMA), "--scoring")
    assert code == 2, out
    assert "b.csv: empty file (0 bytes, not even a header, so its columns cannot be read): fill it or remove it" in out
