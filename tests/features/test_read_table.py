"""Reading a lender's file for training and schema work: what counts as missing agrees with pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from thinfile.features.io import read_table


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
