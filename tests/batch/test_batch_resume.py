"""A job killed with SIGKILL mid-way and run again gives exactly the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from thinfile.features.schema import Schema
from thinfile.serving.batch import batch_score
from thinfile.serving.batch.output import LOCK

JOB = """
from thinfile.serving.batch import batch_score
batch_score({source!r}, {out!r}, {model!r}, chunk_rows=250, workers=2)
"""


def _kill_when_parts_appear(cmd: list[str], scores: Path, env: dict, at_least: int = 3, timeout: float = 120) -> int:
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if scores.is_dir() and len(list(scores.glob("part-*.parquet"))) >= at_least:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.returncode


@pytest.mark.slow
def test_sigkill_then_rerun_equals_uninterrupted_run(
    book: pd.DataFrame, scorer_dir: Path, schema: Schema, tmp_path: Path, read_scores
) -> None:
    source = tmp_path / "book.parquet"
    book.to_parquet(source, row_group_size=1_000)
    out = tmp_path / "killed"
    code = _kill_when_parts_appear(
        [sys.executable, "-c", JOB.format(source=str(source), out=str(out), model=str(scorer_dir))],
        out / "scores",
        dict(os.environ),
    )
    assert code == -signal.SIGKILL
    done_before = len(list((out / "scores").glob("part-*.parquet")))
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"] and 3 <= done_before < len(book) // 250

    resumed = batch_score(source, out, scorer_dir, chunk_rows=250, workers=1)
    whole = batch_score(source, tmp_path / "whole", scorer_dir, chunk_rows=250, workers=1)

    assert resumed.chunks_skipped >= done_before and resumed.chunks == whole.chunks == len(book) // 250
    assert (resumed.rows_in, resumed.scored, resumed.rejected) == (whole.rows_in, whole.scored, whole.rejected)
    a, b = read_scores(out, schema.id_column), read_scores(tmp_path / "whole", schema.id_column)
    assert a[schema.id_column].is_unique and len(a) == len(book)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not list(out.rglob(".*.tmp-*"))
    assert not (out / LOCK).exists()  # the killed job's lock, taken over by the rerun and removed at its end
    assert resumed.report["score"] == whole.report["score"] and resumed.report["stability"] == whole.report["stability"]


def test_a_rerun_counts_runs_and_keeps_the_start_time(book: pd.DataFrame, scorer_dir: Path, tmp_path: Path) -> None:
    source, out = tmp_path / "book.parquet", tmp_path / "out"
    book.head(500).to_parquet(source)
    batch_score(source, out, scorer_dir, chunk_rows=250, workers=1)
    first = json.loads((out / "manifest.json").read_text())
    (out / "scores" / "part-00000-00001.parquet").unlink()  # a part to score again: a complete job is left as is
    time.sleep(1.1)  # `started` has one-second resolution
    batch_score(source, out, scorer_dir, chunk_rows=250, workers=1)
    second = json.loads((out / "manifest.json").read_text())
    assert (first["runs"], second["runs"]) == (1, 2)
    assert second["started"] == first["started"] and second["finished"] > first["finished"]


def test_a_finished_job_leaves_no_lock_and_the_folder_can_be_taken_again(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    source, out = tmp_path / "book.parquet", tmp_path / "out"
    book.head(300).to_parquet(source)
    batch_score(source, out, scorer_dir, workers=1)
    assert not (out / LOCK).exists()
    (out / LOCK).write_text("pid 1 on elsewhere, since long ago")  # a lock file nobody holds (a killed job's)
    assert batch_score(source, out, scorer_dir, workers=1).rows_in == 300
    assert not (out / LOCK).exists()
