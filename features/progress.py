"""The progress bar of long row work (generating, scoring), with its rows-per-second column: averaged since the bar
started (rich's own speed estimate, from the last few updates, reads hundreds of millions of rows per second when
two updates come close together)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

RESUMED = "resumed"  # a task field: rows already done when the bar started (not counted in the rate)


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        done = task.completed - task.fields.get(RESUMED, 0)
        if not elapsed or done <= 0:
            return Text("- rows/s", style="progress.data.speed")
        return Text(f"{done / elapsed:,.0f} rows/s", style="progress.data.speed")


def rows_bar(console: Console | None, enabled: bool = True) -> Progress:
    """A bar per task: its description, rows done of all, rows per second since it started, time used and left."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        RowsPerSecond(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )
