"""Ctrl-C during `thinfile train` at the moments that used to go wrong ends it the same way as at any other: one
line, exit code 130, no traceback, its MLflow runs ended (not RUNNING) and its scratch folders removed, promptly.

Each case runs the console entry point (`thinfile.launch.main`) in a session of its own and sends SIGINT to the
whole process group, as a terminal's Ctrl-C does, at one exact moment:

- in this process's own callbacks of a fork that starts a plot-drawing process (they swallowed the KeyboardInterrupt:
  the train went on and ended 0);
- just after such a fork, sent from the new process (it and the train receive it at once);
- while a thread pool of MLflow starts its first worker (the worker, never told to stop, held the interpreter's exit
  for ever after the one line was said).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from servers import run_in_own_session

from thinfile.commands.common import STOPPED

PARENT_FORK_CALLBACK = """
import os, signal
fired = []
def ctrl_c():
    if not fired:
        fired.append(1)
        os.killpg(0, signal.SIGINT)
os.register_at_fork(after_in_parent=ctrl_c)
"""

FROM_THE_NEW_PROCESS = """
import os, signal
os.register_at_fork(after_in_child=lambda: os.killpg(0, signal.SIGINT))
"""

POOL_WORKER_STARTING = """
import concurrent.futures.thread, os, signal, threading
start_new_thread, fired = threading._start_new_thread, []
def starting(function, args, *rest):
    started = start_new_thread(function, args, *rest)
    thread = getattr(function, "__self__", None)
    target = getattr(thread, "_target", None)
    if not fired and target is concurrent.futures.thread._worker and thread.name.startswith("Mlflow"):
        fired.append(1)
        os.killpg(0, signal.SIGINT)
    return started
threading._start_new_thread = starting
"""

RUN = """
import sys
from thinfile.launch import main
sys.argv[0] = "thinfile"
main()
"""

MOMENTS = {
    "in-the-fork-callbacks": PARENT_FORK_CALLBACK,
    "just-after-a-fork": FROM_THE_NEW_PROCESS,
    "while-a-pool-worker-starts": POOL_WORKER_STARTING,
}


@pytest.fixture(scope="module")
def book(population: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("interrupt") / "book.parquet"
    population.iloc[:6_000].to_parquet(path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_at_this_moment_says_one_line_ends_its_run_and_removes_its_scratch(
    moment: str, book: Path, tmp_path: Path
) -> None:
    scratch, home = tmp_path / "tmp", tmp_path / "home"
    scratch.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(scratch),
        "THINFILE_HOME": str(home),
        "THINFILE_EVALUATION__PLOT_ROWS": "2000",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    command = ["train", "--data", str(book), "--no-baselines", "--no-tune"]
    script = MOMENTS[moment] + RUN
    code, out, err = run_in_own_session(script, command, env, f"train ({moment})")
    said = out + err
    assert code == 130, said[-3000:]
    errors = [line for line in said.splitlines() if "error:" in line]
    assert errors == [f"error: interrupted {STOPPED}"]
    assert "Traceback" not in said and "Exception ignored" not in said and "KeyboardInterrupt" not in said
    assert sorted(p.name for p in scratch.iterdir()) == []
    database = home / "mlruns" / "mlflow.db"
    if database.exists():
        with sqlite3.connect(database) as db:
            statuses = [status for (status,) in db.execute("select status from runs")]
        assert "RUNNING" not in statuses and "FINISHED" not in statuses
