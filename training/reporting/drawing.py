"""PNG files drawn beside the caller's work: matplotlib rendering in forked processes while the caller logs.

Rendering a figure is single-threaded Python and Agg work that holds the GIL, so a thread cannot overlap it with
anything; a forked process can. Each group of plots gets a child that inherits the figures' data (nothing is
pickled), draws and saves its PNGs, and exits. `Drawing.wait()` joins them and draws in this process whatever a
child did not write (a platform without fork, a child that failed or was killed), so the files are complete when
`wait` returns.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from matplotlib.figure import Figure

from thinfile.features.lifetime import die_with_parent
from thinfile.training.reporting.figures import png_fonts, warn_missing_glyphs, write_png

Draw = Callable[[], dict[str, Figure]]


@dataclass(frozen=True)
class Plots:
    """Figures to save under `folder` (relative to the artifact folder) at `dpi`; `draw` builds them by file name."""

    folder: str
    draw: Draw
    dpi: int = 100


def _save(plots: Plots, root: Path) -> str:
    with png_fonts():
        figures = plots.draw()
    folder = root / plots.folder
    folder.mkdir(parents=True, exist_ok=True)
    missing = ""
    try:
        for name, fig in figures.items():
            missing += write_png(fig, folder / name, plots.dpi)
    finally:
        for fig in figures.values():
            fig.clear()
    return missing


def _draw_all(groups: tuple[Plots, ...], root: Path) -> str:
    """Draw and save every group; the characters no installed font has, each once."""
    return "".join(dict.fromkeys("".join(_save(plots, root) for plots in groups)))


def _draw_in_child(groups: tuple[Plots, ...], root: Path, parent: int, report: Connection) -> None:
    """A drawing process leaves Ctrl-C to its parent (which stops it) and ends quietly when terminated. It writes
    to the process's own stdout and stderr: a progress display's stand-ins (rich's, say) hold locks another of
    the parent's threads may have held at the fork."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(signal.SIGTERM, parent)  # a killed job leaves no drawer (Linux)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    report.send(_draw_all(groups, root))


@dataclass
class Drawing:
    """Plots being drawn under `root`, a process per group; `wait()` returns once every file is written, and warns
    once of the characters no installed font has (rather than once per figure or process)."""

    root: Path
    timeout_s: float
    groups: tuple[Plots, ...] = ()
    processes: tuple[BaseProcess, ...] = field(default=(), repr=False)
    forked: tuple[Plots, ...] = field(default=(), repr=False)
    """the group each process draws"""
    reports: tuple[Connection, ...] = field(default=(), repr=False)
    missing: str = ""

    def start(self, groups: tuple[Plots, ...] | list[Plots], background: bool = True) -> Drawing:
        """Start drawing `groups` too: each in a forked process when `background` and the platform can fork (the
        caller goes on with its own work on the other core), else here before returning. Returns itself."""
        groups = tuple(groups)
        self.groups += groups
        if not background or not can_fork():
            self.missing += _draw_all(groups, self.root)
            return self
        fork, me = multiprocessing.get_context("fork"), os.getpid()
        pipes = [fork.Pipe(duplex=False) for _ in groups]
        gc.freeze()  # the children's collections leave this process's objects alone: no copy-on-write of its heap
        try:
            for plots, (receive, send) in zip(groups, pipes):
                process = fork.Process(
                    target=_draw_in_child,
                    args=((plots,), self.root, me, send),
                    name=f"thinfile-plots-{plots.folder}",
                    daemon=True,
                )
                process.start()
                self.processes += (process,)
                self.forked += (plots,)
                self.reports += (receive,)
        finally:
            gc.unfreeze()
            for _, send in pipes:
                send.close()
        return self

    def stop(self) -> None:
        """Stop drawing now (the caller failed or was interrupted): end the processes, leave the files as they are."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join()
        self.processes, self.forked = (), ()
        self._close_reports()

    def _close_reports(self) -> None:
        for report in self.reports:
            report.close()
        self.reports = ()

    def wait(self) -> list[Path]:
        """Join the drawing processes (drawing here what a failed one left undone); every PNG, by folder and name."""
        deadline = time.monotonic() + self.timeout_s
        try:
            for process in self.processes:
                process.join(max(deadline - time.monotonic(), 0.0))
        finally:
            for process in self.processes:
                if process.is_alive():
                    process.terminate()
                    process.join()
        failed = tuple(plots for plots, process in zip(self.forked, self.processes) if process.exitcode != 0)
        missing = [self.missing]
        for process, report in zip(self.processes, self.reports):
            if process.exitcode == 0 and report.poll():
                missing.append(report.recv())
        self.processes, self.forked = (), ()
        self._close_reports()
        missing.append(_draw_all(failed, self.root))
        self.missing = ""
        warn_missing_glyphs("".join(dict.fromkeys("".join(missing))), stacklevel=2)
        folders = dict.fromkeys(self.root / plots.folder for plots in self.groups)
        return [p for folder in folders for p in sorted(folder.glob("*.png"))]


def can_fork() -> bool:
    return os.name == "posix" and "fork" in multiprocessing.get_all_start_methods()


def draw_pngs(
    groups: tuple[Plots, ...] | list[Plots], root: str | Path, *, timeout_s: float, background: bool = True
) -> Drawing:
    """Start drawing `groups` under `root` (see `Drawing.start`). A process still drawing `timeout_s` after the
    caller starts waiting is ended and its plots drawn in the caller."""
    return Drawing(Path(root), timeout_s).start(groups, background)
