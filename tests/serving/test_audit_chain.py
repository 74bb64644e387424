"""Chained audit records: every record the service writes carries a MAC under the audit key over its own bytes and
the previous record's MAC, with a per-writer sequence number, so that whoever holds the key can tell edits,
deletions and reordering. Checked against MACs recomputed here with `hmac` and against bytes edited on disk."""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from thinfile.serving import audit
from thinfile.serving.audit import AUDIT_FIELDS, CHAIN_FIELDS, AuditLog, encode, log_files, query_audit, verify

KEY = b"audit-key-0123456789abcdef"


def rec(i: int, score: float = 600.0, decision: str = "approve") -> dict:
    return audit.audit_record(f"r{i:06d}", "m", "1", f"{i:064x}", "0123456789ab", score, decision, [])


def write(path: Path, n: int, **kwargs: object) -> AuditLog:
    log = AuditLog(path, key=KEY, **kwargs)  # type: ignore[arg-type]
    for i in range(n):
        log.append([rec(i)])
    return log


def test_each_mac_is_the_hmac_of_the_previous_mac_and_the_line_without_its_mac(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 4)
    prev = b"0" * 64
    for seq, line in enumerate(path.read_bytes().splitlines()):
        stored = json.loads(line)
        assert tuple(stored) == AUDIT_FIELDS + CHAIN_FIELDS and stored["seq"] == seq
        canonical = line.replace(b',"mac":"' + stored["mac"].encode() + b'"', b"")
        assert stored["mac"] == hmac.new(KEY, prev + canonical, hashlib.sha256).hexdigest()
        prev = stored["mac"].encode()


def test_an_untouched_log_verifies_pass_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = write(path, 9)
    report = verify(path, KEY)
    assert report.verdict == "pass" and report.ok
    assert (report.records, report.macs_checked, report.macs_matched) == (9, 9, 9)
    assert report.chains == {log.chain: {"records": 9, "first_seq": 0, "last_seq": 8, "last": f"{path} line 9"}}


def test_an_edited_score_and_decision_fail_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path, key=KEY)
    for i in range(9):
        log.append([rec(i, 527.96, "decline") if i == 3 else rec(i)])
    data = path.read_bytes()
    edited = data.replace(b'"score":527.96,"decision":"decline"', b'"score":727.96,"decision":"approve"')
    assert edited != data
    path.write_bytes(edited)
    report = verify(path, KEY)
    assert report.verdict == "fail"
    assert report.problems["edited"].count == 1
    assert report.problems["edited"].examples == [f"{path} line 4 (chain {log.chain} seq 3)"]
    assert not report.wrong_key


def test_a_deleted_middle_record_is_a_sequence_gap(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = write(path, 9)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5] + lines[6:]))
    report = verify(path, KEY)
    assert report.verdict == "fail" and report.records == 8
    assert report.problems["gap"].count == 1
    assert report.problems["gap"].examples == [
        f"chain {log.chain}: seq 5 missing, between {path} line 5 and {path} line 6"
    ]
    assert report.problems["edited"].count == 0
    assert (report.macs_checked, report.macs_after_gaps) == (7, 1)  # seq 6 chains from the missing seq 5


def test_a_deleted_record_is_a_gap_without_the_key_too(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 5)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[3:]))
    report = verify(path)
    assert report.verdict == "fail" and report.problems["gap"].count == 1


def test_two_records_swapped_are_out_of_order_not_missing(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = write(path, 6)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2], lines[3] = lines[3], lines[2]
    path.write_bytes(b"".join(lines))
    report = verify(path, KEY)
    assert report.verdict == "fail"
    assert report.problems["order"].examples == [f"{path} line 4: chain {log.chain} seq 2 after seq 3"]
    assert report.problems["gap"].count == 0


def test_two_writers_interleaved_in_one_file_both_verify(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    first, second = AuditLog(path, key=KEY), AuditLog(path, key=KEY)
    for i in range(10):
        (first if i % 3 else second).append([rec(i), rec(i + 100)])
    report = verify(path, KEY)
    assert report.verdict == "pass" and report.records == 20
    assert {name: c["records"] for name, c in report.chains.items()} == {first.chain: 12, second.chain: 8}


def test_a_rotated_log_verifies_across_files(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = write(path, 60, rotate="size", max_bytes=4096)
    assert len(log_files(path)) > 2
    report = verify(path, KEY)
    assert report.verdict == "pass" and report.macs_matched == 60
    assert report.chains[log.chain]["last_seq"] == 59


def test_a_rotated_file_removed_from_the_middle_is_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 60, rotate="size", max_bytes=4096)
    log_files(path)[1].unlink()
    report = verify(path, KEY)
    assert report.verdict == "fail" and report.problems["gap"].count > 0


def test_without_the_key_the_verdict_is_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 3)
    report = verify(path)
    assert report.verdict == "incomplete" and not report.ok
    assert (report.key_checked, report.macs_checked) == (False, 0)


def test_a_wrong_key_is_reported_as_the_wrong_key_and_incomplete_not_as_edits(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 5)
    report = verify(path, b"another-key-0123456789")
    assert report.verdict == "incomplete" and report.wrong_key
    assert report.problems["edited"].count == 0 and report.problems["key"].count == 0
    assert report.other_keys == {"0123456789ab": 5} and report.macs_checked == 0


def test_a_failed_write_does_not_advance_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "decisions.jsonl"
    log = write(path, 1)

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit.os, "write", full)
    with pytest.raises(OSError):
        log.append([rec(1)])
    monkeypatch.undo()
    assert log.seq == 1
    log.append([rec(2)])
    assert [json.loads(x)["seq"] for x in path.read_bytes().splitlines()] == [0, 1]
    assert verify(path, KEY).verdict == "pass"


def test_a_failed_fsync_does_not_advance_the_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "decisions.jsonl"
    log = write(path, 2)

    def broken_disk(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(audit.os, "fsync", broken_disk)
    with pytest.raises(OSError):
        log.append([rec(2), rec(3)])
    monkeypatch.undo()
    log.append([rec(4)])
    assert [r["request_id"] for r in query_audit(path)] == ["r000000", "r000001", "r000004"]
    assert verify(path, KEY).verdict == "pass"


def test_old_records_without_a_mac_are_still_read_and_leave_verify_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(encode([rec(0), rec(1)]))
    write(path, 0).append([rec(2)])
    assert [r["request_id"] for r in query_audit(path)] == ["r000000", "r000001", "r000002"]
    report = verify(path, KEY)
    assert report.verdict == "incomplete" and report.problems["old"].examples == [f"{path} line 1", f"{path} line 2"]


def test_a_record_without_a_mac_after_chained_ones_fails(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 2)
    with open(path, "ab") as fh:
        fh.write(encode([rec(7, 800.0)]))
    report = verify(path, KEY)
    assert report.verdict == "fail" and report.problems["unsealed"].examples == [f"{path} line 3"]


def test_problems_keep_only_the_first_few_places_and_count_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    write(path, 20)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(
        b"".join(x.replace(b'"score":600.0', b'"score":900.0') if i % 2 else x for i, x in enumerate(lines))
    )
    report = verify(path, KEY)
    assert report.problems["edited"].count == 10 and len(report.problems["edited"].examples) == audit.EXAMPLES
