"""Scoring workers start ready, light, and only when a job has work for them.

What every worker would load on its own is loaded once, by their fork server; a worker that explains from the tables
never imports LightGBM, nor does the job's own process (nor scikit-learn or fairlearn: the training side); the fork
server starts only for a job with more than one chunk left to score and more than one worker, and, unless workers were
asked for, more rows left than `BatchSettings.in_process_rows`.
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
from thinfile.serving.batch.job import default_workers
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
from thinfile.serving.batch import BatchSettings, batch_score
from thinfile.training.scorer.artefact import DeferredBooster, Scorer

book, out, scorer, workers, in_process_rows = sys.argv[1:]
settings = BatchSettings(in_process_rows=int(in_process_rows)) if in_process_rows else BatchSettings()
batch_score(book, out, Scorer.load(scorer), workers=int(workers) or None, chunk_rows=100, settings=settings)
print(forkserver._forkserver._forkserver_pid is not None)
"""


def test_a_worker_starts_with_numba_set_up_by_its_fork_server() -> None:
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        assert pool.submit(eval, _COMPILED_IN_THIS_PROCESS).result() > 0


def _fork_server_started(book: Path, out: Path, scorer_dir: Path, workers: int, in_process_rows: str = "") -> bool:
    """Run one job in a fresh interpreter (the fork server is one per process) and say whether it started one;
    `workers` 0: not given (one per core)."""
    args = [sys.executable, "-c", _JOB_THEN_FORK_SERVER, str(book), str(out), str(scorer_dir), str(workers)]
    args.append(in_process_rows)
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1] == "True"


@pytest.mark.slow
def test_the_fork_server_starts_only_for_a_job_with_chunks_left_and_several_workers(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    book.head(300).to_parquet(tmp_path / "book.parquet")  # 3 chunks of 100 rows
    book.head(100).to_parquet(tmp_path / "one-chunk.parquet")
    assert BatchSettings().in_process_rows >= 300
    started = {
        "two workers": _fork_server_started(tmp_path / "book.parquet", tmp_path / "a", scorer_dir, 2),
        "two workers, nothing left": _fork_server_started(tmp_path / "book.parquet", tmp_path / "a", scorer_dir, 2),
        "one worker": _fork_server_started(tmp_path / "book.parquet", tmp_path / "b", scorer_dir, 1),
        "two workers, one chunk": _fork_server_started(tmp_path / "one-chunk.parquet", tmp_path / "c", scorer_dir, 2),
        "workers not given, a small book": _fork_server_started(
            tmp_path / "book.parquet", tmp_path / "d", scorer_dir, 0
        ),
        "workers not given, a book over in_process_rows": _fork_server_started(
            tmp_path / "book.parquet", tmp_path / "e", scorer_dir, 0, "250"
        ),
    }
    assert started == {
        "two workers": True,
        "two workers, nothing left": False,
        "one worker": False,
        "two workers, one chunk": False,
        "workers not given, a small book": False,
        "workers not given, a book over in_process_rows": default_workers() > 1,
    }


_LIGHTGBM_IMPORTED = "'lightgbm' in __import__('sys').modules"

_JOB_THEN_TRAINING_SIDE = """
import sys
from thinfile.serving.batch import batch_score

book, out, scorer = sys.argv[1:]
result = batch_score(book, out, scorer, workers=1)
print(result.scored, *sorted(m for m in ("lightgbm", "sklearn", "fairlearn") if m in sys.modules))
"""


def test_a_job_from_a_saved_scorer_imports_neither_lightgbm_nor_the_training_side(
    book: pd.DataFrame, scorer_dir: Path, tmp_path: Path
) -> None:
    book.head(300).to_parquet(tmp_path / "book.parquet")
    args = [sys.executable, "-c", _JOB_THEN_TRAINING_SIDE, str(tmp_path / "book.parquet"), str(tmp_path / "out")]
    done = subprocess.run([*args, str(scorer_dir)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["300"]


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
