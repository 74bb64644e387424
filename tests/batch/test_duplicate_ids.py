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
