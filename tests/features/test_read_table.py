"""Reading a lender's file for training and schema work: what counts as missing agrees with pandas."""

from __future__ import annotations

import gzip
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from thinfile.features.io import TableReadError, read_table, read_table_setting_aside
from thinfile.features.population import generate_population
from thinfile.features.schema import load_schema


def test_an_empty_csv_cell_is_missing_in_text_and_number_columns_as_pandas_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("id,sector,income\nA1,farming,100\nA2,,\nA3,trade,300\n")
    ours, theirs = read_table(path), pd.read_csv(path)
    pd.testing.assert_frame_equal(ours.isna(), theirs.isna())
    assert ours["sector"].isna().tolist() == [False, True, False]


def test_an_empty_csv_cell_is_missing_in_a_folder_of_csv_parts(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.csv").write_text("id,sector\nA1,farming\n")
    (tmp_path / "book" / "b.csv").write_text("id,sector\nA2,\n")
    assert read_table(tmp_path / "book")["sector"].isna().tolist() == [False, True]


CHINESE = "编号,学历,月收入\nA1,本科,8000\nA2,高中,\nA3,硕士,12000\n"


def test_a_gb18030_csv_is_refused_with_the_setting_that_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "借款人.csv"
    path.write_bytes(CHINESE.encode("gb18030"))
    with pytest.raises(TableReadError, match="借款人.csv is not UTF-8 text.*THINFILE_CSV_ENCODING=gb18030"):
        read_table(path)


def test_thinfile_csv_encoding_reads_a_gb18030_csv_as_pandas_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "借款人.csv"
    path.write_bytes(CHINESE.encode("gb18030"))
    monkeypatch.setenv("THINFILE_CSV_ENCODING", "GB18030")
    pd.testing.assert_frame_equal(read_table(path), pd.read_csv(path, encoding="gb18030"))


def test_an_unknown_csv_encoding_is_named_as_the_setting_at_fault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "book.csv"
    path.write_text(CHINESE, encoding="utf-8")
    monkeypatch.setenv("THINFILE_CSV_ENCODING", "gbk-ish")
    with pytest.raises(TableReadError, match="THINFILE_CSV_ENCODING: 'gbk-ish' is not an encoding Python knows"):
        read_table(path)


def test_a_folder_of_csv_and_parquet_files_reads_every_row_of_both(tmp_path: Path) -> None:
    folder = tmp_path / "book" / "region=north"
    folder.mkdir(parents=True)
    first = pd.DataFrame({"id": ["a", "b", "c"], "income": [1.5, None, 3.0]})
    second = pd.DataFrame({"id": ["d", "e"], "income": [4.0, 5.5]})
    first.to_csv(folder / "a.csv", index=False)
    second.to_parquet(folder / "b.parquet", index=False)
    table = read_table(tmp_path / "book")
    assert table["id"].tolist() == ["a", "b", "c", "d", "e"]
    assert table["income"].isna().tolist() == [False, True, False, False, False]
    assert set(table["region"].astype(str)) == {"north"}


def test_a_parquet_page_that_fails_its_checksum_is_refused_not_read_as_other_values(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": [str(i) for i in range(20_000)], "income": [float(i) for i in range(20_000)]})
    path = tmp_path / "book.parquet"
    pq.write_table(table, path, compression="none", use_dictionary=False, write_page_checksum=True)
    data = bytearray(path.read_bytes())
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(1)
    middle = chunk.data_page_offset + chunk.total_compressed_size // 2
    data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
    assert not pq.read_table(path).equals(table)  # unverified, the damage reads as other numbers

    with pytest.raises(TableReadError, match="checksum") as err:
        read_table(path)
    assert str(path) in str(err.value)


def test_a_generated_population_carries_page_checksums_so_a_damaged_page_is_refused(tmp_path: Path) -> None:
    population = generate_population(load_schema(), tmp_path / "synthetic", rows=5_000, seed=2)
    part = sorted(population.parts_dir.glob("*.parquet"))[0]
    meta = pq.ParquetFile(part).metadata.row_group(0)
    column = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == "true_pd")
    data = bytearray(part.read_bytes())
    middle = (column.dictionary_page_offset or column.data_page_offset) + column.total_compressed_size // 2
    data[middle : middle + 8] = bytes(b ^ 0x5A for b in data[middle : middle + 8])
    part.write_bytes(bytes(data))
    with pytest.raises(TableReadError, match="checksum"):
        read_table(population.parts_dir)


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_a_zero_byte_file_is_refused_as_an_empty_file_naming_it(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(TableReadError, match=rf"{name}: empty file \(0 bytes, not even a header"):
        read_table(tmp_path / name)


def test_a_row_with_a_stray_comma_is_named_by_its_row_in_the_file_without_its_values(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    rows = [f"A{i},farming,{100 + i}" for i in range(1, 8)]
    rows[4] = "A5,farming,1,05"  # the fifth applicant, the file's sixth row counting the header
    path.write_text("id,sector,income\n" + "\n".join(rows) + "\n")
    with pytest.raises(TableReadError) as err:
        read_table(path)
    said = str(err.value)
    assert "row 6 of the file (the header is row 1) has the wrong number of fields: expected 3 columns, got 4" in said
    assert "1,05" not in said


def test_a_folder_of_monthly_csv_files_whose_column_is_whole_in_one_and_fractional_in_the_next_reads_whole(
    tmp_path: Path,
) -> None:
    (tmp_path / "2024-01.csv").write_text("id,amount\n1,200\n2,350\n")
    (tmp_path / "2024-02.csv").write_text("id,amount\n3,99.5\n4,\n")
    expected = pd.concat([pd.read_csv(f) for f in sorted(tmp_path.glob("*.csv"))], ignore_index=True)
    pd.testing.assert_frame_equal(read_table(tmp_path), expected, check_dtype=False)
    assert read_table(tmp_path)["amount"].dtype == np.float64


def test_a_folder_of_monthly_parquet_files_whose_column_is_whole_in_one_and_fractional_in_the_next_reads_whole(
    tmp_path: Path,
) -> None:
    first = pd.DataFrame({"id": [1, 2], "amount": [200, 350]})
    second = pd.DataFrame({"id": [3, 4], "amount": [99.5, None]})
    for name, part in (("month=1", first), ("month=2", second)):
        (tmp_path / name).mkdir()
        part.to_parquet(tmp_path / name / "part.parquet", index=False)
    read = read_table(tmp_path)
    assert read["amount"].tolist()[:3] == [200.0, 350.0, 99.5] and np.isnan(read["amount"].iloc[3])
    assert read["month"].tolist() == [1, 1, 2, 2]


@pytest.mark.parametrize("order", ["numbers-first", "letters-first"])
def test_ids_written_as_numbers_in_one_file_and_with_letters_in_the_next_read_as_text(
    tmp_path: Path, order: str
) -> None:
    files = {"a.csv": "id,x\n12,1\n13,2\n", "b.csv": "id,x\nC7,3\n"}
    if order == "letters-first":
        files = {"a.csv": "id,x\nC7,3\n", "b.csv": "id,x\n12,1\n13,2\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    expected = pd.concat([pd.read_csv(tmp_path / n, dtype={"id": str}) for n in sorted(files)], ignore_index=True)
    pd.testing.assert_frame_equal(read_table(tmp_path), expected, check_dtype=False)


def test_a_hive_key_with_numbers_in_one_folder_and_letters_in_another_reads_as_text(tmp_path: Path) -> None:
    for branch, ids in (("12", "1\n2\n"), ("A7", "3\n")):
        (tmp_path / f"branch={branch}").mkdir()
        (tmp_path / f"branch={branch}" / "part.csv").write_text(f"id\n{ids}")
    read = read_table(tmp_path)
    assert read["branch"].astype(str).tolist() == ["12", "12", "A7"] and read["id"].tolist() == [1, 2, 3]


def test_parquet_files_whose_column_is_categorical_in_one_and_plain_text_in_the_next_read(tmp_path: Path) -> None:
    pd.DataFrame({"id": [1, 2], "region": pd.Categorical(["north", "south"])}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"id": [3], "region": ["east"]}).to_parquet(tmp_path / "b.parquet")
    assert read_table(tmp_path)["region"].astype(str).tolist() == ["north", "south", "east"]


@pytest.mark.parametrize("end", ["\n", "\r\n", ""])
def test_a_csv_of_its_header_alone_reads_as_no_rows_with_or_without_a_line_end(tmp_path: Path, end: str) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(f"loan_id,amount,bad{end}".encode())
    table = read_table(path)
    assert list(table.columns) == ["loan_id", "amount", "bad"] and len(table) == 0


@pytest.mark.parametrize("folder", ["m=1", "m=-3", "m=01", "m=2.5", "m=abc", "m=99999999999", "m=a%20b"])
def test_a_hive_key_folder_reads_as_pyarrows_hive_partitioning_reads_it(tmp_path: Path, folder: str) -> None:
    path = tmp_path / "book" / "year=2024" / folder / "part.csv"
    path.parent.mkdir(parents=True)
    path.write_text("loan_id,amount\nL1,10\nL2,20\n")
    found = ds.dataset([str(path)], format="csv", partitioning="hive", partition_base_dir=str(tmp_path / "book"))
    pd.testing.assert_frame_equal(read_table(tmp_path / "book"), found.to_table().to_pandas())


def test_a_csv_of_its_header_alone_under_a_hive_key_folder_reads_as_no_rows(tmp_path: Path) -> None:
    (tmp_path / "book" / "m=1").mkdir(parents=True)
    (tmp_path / "book" / "m=2").mkdir(parents=True)
    (tmp_path / "book" / "m=1" / "a.csv").write_text("loan_id,amount\nL1,10\n")
    (tmp_path / "book" / "m=2" / "b.csv").write_text("loan_id,amount")
    table = read_table(tmp_path / "book")
    assert table.to_dict("list") == {"loan_id": ["L1"], "amount": [10], "m": [1]}


def stray_quote_csv(path: Path, rows: int = 60_000, at: int = 40_000) -> int:
    """A CSV of `rows` rows whose row `at` (from 0) starts with a quote it never closes; returns that row's number in
    the file."""
    lines = ["id,amount,note"] + [f"A{i:06d},{i % 97},n{i}" for i in range(rows)]
    lines[at + 1] = '"' + lines[at + 1]
    path.write_text("\n".join(lines) + "\n")
    return at + 2  # its row in the file, the header being row 1


@pytest.mark.parametrize("setting_aside", [False, True])
def test_a_csv_row_with_a_quote_left_open_is_refused_naming_it_never_read_short(
    tmp_path: Path, setting_aside: bool
) -> None:
    path = tmp_path / "book.csv"
    row = stray_quote_csv(path)
    with pytest.raises(TableReadError) as err:
        read_table_setting_aside(path, 100) if setting_aside else read_table(path)
    said = str(err.value)
    expected = "opens a quote it never closes" if setting_aside else "has the wrong number of fields"
    assert f"row {row:,} of the file" in said and expected in said


def test_a_csv_with_balanced_quotes_reads_every_row(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    pd.DataFrame({"id": [f"A{i}" for i in range(50_000)], "note": ['a "quoted", text'] * 50_000}).to_csv(path)
    assert len(read_table(path)) == 50_000


def test_a_fifo_or_device_among_a_folders_files_is_refused_naming_it_never_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "a.csv").write_text("id,x\nA1,1\n")
    os.mkfifo(folder / "b.csv")
    (folder / "c.csv").symlink_to("/dev/zero")
    with pytest.raises(TableReadError, match=r"b\.csv is a FIFO, not a file \(and 1 more\)"):
        read_table(folder)


def test_a_fifo_given_as_the_table_is_named_as_one_not_as_absent(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "book.csv")
    with pytest.raises(TableReadError, match=r"book\.csv is a FIFO, not a file"):
        read_table(tmp_path / "book.csv")


def test_a_binary_column_reads_as_text_with_a_byte_that_is_not_utf8_escaped(tmp_path: Path) -> None:
    ids = [b"A1", b"\xff\xfe", None, "Zh\u014du".encode()]
    pq.write_table(pa.table({"id": pa.array(ids, pa.binary()), "income": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "t.parquet")
    held = pq.read_table(tmp_path / "t.parquet").column("id").to_pylist()  # pyarrow's own reading: bytes
    expected = [None if b is None else b.decode("utf-8", "backslashreplace") for b in held]
    assert read_table(tmp_path / "t.parquet")["id"].tolist() == expected == ["A1", "\\xff\\xfe", None, "Zh\u014du"]


def test_a_uuid_column_reads_as_the_standard_text_of_each_uuid(tmp_path: Path) -> None:
    made = [uuid.UUID(int=0), uuid.uuid4(), None, uuid.UUID("ffffffff-0000-4000-8000-00000000abcd")]
    stored = pa.array([None if u is None else u.bytes for u in made], pa.binary(16))
    pq.write_table(pa.table({"id": pa.ExtensionArray.from_storage(pa.uuid(), stored)}), tmp_path / "t.parquet")
    held = pq.read_table(tmp_path / "t.parquet").column("id").to_pylist()  # pyarrow's own reading: uuid.UUID
    assert held == made
    assert read_table(tmp_path / "t.parquet")["id"].tolist() == [None if u is None else str(u) for u in held]


@pytest.mark.parametrize(
    ("kind", "said"),
    [("gzip", "is gzip-compressed, not CSV text"), ("zip", "is a zip file"), ("utf-16", "is UTF-16 text")],
)
def test_a_csv_that_is_compressed_a_workbook_or_utf16_is_named_as_what_it_is(
    tmp_path: Path, kind: str, said: str
) -> None:
    text = "id,amount\n" + "".join(f"A{i},{i}\n" for i in range(500))
    path = tmp_path / "book.csv"
    if kind == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("book.csv", text)
    else:
        path.write_bytes(text.encode("utf-16"))
    with pytest.raises(TableReadError, match=said):
        read_table(path)


@pytest.mark.parametrize("setting_aside", [False, True])
def test_a_quote_left_open_in_the_last_column_is_refused_naming_its_row(tmp_path: Path, setting_aside: bool) -> None:
    path = tmp_path / "book.csv"
    lines = ["id,amount,note"] + [f"A{i:06d},{i % 97},n{i}" for i in range(6_000)]
    lines[4_001] = 'A004000,12,"n4000'  # row 4,002 of the file; its count of fields is right
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TableReadError, match=r"row 4,002 of the file \(the header is row 1\) opens a quote"):
        read_table_setting_aside(path, 100) if setting_aside else read_table(path)


def test_a_row_of_the_wrong_width_with_a_closed_multi_line_field_is_set_aside_as_one_row(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text('a,b\n1,2\n3,"street 1\nflat 2",9\n4,5\n')
    table, aside = read_table_setting_aside(path, 10)
    assert len(table) == 2 and [(s.wrong.row, s.wrong.fields) for s in aside] == [(1, 3)]


def test_a_quote_inside_a_field_and_a_closed_multi_line_field_read_as_pandas_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text('a,b\n1,5" screen\n2,"street 1\nflat 2"\n')
    pd.testing.assert_frame_equal(read_table(path), pd.read_csv(path), check_dtype=False)
