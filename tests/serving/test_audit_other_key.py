"""One shared audit log written under two keys, as after a loopback run without an audit key (the service then
uses a random key for that run and names it by key id in each record): the records of the other key cannot be
checked with the key given, which leaves `audit verify` INCOMPLETE, not FAIL; tampering still fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.serving.audit import AuditLog, audit_record, key_id, verify

runner = CliRunner()
KEY = b"the-right-key-0123456789"
RUN_KEY = b"a-random-run-key-abcdef0123"


def write(path: Path, key: bytes, ids: range, named: bytes | None = None) -> AuditLog:
    """Records as the service writes them: chained under `key`, each naming the key id of `named` (default key)."""
    log = AuditLog(path, key=key)
    for i in ids:
        log.append([audit_record(f"r{i:04d}", "m", "1", "0" * 64, key_id(named or key), 600.0, "approve", [])])
    return log


def shared_log(tmp_path: Path) -> Path:
    """Two runs under the key, with a run under another key between them."""
    path = tmp_path / "decisions.jsonl"
    write(path, KEY, range(0, 3))
    write(path, RUN_KEY, range(10, 15))
    write(path, KEY, range(20, 22))
    return path


def verify_text(path: Path, monkeypatch: pytest.MonkeyPatch, key: bytes) -> tuple[int, str]:
    (path.parent / "key").write_bytes(key + b"\n")
    monkeypatch.setenv("THINFILE_AUDIT_KEY_FILE", str(path.parent / "key"))
    result = runner.invoke(app, ["audit", "verify", "--log", str(path)])
    return result.exit_code, " ".join(result.output.split())


def test_records_under_another_key_are_not_checked_and_leave_the_verdict_incomplete(tmp_path: Path) -> None:
    report = verify(shared_log(tmp_path), KEY)
    assert report.verdict == "incomplete" and not report.wrong_key
    assert (report.macs_checked, report.macs_matched) == (5, 5)
    assert report.other_keys == {key_id(RUN_KEY): 5}
    assert not any(found.count for found in report.problems.values())


def test_verify_names_the_other_key_and_its_records_and_is_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = verify_text(shared_log(tmp_path), monkeypatch, KEY)
    assert code == 4 and text.startswith("INCOMPLETE 10 records"), text
    assert f"MACs: 5 of 5 checked match (key id {key_id(KEY)})" in text
    assert f"5 record(s) under key id {key_id(RUN_KEY)}, not the key given: their MACs not checked" in text
    assert "FAIL" not in text and "wrong key" not in text


def test_an_edited_record_under_the_key_given_still_fails_beside_another_keys_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_log(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"decision":"approve"', b'"decision":"decline"')
    path.write_bytes(b"".join(lines))
    code, text = verify_text(path, monkeypatch, KEY)
    assert code == 1 and text.startswith("FAIL 10 records"), text
    assert f"1 record(s) whose MAC does not match (edited): {path} line 2" in text


def test_a_record_edited_to_name_another_key_fails_as_edited(tmp_path: Path) -> None:
    path = shared_log(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(key_id(KEY).encode(), key_id(RUN_KEY).encode())
    path.write_bytes(b"".join(lines))
    report = verify(path, KEY)
    assert report.verdict == "fail" and report.problems["edited"].examples[0].startswith(f"{path} line 2 ")


def test_a_deleted_record_under_another_key_is_still_a_gap(tmp_path: Path) -> None:
    path = shared_log(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5] + lines[6:]))
    report = verify(path, KEY)
    assert report.verdict == "fail" and report.problems["gap"].count == 1
    assert report.other_keys == {key_id(RUN_KEY): 4}


def test_a_chain_naming_the_key_given_that_matches_none_of_its_macs_fails(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, KEY, range(0, 2))
    write(path, RUN_KEY, range(10, 13), named=KEY)
    report = verify(path, KEY)
    assert report.verdict == "fail" and report.problems["key"].count == 3 and not report.other_keys


def test_a_key_no_record_names_is_reported_as_not_the_records_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, text = verify_text(shared_log(tmp_path), monkeypatch, b"yet-another-key-0123456789")
    assert code == 4, text
    assert text.startswith(
        f"the key given is not the one these records were written with (key id {key_id(b'yet-another-key-0123456789')};"
        f" the records name key id(s) {key_id(KEY)}, {key_id(RUN_KEY)}): no MAC could be checked"
    )
    assert "INCOMPLETE 10 records" in text and "MACs: none checked" in text
