"""The audit log of decisions: JSON lines that processes share, each append whole and on disk before it returns.

A decision is given only after its record is durable: every append takes an exclusive lock, writes its records
in one piece, fsyncs, and on any failure (ENOSPC, EIO) cuts the file back to where it was, so that the log holds
exactly the decisions that were given. A writer killed mid-record leaves a torn tail; the next writer (and
`repair` at start) moves it to `<log>.torn` before appending. The active file rotates by day or by size into
`<stem>.<when><suffix>` beside it; queries and `verify` read the rotated files and the active one in order.
Records hold ids, a keyed hash (HMAC) of the input, the score, the decision and reason codes: never raw values.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic_core import to_json

AUDIT_FIELDS = (
    "request_id",
    "time",
    "model",
    "model_version",
    "input_hmac",
    "key_id",
    "score",
    "decision",
    "reasons",
)
Rotate = Literal["day", "size", "never"]
TORN_SUFFIX = ".torn"
_TAIL_WINDOW = 1 << 16


def audit_record(
    request_id: str,
    model: str,
    model_version: str,
    input_hmac: str,
    key_id: str,
    score: float,
    decision: str,
    reasons: list[dict],
    time: datetime | None = None,
) -> dict:
    """One decision: ids, keyed hash of the input, score, decision and reason codes with points lost (no values)."""
    return {
        "request_id": request_id,
        "time": (time or datetime.now(UTC)).isoformat(timespec="microseconds"),
        "model": model,
        "model_version": model_version,
        "input_hmac": input_hmac,
        "key_id": key_id,
        "score": score,
        "decision": decision,
        "reasons": [{"code": r["code"], "points_lost": r["points_lost"]} for r in reasons],
    }


def encode(records: Iterable[dict]) -> bytes:
    """Records as compact JSON lines (UTF-8, by pydantic-core), ready for one append."""
    return b"".join(to_json(r) + b"\n" for r in records)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def torn_path(path: Path) -> Path:
    return path.with_name(path.name + TORN_SUFFIX)


@contextmanager
def locked(path: Path, exclusive: bool = True) -> Iterator[None]:
    """The log's advisory lock (a sibling `.lock` file, so that it outlives rotation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _quarantine_tail(fd: int, path: Path, size: int) -> int:
    """If the file does not end with a newline, move its torn last record to `<log>.torn`; the new size."""
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    start = max(0, size - _TAIL_WINDOW)
    window = os.pread(fd, size - start, start)
    cut = start + window.rfind(b"\n") + 1 if b"\n" in window else 0
    if cut == 0 and start > 0:
        cut = start  # a torn record longer than the window: keep what cannot be told apart, move the window
    torn = os.pread(fd, size - cut, cut)
    with open(torn_path(path), "ab") as out:
        out.write(torn + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.ftruncate(fd, cut)
    os.fsync(fd)
    return cut


def _first_time(path: Path) -> datetime | None:
    """The time of a log's first record (None for an empty or unreadable first line)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline()
        return datetime.fromisoformat(json.loads(first)["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _first_day(path: Path) -> date | None:
    first = _first_time(path)
    return first.date() if first else None


def rotated_name(path: Path, when: datetime, rotate: Rotate) -> Path:
    """Where the active log goes when it rotates: `<stem>.<day or time><suffix>`, never over an existing file."""
    stamp = when.strftime("%Y-%m-%d") if rotate == "day" else when.strftime("%Y-%m-%dT%H%M%S.%f")
    target = path.with_name(f"{path.stem}.{stamp}{path.suffix}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.stem}.{stamp}-{n}{path.suffix}")
        n += 1
    return target


class AuditLog:
    """The active audit file of one process; appends from many threads and processes are serialised by a lock."""

    def __init__(self, path: str | Path, rotate: Rotate = "day", max_bytes: int = 256 * 1024 * 1024) -> None:
        self.path = Path(path)
        self.rotate = rotate
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd = -1
        self._inode = -1
        self._day: date | None = None

    def append(self, records: Iterable[dict]) -> None:
        """Append the records whole and durably, or raise OSError with the log as it was before the call."""
        self.append_bytes(encode(records))

    def append_bytes(self, data: bytes) -> None:
        if not data:
            return
        with self._lock, locked(self.path):
            self._follow()
            size = _quarantine_tail(self._fd, self.path, os.fstat(self._fd).st_size)
            if self._due(size, len(data)):
                self._rotate()
                size = 0
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                os.fsync(self._fd)
            except OSError:
                self._cut_back(size)
                raise
            if self._day is None:
                self._day = datetime.now(UTC).date()

    def _follow(self) -> None:
        """(Re)open the active file when this process has none or another process rotated it away."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = -2
        if self._fd >= 0 and inode == self._inode:
            return
        self.close()
        created = inode == -2
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        self._inode = os.fstat(self._fd).st_ino
        self._day = _first_day(self.path)
        if created:
            _fsync_dir(self.path.parent)

    def _due(self, size: int, adding: int) -> bool:
        if size == 0 or self.rotate == "never":
            return False
        if self.rotate == "size":
            return size + adding > self.max_bytes
        return self._day is not None and self._day != datetime.now(UTC).date()

    def _rotate(self) -> None:
        when = datetime.combine(self._day, datetime.min.time()) if self.rotate == "day" and self._day else None
        os.rename(self.path, rotated_name(self.path, when or datetime.now(UTC), self.rotate))
        self.close()
        self._follow()
        _fsync_dir(self.path.parent)

    def _cut_back(self, size: int) -> None:
        """Undo a failed append; if even that fails, the next append (or repair) moves the torn tail away."""
        try:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        except OSError:
            pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
            self._inode = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GroupCommit:
    """Appends for one event loop: records of requests that arrive while an append is on disk go in the next one,
    so concurrent decisions share an fsync. Every request of a failed append gets the error; none is answered."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def append(self, data: bytes) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((data, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self.log.append_bytes, b"".join(data for data, _ in group))
            except OSError as err:
                for _, future in group:
                    if not future.done():
                        future.set_exception(err)
            else:
                for _, future in group:
                    if not future.done():
                        future.set_result(None)


def repair(path: str | Path) -> int:
    """Before serving: move a torn last record of the active log to `<log>.torn`; the bytes moved."""
    p = Path(path)
    if not p.is_file():
        return 0
    with locked(p):
        fd = os.open(p, os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            return size - _quarantine_tail(fd, p, size)
        finally:
            os.close(fd)


def log_files(path: str | Path) -> list[Path]:
    """The rotated files of a log, oldest first, then the active one (if it exists)."""
    p = Path(path)
    rotated = [q for q in p.parent.glob(f"{p.stem}.*{p.suffix}") if q != p]
    oldest = datetime.min.replace(tzinfo=UTC)
    rotated.sort(key=lambda q: (_first_time(q) or oldest, q.name))
    return [*rotated, *([p] if p.is_file() else [])]


def _is_record(value: object) -> bool:
    return isinstance(value, dict) and all(k in value for k in ("request_id", "time", "decision"))


def _record(line: bytes) -> dict | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if _is_record(record) else None


def read_audit(path: str | Path) -> Iterator[tuple[int, dict | None]]:
    """(line number, record) for every line of one file; None for a line that is not a whole record. A whole
    record glued after a torn one (as writers before the lock left them on a full disk) is read as well."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            record = _record(line) if line.endswith(b"\n") else None
            if record is not None:
                yield number, record
                continue
            yield number, None
            start = line.rfind(b'{"request_id":')
            glued = _record(line[start:]) if start > 0 and line.endswith(b"\n") else None
            if glued is not None:
                yield number, glued


@dataclass
class AuditReport:
    """What `thinfile audit verify` found: records, torn lines, duplicated request ids, per file."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    torn: list[tuple[str, int]] = field(default_factory=list)
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    quarantined_bytes: int = 0
    key_ids: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None

    @property
    def ok(self) -> bool:
        return not self.torn and not self.duplicates


def verify(path: str | Path) -> AuditReport:
    """Read every file of the log under a shared lock: count records, torn lines and repeated request ids."""
    p = Path(path)
    report = AuditReport()
    seen: set[bytes] = set()
    with locked(p, exclusive=False):
        for f in log_files(p):
            report.files.append(str(f))
            for number, record in read_audit(f):
                if record is None:
                    report.torn.append((str(f), number))
                    continue
                report.records += 1
                rid = str(record["request_id"])
                key = rid.encode()
                if key in seen:
                    report.duplicates += 1
                    if len(report.duplicate_ids) < 10:
                        report.duplicate_ids.append(rid)
                seen.add(key)
                kid = str(record.get("key_id", "none"))
                report.key_ids[kid] = report.key_ids.get(kid, 0) + 1
                t = record["time"]
                report.first = t if report.first is None or t < report.first else report.first
                report.last = t if report.last is None or t > report.last else report.last
    torn = torn_path(p)
    report.quarantined_bytes = torn.stat().st_size if torn.is_file() else 0
    return report


@dataclass(frozen=True)
class AuditQuery:
    """Filters over the audit log; None means any."""

    request_id: str | None = None
    input_hmac: str | None = None
    decision: str | None = None
    model_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: dict) -> bool:
        if self.request_id and record.get("request_id") != self.request_id:
            return False
        if self.input_hmac and record.get("input_hmac") != self.input_hmac:
            return False
        if self.decision and record.get("decision") != self.decision:
            return False
        if self.model_version and str(record.get("model_version")) != str(self.model_version):
            return False
        if self.since or self.until:
            when = datetime.fromisoformat(record["time"])
            if self.since and when < _aware(self.since):
                return False
            if self.until and when >= _aware(self.until):
                return False
        return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def query_audit(path: str | Path, query: AuditQuery = AuditQuery(), limit: int | None = None) -> list[dict]:
    """Records matching `query` across the rotated files and the active one, oldest first; `limit` keeps the
    most recent ones."""
    files = log_files(path)
    if not files:
        raise FileNotFoundError(f"no audit log at {path}; the service writes one when it scores (THINFILE_AUDIT_LOG)")
    found = [r for f in files for _, r in read_audit(f) if r is not None and query.matches(r)]
    return found[-limit:] if limit else found


def summarise(records: list[dict]) -> dict:
    """Counts by decision and by model version, and the time span covered."""
    by_decision: dict[str, int] = {}
    by_version: dict[str, int] = {}
    for r in records:
        by_decision[r["decision"]] = by_decision.get(r["decision"], 0) + 1
        by_version[str(r["model_version"])] = by_version.get(str(r["model_version"]), 0) + 1
    times = [r["time"] for r in records]
    return {
        "decisions": len(records),
        "by_decision": by_decision,
        "by_model_version": by_version,
        "first": min(times) if times else None,
        "last": max(times) if times else None,
    }
