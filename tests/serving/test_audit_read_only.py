"""Reading the audit log writes nothing beside the evidence: `audit verify` and `audit` create no `.lock` (nor a
folder); verify shares the writers' lock only where a writer made one, and reads again under it if a writer
started (and may have rotated the log) while it read without one."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.serving import audit
from thinfile.serving.audit import AuditLog, audit_record, lock_path, locked, verify

runner = CliRunner()
KEY = b"audit-key-0123456789abcdef"


def copied_log(tmp_path: Path, n: int = 3) -> Path:
    """A log as copied aside for review: records written by `AuditLog`, without the writers' lock file."""
    path = tmp_path / "evidence" / "a.jsonl"
    log = AuditLog(path, key=KEY)
    for i in range(n):
        log.append([audit_record(f"r{i}", "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", [])])
    log.close()
    lock_path(path).unlink()
    return path


def test_verify_creates_no_lock_file_beside_a_copied_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = copied_log(tmp_path)
    monkeypatch.setenv("THINFILE_AUDIT_KEY", KEY.decode())
    result = runner.invoke(app, ["audit", "verify", "--log", str(path)])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(path.parent)) == ["a.jsonl"]


def test_query_creates_no_lock_file_beside_a_copied_log(tmp_path: Path) -> None:
    path = copied_log(tmp_path)
    result = runner.invoke(app, ["audit", "--log", str(path), "--json"])
    assert result.exit_code == 0 and len(result.output.splitlines()) == 3, result.output
    assert sorted(os.listdir(path.parent)) == ["a.jsonl"]


def test_verify_of_a_log_in_a_missing_folder_creates_no_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--log", str(tmp_path / "none" / "a.jsonl")])
    assert result.exit_code == 2 and "no audit log" in result.output
    assert not (tmp_path / "none").exists()


def test_verify_waits_for_a_writer_holding_the_lock(tmp_path: Path) -> None:
    path = copied_log(tmp_path)
    done = threading.Event()
    with locked(path):  # a writer mid-append (it made the lock file)
        reader = threading.Thread(target=lambda: (verify(path, KEY), done.set()))
        reader.start()
        time.sleep(0.3)
        assert not done.is_set()
    reader.join(10)
    assert done.is_set()


def test_verify_reads_again_under_the_lock_when_a_writer_rotated_the_log_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = copied_log(tmp_path)
    listed = audit.log_files

    def writer_starts_after_listing(p: str | Path) -> list[Path]:
        files = listed(p)
        if not lock_path(path).exists():  # the first read: a service starts and rotates the active file away
            AuditLog(path, rotate="size", max_bytes=1, key=KEY).append(
                [audit_record("r9", "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", [])]
            )
        return files

    monkeypatch.setattr(audit, "log_files", writer_starts_after_listing)
    report = verify(path, KEY)
    assert (report.verdict, report.records, len(report.files)) == ("pass", 4, 2)
