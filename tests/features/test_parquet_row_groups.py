"""A Parquet table of many small row groups is read in memory for its rows, not for each group; a file whose footer
is over THINFILE_PARQUET_MAX_FOOTER_MB is refused before pyarrow parses it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thinfile.features.io import TableReadError, footer_bytes, read_table

GROUPS = 4_000


@pytest.mark.slow
def test_schema_infer_reads_every_row_of_one_row_groups_within_3_times_the_memory_of_one_group(
    population: pd.DataFrame, tmp_path: Path, peak_kib: Callable
) -> None:
    rows = pa.Table.from_pandas(population.head(GROUPS), preserve_index=False)
    pq.write_table(rows, tmp_path / "one.parquet")
    pq.write_table(rows, tmp_path / "many.parquet", row_group_size=1)
    peaks, outputs = {}, {}
    for name in ("one", "many"):
        cmd = [sys.executable, "-m", "thinfile.cli", "schema", "infer", f"{name}.parquet", "--target", "default_12m"]
        peaks[name], done = peak_kib(cmd)
        assert done.returncode == 0, done.stderr
        outputs[name] = done.stdout

    defaulted = pq.read_table(tmp_path / "many.parquet").column("default_12m").to_pandas().sum()
    assert pq.ParquetFile(tmp_path / "many.parquet").metadata.num_row_groups == GROUPS
    assert f"from {GROUPS:,} rows" in outputs["many"] and f"{defaulted} of {GROUPS:,} rows are 1" in outputs["many"]
    assert peaks["many"] < 3 * peaks["one"], peaks


@pytest.mark.parametrize(
    "table, group_rows",
    [
        (pa.table({"id": range(3)}), 1),
        (pa.table({f"c{i}": range(40) for i in range(30)}), 2),
        (pa.table({"id": range(0)}), 1),
        (
            pa.table(
                {
                    "nested": [{"x": i, "y": [i, None]} for i in range(20)],
                    "flags": [[True, False, None]] * 20,
                    "pairs": pa.array([[("k", i)] for i in range(20)], pa.map_(pa.string(), pa.int64())),
                }
            ),
            3,
        ),
    ],
    ids=["one column", "thirty columns", "no rows", "nested"],
)
def test_the_footer_length_read_from_a_files_end_is_the_metadata_size_pyarrow_parses(
    table: pa.Table, group_rows: int, tmp_path: Path
) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=group_rows)
    assert footer_bytes(path) == pq.ParquetFile(path).metadata.serialized_size


def test_a_file_that_does_not_end_as_parquet_has_no_footer_length(tmp_path: Path) -> None:
    (tmp_path / "t.parquet").write_bytes(b"id,income\n1,2\n")
    assert footer_bytes(tmp_path / "t.parquet") is None


def test_a_table_whose_footer_is_over_the_setting_is_refused_naming_the_file_and_saying_to_rewrite_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq.write_table(pa.table({"id": range(6)}), tmp_path / "loans.parquet", row_group_size=1)
    footer = pq.ParquetFile(tmp_path / "loans.parquet").metadata.serialized_size
    monkeypatch.setenv("THINFILE_PARQUET_MAX_FOOTER_MB", str((footer - 1) / 1e6))

    with pytest.raises(TableReadError) as refused:
        read_table(tmp_path / "loans.parquet")

    assert f"loans.parquet: its metadata (the Parquet footer) is {footer / 1e6:,.1f} MB" in str(refused.value)
    assert "rewrite it with bigger row groups" in str(refused.value)


def test_a_table_whose_footer_is_at_the_setting_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(pa.table({"id": range(6)}), tmp_path / "loans.parquet", row_group_size=1)
    footer = pq.ParquetFile(tmp_path / "loans.parquet").metadata.serialized_size
    monkeypatch.setenv("THINFILE_PARQUET_MAX_FOOTER_MB", str(footer / 1e6))

    assert read_table(tmp_path / "loans.parquet")["id"].tolist() == list(range(6))


def test_a_bad_footer_limit_is_refused_naming_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(pa.table({"id": range(6)}), tmp_path / "loans.parquet")
    monkeypatch.setenv("THINFILE_PARQUET_MAX_FOOTER_MB", "0")

    with pytest.raises(TableReadError, match="THINFILE_PARQUET_MAX_FOOTER_MB"):
        read_table(tmp_path / "loans.parquet")


def test_a_file_whose_last_bytes_state_a_footer_longer_than_itself_is_called_unreadable_not_too_big(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lie.parquet"
    pq.write_table(pa.table({"id": range(6)}), path)
    data = bytearray(path.read_bytes())
    data[-8:-4] = (4_000_000_000).to_bytes(4, "little")
    path.write_bytes(bytes(data))

    with pytest.raises(TableReadError) as refused:
        read_table(path)

    assert "bigger row groups" not in str(refused.value) and "lie.parquet" in str(refused.value)


def test_a_bad_footer_limit_is_not_blamed_on_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(pa.table({"id": range(6)}), tmp_path / "loans.parquet")
    monkeypatch.setenv("THINFILE_PARQUET_MAX_FOOTER_MB", "abc")

    with pytest.raises(TableReadError) as refused:
        read_table(tmp_path / "loans.parquet")

    assert str(refused.value).startswith("THINFILE_PARQUET_MAX_FOOTER_MB")
