"""The duplicate-id count of a job's output, against pandas' value_counts over the same ids."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.serving.batch.output import OutputLayout, duplicate_ids

ids = st.one_of(st.none(), st.just(""), st.text("aé", min_size=1, max_size=3))
parts = st.lists(st.lists(ids, max_size=12), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(scored=parts, rejected=parts, shown=st.integers(0, 3))
def test_duplicate_ids_count_what_pandas_counts_across_scores_and_rejects(
    scored: list[list[str | None]], rejected: list[list[str | None]], shown: int, tmp_path_factory
) -> None:
    layout = OutputLayout(tmp_path_factory.mktemp("out"))
    for folder, column, chunks in ((layout.scores, "applicant_id", scored), (layout.rejects, "id", rejected)):
        folder.mkdir(parents=True)
        for i, chunk in enumerate(chunks):
            pq.write_table(pa.table({column: pa.array(chunk, pa.string())}), folder / f"part-{i}.parquet")

    every = pd.Series([i for chunks in (scored, rejected) for chunk in chunks for i in chunk], dtype=object)
    counts = every[every.notna() & (every != "")].value_counts()
    repeated = counts[counts > 1]
    assert duplicate_ids(layout, "applicant_id", shown) == {
        "ids": len(repeated),
        "rows": int(repeated.sum()),
        "first": sorted(repeated.index)[:shown],
    }


def test_a_file_dropped_into_the_output_folders_is_not_counted_as_the_jobs(tmp_path) -> None:
    layout = OutputLayout(tmp_path / "out")
    layout.scores.mkdir(parents=True)
    layout.rejects.mkdir(parents=True)
    pq.write_table(pa.table({"applicant_id": ["a", "b", "b"]}), layout.scores / "part-00000-00000.parquet")
    pq.write_table(pa.table({"applicant_id": ["a", "c"]}), layout.scores / "extra.parquet")
    pq.write_table(pa.table({"id": pa.array([], pa.string())}), layout.rejects / "empty.parquet")
    assert duplicate_ids(layout, "applicant_id") == {"ids": 1, "rows": 2, "first": ["b"]}


def test_a_long_repeated_id_is_named_by_its_first_characters_as_a_rejected_value_is(tmp_path) -> None:
    layout = OutputLayout(tmp_path / "out")
    layout.scores.mkdir(parents=True)
    long_ids = ["é" * 50_000, "b" * 41, "c" * 40]
    pq.write_table(pa.table({"applicant_id": long_ids * 2}), layout.scores / "part-00000-00000.parquet")
    assert duplicate_ids(layout, "applicant_id") == {
        "ids": 3,
        "rows": 6,
        "first": ["b" * 37 + "...", "c" * 40, "é" * 37 + "..."],
    }
