"""Ctrl-C while `thinfile loop` logs a method's champion: one line, exit code 130, no traceback, and the run it leaves
says whose it is (the loop, the method, the generation) and ended KILLED. It used to be a FAILED run named
`champion`: the loop named and tagged its runs only once `train_frame` had returned, and MLflow's `with` ends FAILED
a run that a KeyboardInterrupt leaves.

The console entry point runs in a session of its own and sends SIGINT to its whole process group, as a terminal's
Ctrl-C does, as the first run's parameters are logged (the run is open, its model not yet logged).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from servers import run_in_own_session

from thinfile.commands.common import STOPPED
from thinfile.training.loop import GENERATION_TAG, LOOP_TAG, ROLE_TAG
from thinfile.training.tracking import ENDED_TAG

CTRL_C_IN_THE_FIRST_RUN = """
import os, signal, sys
import mlflow
log_params = mlflow.log_params
def ctrl_c(*args, **kwargs):
    log_params(*args, **kwargs)
    print("ctrl-c sent", file=sys.stderr, flush=True)
    os.killpg(0, signal.SIGINT)
mlflow.log_params = ctrl_c
from thinfile.launch import main
sys.argv[0] = "thinfile"
main()
"""


@pytest.mark.slow
def test_ctrl_c_in_a_loop_s_run_leaves_it_killed_and_named_for_the_loop(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "THINFILE_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = ["loop", "-n", "2000", "--methods", "none", "-g", "0", "--explore-shares", "", "-o", str(tmp_path)]
    code, out, err = run_in_own_session(CTRL_C_IN_THE_FIRST_RUN, command, env, "the loop")
    said = out + err
    assert "ctrl-c sent" in err, said[-3000:]
    assert code == 130, said[-3000:]
    assert [line for line in said.splitlines() if "error:" in line] == [f"error: interrupted {STOPPED}"]
    assert "Traceback" not in said and "KeyboardInterrupt" not in said
    with sqlite3.connect(home / "mlruns" / "mlflow.db") as db:
        runs = db.execute("select run_uuid, name, status from runs").fetchall()
        assert len(runs) == 1, runs
        run_id, name, status = runs[0]
        tags = dict(db.execute("select key, value from tags where run_uuid = ?", (run_id,)).fetchall())
    assert status == "KILLED"
    assert name == f"loop {tags[LOOP_TAG][:8]}: none"
    assert (tags[ROLE_TAG], tags[GENERATION_TAG]) == ("floor", "1")
    assert "stopped (Ctrl-C or SIGTERM)" in tags[ENDED_TAG]
