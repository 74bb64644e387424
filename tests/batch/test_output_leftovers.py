"""The output folder after a failed write: no temporary file is left, and a rerun clears a dead job's first.

A full disk is simulated by making a write raise ENOSPC after it has put bytes in its temporary file; the
judge is the folder's listing.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thinfile.serving.batch import batch_score, output
from thinfile.serving.batch.output import (
    LOCK,
    BatchOutputError,
    OutputLayout,
    new_manifest,
    open_output,
    write_json_atomic,
    write_parquet_atomic,
)
from thinfile.serving.batch.report import write_report
from thinfile.training.scorer.artefact import Scorer

FULL = OSError(errno.ENOSPC, "No space left on device")


def leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".tmp-" in p.name)


def a_table(rows: int = 5_000) -> pa.Table:
    return pa.table({"applicant_id": [str(i) for i in range(rows)], "score": [float(i) for i in range(rows)]})


@pytest.fixture
def parquet_fills_the_disk(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Parquet writes put their rows in the file, then fail as on a full disk; yields the sizes they had reached."""
    write, reached = pq.ParquetWriter.write_table, []

    def write_then_fail(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        write(self, *args, **kwargs)
        reached.append(os.path.getsize(self.where))
        raise FULL

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_then_fail)
    return reached


def _half_written_then_full(self: Path, data: str, *args: object, **kwargs: object) -> int:
    with self.open("w") as fh:
        fh.write(data[: len(data) // 2])
    raise FULL


@pytest.fixture
def json_fills_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text writes (the manifest's) put half their text in the file, then fail as on a full disk."""
    monkeypatch.setattr(Path, "write_text", _half_written_then_full)


def manifest(inputs: list[tuple[str, int, str]]) -> dict:
    files = [{"path": name, "rows": rows, "fingerprint": fp} for name, rows, fp in inputs]
    return new_manifest("embedded", files, {"fingerprint": "model"}, "schema", 100, 4)


def test_a_failed_parquet_write_removes_its_temporary_file_and_raises_the_disk_error(
    tmp_path: Path, parquet_fills_the_disk: list[int]
) -> None:
    with pytest.raises(OSError) as err:
        write_parquet_atomic(a_table(), tmp_path / "part-00000-00000.parquet", {"counts": {}})
    assert err.value.errno == errno.ENOSPC
    assert parquet_fills_the_disk and parquet_fills_the_disk[0] > 0
    assert list(tmp_path.iterdir()) == []


def test_a_failed_parquet_write_keeps_its_error_when_the_temporary_file_cannot_be_removed(
    tmp_path: Path, parquet_fills_the_disk: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(OSError) as err:
        write_parquet_atomic(a_table(), tmp_path / "part-00000-00000.parquet")
    assert err.value.errno == errno.ENOSPC


def test_an_interrupted_parquet_write_removes_its_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = pq.ParquetWriter.write_table

    def write_then_interrupt(self: pq.ParquetWriter, *args: object, **kwargs: object) -> None:
        write(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_parquet_atomic(a_table(), tmp_path / "part-00000-00000.parquet")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_manifest_write_removes_its_temporary_file_and_keeps_the_old_manifest(
    tmp_path: Path, json_fills_the_disk: None
) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b'{"runs": 1}')
    with pytest.raises(OSError) as err:
        write_json_atomic(path, {"runs": 2})
    assert err.value.errno == errno.ENOSPC
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]
    assert json.loads(path.read_text()) == {"runs": 1}


def test_a_report_write_that_fills_the_disk_leaves_no_temporary_file(
    tmp_path: Path, book: pd.DataFrame, scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    book.head(300).to_parquet(tmp_path / "book.parquet")
    report = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1).report
    folder = tmp_path / "full"
    folder.mkdir()
    monkeypatch.setattr(Path, "write_text", _half_written_then_full)
    with pytest.raises(OSError) as err:
        write_report(report, scorer, folder, figures=[])
    assert err.value.errno == errno.ENOSPC and list(folder.iterdir()) == []


def test_a_rerun_removes_a_dead_jobs_temporaries_before_it_writes_its_manifest(
    tmp_path: Path, json_fills_the_disk: None
) -> None:
    """The disk is still full when the rerun starts: the leftovers go even though the manifest cannot be written."""
    out, job = tmp_path / "out", manifest([("a.parquet", 300, "f1")])
    layout = OutputLayout(out)
    for folder in (layout.scores, layout.rejects):
        folder.mkdir(parents=True)
    (layout.root / "manifest.json").write_bytes(json.dumps(job).encode())
    planted = [
        layout.scores / ".part-00000-00001.parquet.tmp-32009-0a1b2c3d",
        layout.rejects / ".part-00000-00001.parquet.tmp-32009-0a1b2c3d",
        layout.root / ".manifest.json.tmp-32009-4e5f6a7b",
    ]
    for p in planted:
        p.write_bytes(b"x" * 4096)

    with pytest.raises(OSError) as err, open_output(out, job, tmp_path / "in"):
        pass
    assert err.value.errno == errno.ENOSPC
    assert leftovers(out) == []


def test_a_full_disk_does_not_stop_a_rerun_from_taking_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, job = tmp_path / "out", manifest([("a.parquet", 300, "f1")])
    (out / "scores").mkdir(parents=True)
    (out / "manifest.json").write_text(json.dumps(job))
    (out / "scores" / ".part-00000-00000.parquet.tmp-1-0a1b2c3d").write_bytes(b"x" * 4096)

    def full(*args: object) -> int:
        raise FULL

    monkeypatch.setattr(output.os, "pwrite", full)
    with open_output(out, job, tmp_path / "in") as (_, written):
        assert written["runs"] == 2
    assert leftovers(out) == [] and not (out / LOCK).exists()


def test_a_first_run_that_could_not_write_its_manifest_leaves_a_folder_a_rerun_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, job = tmp_path / "out", manifest([("a.parquet", 300, "f1")])
    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_text", _half_written_then_full)
        with pytest.raises(OSError), open_output(out, job, tmp_path / "in"):
            pass
    assert list(out.iterdir()) == []
    with open_output(out, job, tmp_path / "in") as (layout, written):
        assert written["runs"] == 1 and layout.scores.is_dir()


def test_a_folder_holding_only_a_killed_jobs_manifest_temporary_is_taken(tmp_path: Path) -> None:
    out, job = tmp_path / "out", manifest([("a.parquet", 300, "f1")])
    out.mkdir()
    (out / ".manifest.json.tmp-4242-0a1b2c3d").write_text('{"manif')
    with open_output(out, job, tmp_path / "in"):
        pass
    assert leftovers(out) == [] and json.loads((out / "manifest.json").read_text())["runs"] == 1


def test_a_folder_holding_other_hidden_files_is_still_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".notes.tmp-1").write_text("mine")
    with (
        pytest.raises(BatchOutputError, match="holds no thinfile batch manifest"),
        open_output(out, manifest([]), tmp_path / "in"),
    ):
        pass
    assert (out / ".notes.tmp-1").read_text() == "mine"


def refusal(tmp_path: Path, before: list[tuple[str, int, str]], now: list[tuple[str, int, str]]) -> str:
    out = tmp_path / "out"
    with open_output(out, manifest(before), tmp_path / "in"):
        pass
    with pytest.raises(BatchOutputError) as err, open_output(out, manifest(now), tmp_path / "in"):
        pass
    return str(err.value)


def test_a_refused_rerun_names_the_file_added_to_the_input(tmp_path: Path) -> None:
    said = refusal(
        tmp_path,
        [("region=north/dt=2026-11-26/a.csv", 10, "f1")],
        [("region=north/dt=2026-11-26/a.csv", 10, "f1"), ("region=north/dt=2026-11-26/extra.csv", 5, "f2")],
    )
    assert "input file region=north/dt=2026-11-26/extra.csv was not in that job" in said
    assert "2026-11-26/a.csv" not in said


def test_a_refused_rerun_names_the_file_gone_from_the_input(tmp_path: Path) -> None:
    said = refusal(tmp_path, [("a.csv", 10, "f1"), ("b.csv", 10, "f2")], [("a.csv", 10, "f1")])
    assert "input file b.csv of that job is not in this one" in said


def test_a_refused_rerun_names_a_file_whose_row_count_changed(tmp_path: Path) -> None:
    said = refusal(tmp_path, [("a.csv", 1_200, "f1")], [("a.csv", 1_250, "f9")])
    assert "input file a.csv has 1,250 rows, had 1,200" in said


def test_a_refused_rerun_names_a_file_rewritten_with_as_many_rows(tmp_path: Path) -> None:
    said = refusal(tmp_path, [("a.csv", 10, "f1")], [("a.csv", 10, "f9")])
    assert "input file a.csv has changed (same row count, other contents)" in said


def test_a_refused_rerun_names_three_differences_then_counts_the_rest(tmp_path: Path) -> None:
    said = refusal(tmp_path, [], [(f"d{i}.csv", 10, f"f{i}") for i in range(7)])
    assert [f"d{i}.csv" in said for i in range(7)] == [True] * 3 + [False] * 4
    assert "and 4 more input file(s) differ" in said
