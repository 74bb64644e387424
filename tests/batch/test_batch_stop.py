"""A stop request the job sees as parts are committed: a signal whose exception Python swallowed still stops it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from thinfile.commands.batch import StopSignals, Terminated
from thinfile.commands.common import guarded
from thinfile.features.schema import Schema
from thinfile.serving.batch import batch_score


def test_a_signal_whose_exception_was_swallowed_is_raised_again_by_check() -> None:
    with StopSignals() as signals:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except Terminated:
            pass  # what Python does with an exception raised inside a weakref or ctypes callback
        with pytest.raises(Terminated):
            signals.check()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stop_request_ends_the_job_after_the_part_in_hand_and_the_rerun_finishes_it(
    book: pd.DataFrame, scorer_dir: Path, schema: Schema, tmp_path: Path, workers: int, read_scores
) -> None:
    source, out = tmp_path / "book.parquet", tmp_path / "out"
    book.to_parquet(source, row_group_size=500)
    parts = []

    def stop_after_two() -> None:
        parts.append(1)
        if len(parts) >= 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch_score(source, out, scorer_dir, chunk_rows=500, workers=workers, stop=stop_after_two)
    kept = sorted(p.name for p in (out / "scores").glob("part-*.parquet"))
    assert 2 <= len(kept) < len(book) // 500

    result = batch_score(source, out, scorer_dir, chunk_rows=500, workers=1)
    assert result.chunks_skipped >= 2 and result.rows_in == len(book) == result.scored + result.rejected
    assert set(read_scores(out, schema.id_column)[schema.id_column]) == set(book[schema.id_column].astype(str))


def test_ctrl_c_inside_a_library_that_wraps_it_in_its_own_error_is_one_line_and_exit_130() -> None:
    def importing() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as err:
            raise RuntimeError("schema generation failed") from err  # as pydantic does mid-import

    app = typer.Typer()
    app.command()(guarded(importing))
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 130 and "interrupted" in result.output and "Traceback" not in result.output
