"""PNG files drawn beside the caller's work: matplotlib rendering in a forked process while the caller logs.

Rendering a figure is single-threaded Python and Agg work that holds the GIL, so a thread cannot overlap it with
anything; a forked process can. The child inherits the figures' data (nothing is pickled), draws and saves each
PNG, and exits. `Drawing.wait()` joins it and draws in this process whatever the child did not write (a platform
without fork, a child that failed or was killed), so the files are always complete when `wait` returns.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

from matplotlib.figure import Figure

from thinfile.training.reporting.figures import save_png

Draw = Callable[[], dict[str, Figure]]


@dataclass(frozen=True)
class Plots:
    """Figures to save under `folder` (relative to the artifact folder) at `dpi`; `draw` builds them by file name."""

    folder: str
    draw: Draw
    dpi: int = 100


def _save(plots: Plots, root: Path) -> list[Path]:
    figures = plots.draw()
    folder = root / plots.folder
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return [save_png(fig, folder / name, plots.dpi) for name, fig in figures.items()]
    finally:
        for fig in figures.values():
            fig.clear()


def _child(groups: tuple[Plots, ...], root: Path) -> None:
    for plots in groups:
        _save(plots, root)


@dataclass
class Drawing:
    """Plots being drawn under `root`; `wait()` returns once every file is written."""

    root: Path
    groups: tuple[Plots, ...]
    process: BaseProcess | None = field(default=None, repr=False)

    def wait(self) -> list[Path]:
        """Join the drawing process (drawing here instead if it failed); every PNG written, by folder and name."""
        if self.process is not None:
            try:
                self.process.join()
            finally:
                if self.process.is_alive():
                    self.process.terminate()
                    self.process.join()
            if self.process.exitcode != 0:
                _child(self.groups, self.root)
            self.process = None
        return [p for plots in self.groups for p in sorted((self.root / plots.folder).glob("*.png"))]


def can_fork() -> bool:
    return os.name == "posix" and "fork" in multiprocessing.get_all_start_methods()


def draw_pngs(groups: tuple[Plots, ...] | list[Plots], root: str | Path, *, background: bool = True) -> Drawing:
    """Start drawing `groups` under `root`: in a forked process when `background` and the platform can fork,
    else here before returning."""
    root, groups = Path(root), tuple(groups)
    if not background or not can_fork() or not groups:
        _child(groups, root)
        return Drawing(root, groups)
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(groups, root), name="thinfile-plots", daemon=True
    )
    process.start()
    return Drawing(root, groups, process)
