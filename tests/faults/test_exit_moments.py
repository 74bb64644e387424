"""A finished command ends with its own exit code, however late in the process's exit a Ctrl-C comes: the
interpreter's teardown of its modules used to restore SIGINT's default action first, so a Ctrl-C then killed the
process, and a batch job that had written and reconciled every row ended as a silent 130."""

from __future__ import annotations

import os
import subprocess
import sys

CTRL_C_AS_THE_MODULES_ARE_TORN_DOWN = """
import atexit, os, signal, sys
from thinfile.launch import main


class LastMoment:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)


def garbage_for_the_teardown():
    moment = LastMoment()
    moment.itself = moment  # a cycle: only the collection at the teardown's start frees it


atexit.register(garbage_for_the_teardown)  # runs after the command, as the process exits
sys.argv = ["thinfile", "--help"]
main()
"""


def test_ctrl_c_while_a_finished_command_exits_leaves_its_exit_code() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CTRL_C_AS_THE_MODULES_ARE_TORN_DOWN],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    assert "Usage" in done.stdout and done.stderr == ""


def test_help_onto_a_full_disk_is_one_line_and_exit_2() -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from thinfile.launch import main; sys.argv = ['thinfile', '--help']; main()",
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: No space left on device; free some disk space and run the same command again"
    ]


def test_output_a_finished_command_could_not_write_is_the_interpreters_exit_120() -> None:
    script = (
        "import sys; from thinfile.launch import _flushed, _leave; sys.stdout.write('decided'); _leave(_flushed(0))"
    )
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-c", script],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},  # written when flushed, at the end
        )
    assert done.returncode == 120, done.stderr
