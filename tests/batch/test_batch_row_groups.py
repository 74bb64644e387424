"""A Parquet file of many small row groups is scored in memory for its rows, not for each group; a file of more
footer than THINFILE_PARQUET_MAX_FOOTER_MB is refused before its footer is parsed."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from thinfile.features.schema import Schema
from thinfile.serving.batch.input import BatchInputError, inspect_input

GROUPS = 4_000


@pytest.mark.slow
def test_a_file_of_one_row_groups_is_scored_every_row_within_1_7_times_the_memory_of_one_group(
    book: pd.DataFrame, scorer_dir: Path, schema: Schema, tmp_path: Path, peak_kib: Callable
) -> None:
    rows = pa.Table.from_pandas(book.head(GROUPS), preserve_index=False)
    pq.write_table(rows, tmp_path / "one.parquet")
    pq.write_table(rows, tmp_path / "many.parquet", row_group_size=1)
    peaks = {}
    for name in ("one", "many"):
        source, out = tmp_path / f"{name}.parquet", tmp_path / f"out-{name}"
        peaks[name], done = peak_kib(
            [sys.executable, "-m", "thinfile.cli", "batch-score", str(source), str(out), "--model", str(scorer_dir)]
        )
        assert done.returncode == 0, done.stderr

    out = tmp_path / "out-many"
    scored = ds.dataset(out / "scores").to_table(columns=[schema.id_column]).column(0).to_pylist()
    rejected = ds.dataset(out / "rejects").to_table(columns=["id"]).column(0).to_pylist()
    assert pq.ParquetFile(tmp_path / "many.parquet").metadata.num_row_groups == GROUPS
    assert sorted(map(str, scored + rejected)) == sorted(map(str, rows.column(schema.id_column).to_pylist()))
    assert peaks["many"] < 1.7 * peaks["one"], peaks


def test_a_file_whose_footer_is_over_the_setting_is_refused_naming_it_and_saying_to_rewrite_it(
    book: pd.DataFrame, schema: Schema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pq.write_table(
        pa.Table.from_pandas(book.head(6), preserve_index=False), tmp_path / "book.parquet", row_group_size=1
    )
    footer = pq.ParquetFile(tmp_path / "book.parquet").metadata.serialized_size
    monkeypatch.setenv("THINFILE_PARQUET_MAX_FOOTER_MB", str((footer - 1) / 1e6))

    with pytest.raises(BatchInputError) as refused:
        inspect_input(tmp_path / "book.parquet", schema)

    assert "book.parquet: its metadata (the Parquet footer) is" in str(refused.value)
    assert "rewrite it with bigger row groups" in str(refused.value)
