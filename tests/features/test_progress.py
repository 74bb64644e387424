"""The rows-per-second column reads the average since the bar started, not the last two updates' burst."""

from __future__ import annotations

from rich.progress import Progress

from thinfile.features.progress import RESUMED, RowsPerSecond


def _rate_after(updates: list[tuple[float, int]], **fields: int) -> str:
    now = [0.0]
    progress = Progress(RowsPerSecond(), get_time=lambda: now[0], disable=True)
    task_id = progress.add_task("rows", total=10_000, completed=fields.get(RESUMED, 0), **fields)
    for at, rows in updates:
        now[0] = at
        progress.advance(task_id, rows)
    return RowsPerSecond().render(progress.tasks[0]).plain


def test_two_updates_close_together_read_the_average_since_the_start() -> None:
    assert _rate_after([(10.0, 100), (10.000001, 100)]) == "20 rows/s"


def test_rows_done_before_a_resume_are_not_counted_as_speed() -> None:
    assert _rate_after([(4.0, 400)], **{RESUMED: 5_000}) == "100 rows/s"


def test_nothing_done_yet_reads_a_dash() -> None:
    assert _rate_after([]) == "- rows/s"
