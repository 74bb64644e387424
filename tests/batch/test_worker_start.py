"""Scoring workers start ready, and only when a job has work for them.

What every worker would load on its own is loaded once, by their fork server; the fork server starts only for a job
with chunks left to score and more than one worker.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from thinfile.serving.batch.embedded import worker_context

_COMPILED_IN_THIS_PROCESS = (
    "len(__import__('thinfile.training.scorer.treeshap', fromlist=['_']).__dict__['_leaf_table'].overloads)"
)

_JOB_THEN_FORK_SERVER = """
import sys
from multiprocessing import forkserver
from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer

book, out, scorer, workers = sys.argv[1:]
batch_score(book, out, Scorer.load(scorer), workers=int(workers), chunk_rows=100)
print(forkserver._forkserver._forkserver_pid is not None)
"""


def test_a_worker_starts_with_numba_set_up_by_its_fork_server() -> None:
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        assert pool.submit(eval, _COMPILED_IN_THIS_PROCESS).result() > 0


def _fork_server_started(book: Path, out: Path, scorer_dir: Path, workers: int) -> bool:
    """Run one job in a fresh interpreter (the fork server is one per process) and say whether it started one."""
    args = [sys.executable, "-c", _JOB_THEN_FORK_SERVER, str(book), str(out), str(scorer_dir), str(workers)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1] == "True"


@pytest.mark.slow
def test_the_fork_server_starts_only_for_a_job_with_chunks_left_and_several_workers(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    book.head(300).to_parquet(tmp_path / "book.parquet")
    started = {
        "two workers": _fork_server_started(tmp_path / "book.parquet", tmp_path / "a", scorer_dir, 2),
        "two workers, nothing left": _fork_server_started(tmp_path / "book.parquet", tmp_path / "a", scorer_dir, 2),
        "one worker": _fork_server_started(tmp_path / "book.parquet", tmp_path / "b", scorer_dir, 1),
    }
    assert started == {"two workers": True, "two workers, nothing left": False, "one worker": False}
