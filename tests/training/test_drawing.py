"""Plots drawn beside the logging: in another process, and complete when `wait` returns even if that process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image as mpimg
import pytest
from matplotlib.figure import Figure

from thinfile.training.reporting.drawing import Plots, can_fork, draw_pngs

pytestmark = pytest.mark.skipif(not can_fork(), reason="drawing in the background needs fork")


def _line(pid_file: Path, die_in_child: bool, parent: int) -> dict[str, Figure]:
    pid_file.write_text(str(os.getpid()))
    if die_in_child and os.getpid() != parent:
        os._exit(3)  # a killed drawing process: nothing written
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1, 2], [2, 0, 1], linewidth=4)
    return {"line.png": fig}


def test_plots_are_drawn_in_another_process_and_written_when_wait_returns(tmp_path: Path) -> None:
    pid_file, parent = tmp_path / "drawn_by", os.getpid()
    drawing = draw_pngs([Plots("plots", lambda: _line(pid_file, False, parent))], tmp_path / "run", timeout_s=60)
    paths = drawing.wait()
    assert paths == [tmp_path / "run" / "plots" / "line.png"]
    assert int(pid_file.read_text()) != os.getpid()
    assert mpimg.imread(paths[0])[..., :3].std() > 0.02  # a drawn line, not a blank file


def test_plots_a_dead_drawing_process_left_undone_are_drawn_here(tmp_path: Path) -> None:
    pid_file, parent = tmp_path / "drawn_by", os.getpid()
    drawing = draw_pngs([Plots("plots", lambda: _line(pid_file, True, parent))], tmp_path / "run", timeout_s=60)
    paths = drawing.wait()
    assert int(pid_file.read_text()) == os.getpid()
    assert [p.name for p in paths] == ["line.png"]
    assert mpimg.imread(paths[0])[..., :3].std() > 0.02


def test_plots_started_later_are_drawn_beside_the_first_and_a_dead_ones_redrawn_here(tmp_path: Path) -> None:
    first, later, parent = tmp_path / "first_by", tmp_path / "later_by", os.getpid()
    drawing = draw_pngs([Plots("early", lambda: _line(first, False, parent))], tmp_path / "run", timeout_s=60)
    drawing.start([Plots("late", lambda: _line(later, True, parent))])
    paths = drawing.wait()
    assert paths == [tmp_path / "run" / "early" / "line.png", tmp_path / "run" / "late" / "line.png"]
    assert int(first.read_text()) != parent and int(later.read_text()) == parent
    assert all(mpimg.imread(p)[..., :3].std() > 0.02 for p in paths)


def test_ctrl_c_is_left_to_the_parent_and_stop_ends_the_drawing_at_once(tmp_path: Path) -> None:
    drawing = draw_pngs([Plots("plots", lambda: time.sleep(60) or {})], tmp_path, timeout_s=60)
    (child,) = drawing.processes
    time.sleep(0.5)
    os.kill(child.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    time.sleep(0.3)
    assert child.is_alive()
    start = time.monotonic()
    drawing.stop()
    assert time.monotonic() - start < 5
    assert child.exitcode == -signal.SIGTERM


def test_a_drawing_process_that_hangs_is_ended_after_the_timeout_and_its_plots_drawn_here(tmp_path: Path) -> None:
    pid_file, parent = tmp_path / "drawn_by", os.getpid()

    def hangs_in_child() -> dict[str, Figure]:
        if os.getpid() != parent:
            time.sleep(60)
        return _line(pid_file, False, parent)

    drawing = draw_pngs([Plots("plots", hangs_in_child)], tmp_path / "run", timeout_s=1.0)
    start = time.monotonic()
    paths = drawing.wait()
    assert time.monotonic() - start < 10
    assert int(pid_file.read_text()) == parent
    assert mpimg.imread(paths[0])[..., :3].std() > 0.02


def _running(pid: int) -> bool:
    """Alive and not a zombie (a dead orphan waits for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_killed_training_process_takes_its_drawing_processes_with_it(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from thinfile.training.reporting.drawing import Plots, draw_pngs\n"
        f"d = draw_pngs([Plots('p', lambda: time.sleep(60) or {{}})], {str(tmp_path)!r}, timeout_s=60)\n"
        "print(d.processes[0].pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _running(child)
        parent.kill()  # SIGKILL: no Python cleanup runs in the parent
        parent.wait()
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(child)
