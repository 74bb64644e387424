"""How the Spark engine splits a job into tasks: every pending chunk once, runs of one file, enough for the cores."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinfile.serving.batch.input import InputPart
from thinfile.serving.batch.output import chunk_name
from thinfile.serving.batch.spark_tasks import plan_runs

CHUNK = 100


def _part(name: str, rows: int) -> InputPart:
    return InputPart(path=Path(name), name=name, format="parquet", rows=rows, fingerprint="", columns=())


@pytest.mark.parametrize("slots", [1, 2, 8, 64])
def test_every_pending_chunk_is_in_exactly_one_run(slots: int) -> None:
    parts = [_part("a", 1_050), _part("b", 100), _part("c", 370)]
    done = {chunk_name(0, 3), chunk_name(2, 0)}

    runs = plan_runs(parts, done, CHUNK, slots)

    planned = [chunk_name(r.part_index, k) for r in runs for k in r.chunks]
    expected = {chunk_name(i, k) for i, rows in enumerate((1_050, 100, 370)) for k in range(-(-rows // CHUNK))}
    assert sorted(planned) == sorted(expected - done)


def test_a_single_file_is_split_into_one_run_per_core_in_order() -> None:
    runs = plan_runs([_part("book", 1_000_000)], set(), 50_000, 2)

    assert [r.chunks for r in runs] == [tuple(range(10)), tuple(range(10, 20))]


def test_small_files_are_one_run_each_even_with_more_cores() -> None:
    parts = [_part(f"f{i}", 150) for i in range(3)]

    runs = plan_runs(parts, set(), CHUNK, 64)

    assert {(r.part_index, r.chunks) for r in runs} == {(i, (k,)) for i in range(3) for k in (0, 1)}


def test_the_last_chunk_of_a_file_counts_only_its_rows() -> None:
    (run,) = plan_runs([_part("a", 250)], set(), CHUNK, 1)

    assert [run.chunk_rows(k, CHUNK) for k in run.chunks] == [100, 100, 50]


def test_a_row_group_is_shared_by_at_most_the_set_number_of_runs() -> None:
    one_group = InputPart(path=Path("a"), name="a", format="parquet", rows=1_000, fingerprint="", columns=())
    many = InputPart(path=Path("b"), name="b", format="parquet", rows=1_000, fingerprint="", columns=(), row_groups=5)

    assert len(plan_runs([one_group], set(), CHUNK, 64, per_row_group=2)) == 2
    assert len(plan_runs([many], set(), CHUNK, 64, per_row_group=2)) == 10
    assert len(plan_runs([many], set(), CHUNK, 3, per_row_group=2)) == 3
