"""Every input row is found again by its file and row number: in the scores or in the rejects, once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from thinfile.features.schema import Schema
from thinfile.serving.batch import batch_score


@pytest.mark.parametrize("workers", [1, 2])
def test_scores_and_rejects_name_each_input_row_once_by_file_and_row(
    book: pd.DataFrame, scorer_dir: Path, schema: Schema, tmp_path: Path, workers: int
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    first, second = book.iloc[:1_300].copy(), book.iloc[1_300:2_000].reset_index(drop=True)
    bounded = next(f for f in schema.features if f.max is not None)
    first.loc[[4, 777], bounded.name] = bounded.max * 10 + 1
    first[schema.id_column] = first[schema.id_column].astype(str)
    first.loc[900, schema.id_column] = first.loc[5, schema.id_column]  # an id that repeats
    first.to_parquet(folder / "a.parquet", row_group_size=500)
    second.to_csv(folder / "b.csv", index=False)

    batch_score(folder, tmp_path / "out", scorer_dir, chunk_rows=400, workers=workers)
    scores = pd.read_parquet(tmp_path / "out" / "scores")
    rejects = pd.read_parquet(tmp_path / "out" / "rejects")

    found = pd.concat([scores[["source", "row"]], rejects[["source", "row"]]], ignore_index=True)
    assert not found.duplicated().any() and len(found) == 2_000
    assert sorted(rejects["row"]) == [4, 777] and set(rejects["source"]) == {"a.parquet"}
    expected = {("a.parquet", i): str(v) for i, v in enumerate(first[schema.id_column])}
    expected |= {("b.csv", i): str(v) for i, v in enumerate(second[schema.id_column])}
    assert {(s, r): i for s, r, i in zip(scores["source"], scores["row"], scores[schema.id_column])} == {
        k: v for k, v in expected.items() if k not in {("a.parquet", 4), ("a.parquet", 777)}
    }
