"""Scoring workers start ready, light, and only when a job has work for them.

What every worker would load on its own is loaded once, by their fork server; a worker that explains from the tables
never imports LightGBM; the fork server starts only for a job with more chunks left to score than
`BatchSettings.in_process_chunks` and more than one worker.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from thinfile.serving.batch import BatchSettings, model_tag
from thinfile.serving.batch.embedded import worker_context
from thinfile.serving.batch.output import OutputLayout
from thinfile.serving.batch.worker import init_worker, score_task
from thinfile.training.scorer.artefact import DeferredBooster, Scorer
from thinfile.training.scorer.treeshap import ExplainEngineConfig

_COMPILED_IN_THIS_PROCESS = (
    "len(__import__('thinfile.training.scorer.treeshap', fromlist=['_']).__dict__['_leaf_table'].overloads)"
)

_JOB_THEN_FORK_SERVER = """
import sys
from multiprocessing import forkserver
from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import DeferredBooster, Scorer

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
    few = BatchSettings().in_process_chunks
    book.head(100 * (few + 1)).to_parquet(tmp_path / "book.parquet")  # chunks of 100 rows
    book.head(100 * few).to_parquet(tmp_path / "few-chunks.parquet")
    started = {
        "two workers": _fork_server_started(tmp_path / "book.parquet", tmp_path / "a", scorer_dir, 2),
        "two workers, nothing left": _fork_server_started(tmp_path / "book.parquet", tmp_path / "a", scorer_dir, 2),
        "one worker": _fork_server_started(tmp_path / "book.parquet", tmp_path / "b", scorer_dir, 1),
        "two workers, few chunks": _fork_server_started(tmp_path / "few-chunks.parquet", tmp_path / "c", scorer_dir, 2),
    }
    assert started == {
        "two workers": True,
        "two workers, nothing left": False,
        "one worker": False,
        "two workers, few chunks": False,
    }


_LIGHTGBM_IMPORTED = "'lightgbm' in __import__('sys').modules"


def test_a_worker_scores_a_chunk_without_importing_lightgbm(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    layout = OutputLayout(tmp_path)
    layout.scores.mkdir()
    layout.rejects.mkdir()
    setup = (os.getpid(), scorer.pickled_for_workers(), model_tag(scorer), BatchSettings(), layout, 1)
    table = pa.Table.from_pandas(book.head(500), preserve_index=False)
    with ProcessPoolExecutor(1, mp_context=worker_context(), initializer=init_worker, initargs=setup) as pool:
        name, footer = pool.submit(score_task, "part-00000-00000", "book", 0, {}, table).result()
        imported = pool.submit(eval, _LIGHTGBM_IMPORTED).result()
    assert footer["counts"]["rows_in"] == 500 and layout.scores_part(name).is_file()
    assert imported is False


def test_a_scorer_pickled_for_workers_explains_as_the_scorer_where_lightgbm_explains_some_trees(
    book: pd.DataFrame, scorer: Scorer
) -> None:
    partly = replace(scorer, engine=ExplainEngineConfig(max_total_entries=20_000, max_lightgbm_runs=100))
    assert partly.tables is not None and partly.tables.lightgbm_runs
    X = scorer.matrix(book.head(300))

    unpickled = pickle.loads(partly.pickled_for_workers())

    assert isinstance(unpickled.booster, DeferredBooster)
    np.testing.assert_array_equal(unpickled.contributions(X), partly.contributions(X))
    np.testing.assert_allclose(unpickled.contributions(X), scorer.contributions(X, exact_engine="lightgbm"), atol=1e-12)
