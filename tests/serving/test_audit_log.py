"""Decisions and their audit records are one: appends are whole and durable or absent, torn tails are moved aside,
files rotate, `verify` counts what is there. Checked against the bytes on disk, read back independently."""

from __future__ import annotations

import asyncio
import errno
import json
import multiprocessing
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from thinfile.serving import audit
from thinfile.serving.audit import (
    AuditLog,
    GroupCommit,
    RequestIds,
    encode,
    log_files,
    query_audit,
    repair,
    verify,
)


def rec(i: int, when: datetime | None = None) -> dict:
    return audit.audit_record(f"r{i:06d}", "m", "1", f"{i:064x}", "0123456789ab", 600.0 + i, "approve", [], time=when)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_bytes().splitlines()]


def test_an_append_that_runs_out_of_space_mid_write_leaves_the_log_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path)
    log.append([rec(1)])
    before = path.read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if len(data) > 10:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit.os, "write", half_then_full)
    with pytest.raises(OSError) as err:
        log.append([rec(2), rec(3)])
    assert err.value.errno == errno.ENOSPC
    assert path.read_bytes() == before


def test_an_append_whose_fsync_fails_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path)
    log.append([rec(1)])

    def broken_disk(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(audit.os, "fsync", broken_disk)
    with pytest.raises(OSError):
        log.append([rec(2)])
    monkeypatch.undo()
    assert [r["request_id"] for r in lines(path)] == ["r000001"]


def test_each_append_is_fsynced_before_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path)
    log.append([rec(0)])
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(audit.os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_size), real_fsync(fd))[1])
    log.append([rec(1), rec(2)])
    assert synced == [path.stat().st_size]


def test_a_torn_tail_left_by_a_killed_writer_is_moved_aside_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    whole = encode([rec(1)])
    torn = encode([rec(2)])[:37]
    path.write_bytes(whole + torn)
    AuditLog(path).append([rec(3)])
    assert [r["request_id"] for r in lines(path)] == ["r000001", "r000003"]
    assert (tmp_path / "decisions.jsonl.torn").read_bytes() == torn + b"\n"


def test_repair_at_start_moves_only_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(encode([rec(1), rec(2)]))
    assert repair(path) == 0
    path.write_bytes(path.read_bytes() + b'{"request_id":"r9')
    assert repair(path) == len(b'{"request_id":"r9')
    assert (verify(path).records, verify(path).torn) == (2, [])


def test_verify_reports_records_torn_lines_and_repeated_request_ids(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    glued = encode([rec(3)])[:20] + encode([rec(4)])  # a torn record glued to the next one, as a full disk left it
    path.write_bytes(encode([rec(1), rec(2)]) + glued + encode([rec(2), rec(5)]))
    report = verify(path)
    assert (report.records, report.torn, report.duplicates) == (5, [(str(path), 3)], 1)
    assert report.duplicate_ids == ["r000002"] and not report.ok
    assert [r["request_id"] for r in query_audit(path)] == ["r000001", "r000002", "r000004", "r000002", "r000005"]


def test_rotation_by_size_keeps_every_record_once_and_in_order(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path, rotate="size", max_bytes=4096, key=b"audit-key-0123456789")
    for i in range(60):
        log.append([rec(i)])
    files = log_files(path)
    assert len(files) > 2 and files[-1] == path
    assert all(f.stat().st_size <= 4096 for f in files)
    assert [r["request_id"] for r in query_audit(path)] == [f"r{i:06d}" for i in range(60)]
    report = verify(path, b"audit-key-0123456789")
    assert report.records == 60 and report.ok


def test_rotation_by_day_starts_a_file_named_for_the_day_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "decisions.jsonl"
    yesterday = datetime.now(UTC) - timedelta(days=1)
    path.write_bytes(encode([rec(1, when=yesterday)]))
    AuditLog(path, rotate="day").append([rec(2)])
    rotated = tmp_path / f"decisions.{yesterday:%Y-%m-%d}.jsonl"
    assert [r["request_id"] for r in lines(rotated)] == ["r000001"]
    assert [r["request_id"] for r in lines(path)] == ["r000002"]


def _append_many(path: str, start: int, n: int) -> None:
    log = AuditLog(path, rotate="size", max_bytes=64 * 1024, key=b"audit-key-0123456789")
    for i in range(start, start + n):
        log.append([rec(i), rec(i + 100_000)])


def test_processes_appending_at_once_never_tear_or_lose_a_record(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(path), k * 1000, 300)) for k in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    report = verify(path, b"audit-key-0123456789")
    assert (report.records, report.torn, report.duplicates) == (1800, [], 0)
    assert report.verdict == "pass" and sorted(c["records"] for c in report.chains.values()) == [600, 600, 600]
    assert len(report.files) > 1


def test_group_commit_shares_one_append_between_waiting_requests(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    log = AuditLog(path)
    appends: list[bytes] = []
    real = log.append_bytes
    log.append_bytes = lambda data: (appends.append(data), real(data))[1]  # type: ignore[method-assign]

    async def many() -> None:
        commit = GroupCommit(log)
        await asyncio.gather(*(commit.append(encode([rec(i)])) for i in range(20)))

    asyncio.run(many())
    assert len(appends) < 20 and sum(a.count(b"\n") for a in appends) == 20
    assert verify(path).records == 20


def test_group_commit_gives_every_waiter_the_error_of_a_failed_append(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "decisions.jsonl")

    def full(data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    log.append_bytes = full  # type: ignore[method-assign]

    async def many() -> list[object]:
        commit = GroupCommit(log)
        return await asyncio.gather(*(commit.append(b"x\n") for _ in range(5)), return_exceptions=True)

    outcomes = asyncio.run(many())
    assert all(isinstance(o, OSError) and o.errno == errno.ENOSPC for o in outcomes)


def test_request_ids_are_32_hex_digits_and_never_repeat_across_threads_and_draws() -> None:
    ids = RequestIds(per_draw=8)
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(k: int) -> None:
        drawn[k].extend(ids() for _ in range(500))

    threads = [threading.Thread(target=draw, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for part in drawn for i in part]
    assert len(set(every)) == len(every) == 2000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in every)


def test_a_forked_child_draws_request_ids_its_parent_never_gives() -> None:
    ids = RequestIds(per_draw=64)
    ids()  # the parent now holds 63 drawn ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, " ".join(ids() for _ in range(63)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    parent = {ids() for _ in range(63)}
    assert len(child) == 63 and not child & parent
