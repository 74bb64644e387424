"""Scratch folders: named for their process; those of an ended process are removed once they are old enough."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thinfile.features.scratch import remove_orphans, scratch_prefix
from thinfile.features.settings import ScratchSettings

DAY = 86_400


def _ended_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _folder(root: Path, name: str, age_s: float) -> Path:
    path = root / name
    path.mkdir()
    (path / "roc.png").write_bytes(b"\x89PNG")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_a_scratch_folder_is_made_in_the_temporary_folder_under_this_process_s_pid(tmp_path: Path) -> None:
    made = Path(tempfile.mkdtemp(prefix=scratch_prefix("run"), dir=tmp_path))
    assert made.name.startswith(f"thinfile-run-{os.getpid()}-")


def test_an_ended_process_s_old_scratch_folder_is_removed_and_nothing_else(tmp_path: Path) -> None:
    dead = _ended_pid()
    orphan = _folder(tmp_path, f"thinfile-run-{dead}-ab12cd34", 2 * DAY)
    kept = [
        _folder(tmp_path, f"thinfile-run-{os.getpid()}-ab12cd34", 2 * DAY),  # its process still runs
        _folder(tmp_path, f"thinfile-model-{dead}-ef56gh78", 60),  # too recent: maybe another container's
        _folder(tmp_path, "thinfile-bench-ab12cd34", 2 * DAY),  # not a scratch folder's name
    ]
    (tmp_path / f"thinfile-log-{dead}-file1234").write_text("a file, not a folder")

    assert remove_orphans(root=tmp_path) == [orphan]
    assert not orphan.exists() and all(p.exists() for p in kept)
    assert (tmp_path / f"thinfile-log-{dead}-file1234").exists()


def test_folders_people_named_like_scratch_folders_are_left_alone(tmp_path: Path) -> None:
    names = [
        "thinfile-backup-2024-jan",
        "thinfile-run-2024-final",
        "thinfile-export-20261128093000-final",
        "thinfile-run-9999999999-abcdefgh",  # no pid this system can have: not taken for an ended process
    ]
    kept = [_folder(tmp_path, name, 2 * DAY) for name in names]
    assert remove_orphans(root=tmp_path) == []
    assert all(p.exists() for p in kept)


def test_a_folder_with_a_file_just_written_below_it_is_not_old(tmp_path: Path) -> None:
    folder = _folder(tmp_path, f"thinfile-run-{_ended_pid()}-ab12cd34", 2 * DAY)
    plots = folder / "plots"
    plots.mkdir()
    (plots / "roc.png").write_bytes(b"\x89PNG")
    os.utime(folder, (time.time() - 2 * DAY, time.time() - 2 * DAY))  # mkdir touched it; the write below did not
    assert remove_orphans(root=tmp_path) == []
    os.utime(plots, (time.time() - 2 * DAY, time.time() - 2 * DAY))
    assert remove_orphans(root=tmp_path) == [folder]


def test_the_age_that_makes_a_folder_an_orphan_is_a_setting(tmp_path: Path) -> None:
    recent = _folder(tmp_path, f"thinfile-run-{_ended_pid()}-ab12cd34", 60)
    assert remove_orphans(ScratchSettings(orphan_age_s=3600), tmp_path) == []
    assert remove_orphans(ScratchSettings(orphan_age_s=30), tmp_path) == [recent]
