"""What a stopped job says it leaves: the finished parts on disk, or that nothing was finished."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from thinfile.serving.batch import kept_parts


def test_a_job_stopped_before_any_part_says_nothing_was_finished(tmp_path: Path) -> None:
    (tmp_path / "out" / "scores").mkdir(parents=True)

    assert kept_parts(tmp_path / "out") == "no part was finished; rerun the same command to start again"
    assert kept_parts(tmp_path / "never-created") == "no part was finished; rerun the same command to start again"


def test_a_job_stopped_part_way_counts_the_parts_on_disk(tmp_path: Path) -> None:
    scores = tmp_path / "out" / "scores"
    scores.mkdir(parents=True)
    for k in range(3):
        pd.DataFrame({"id": [k]}).to_parquet(scores / f"part-00000-{k:05d}.parquet")
    (scores / ".part-00000-00003.parquet.tmp-1").write_bytes(b"half")

    assert kept_parts(tmp_path / "out") == "3 finished parts are kept, rerun the same command to resume"
