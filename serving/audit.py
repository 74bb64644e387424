"""The audit log of decisions: JSON lines that processes share, each append whole and on disk before it returns.

A decision is given only after its record is durable: every append takes an exclusive lock, writes its records
in one piece, fsyncs, and on any failure (ENOSPC, EIO) cuts the file back to where it was, so that the log holds
exactly the decisions that were given. A writer killed mid-record leaves a torn tail; the next writer (and
`repair` at start) moves it to `<log>.torn` before appending. The active file rotates by day or by size into
`<stem>.<when><suffix>` beside it; queries and `verify` read the rotated files and the active one in order.
Records hold ids, a keyed hash (HMAC) of the input, the score, the decision and reason codes: never raw values.

Chained records. An `AuditLog` given the audit key is one chain: a random id (`chain`, 16 hex digits) and a
sequence number (`seq`, from 0) are added to each record it writes, then `mac`, so a stored line is

    {<decision fields>,"chain":"<id>","seq":<n>,"mac":"<64 hex>"}\n

`mac` is HMAC-SHA256 under the audit key of `prev + canonical`, where `canonical` is the line's bytes as stored
without `,"mac":"<64 hex>"` and without the newline (so it ends `"seq":<n>}`), and `prev` is the `mac` of the
chain's previous record (seq n - 1) as 64 ASCII hex digits, or 64 "0"s for seq 0. The MAC input starts with hex
digits, an input HMAC's with "{", so the one key serves both. The chain's state advances only when an append is
on disk; rotated files continue it. Each writer (worker process) is its own chain, so several may interleave in
one file. Deleting a chain's last records cannot be told from the log alone.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

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
CHAIN_FIELDS = ("chain", "seq", "mac")
Rotate = Literal["day", "size", "never"]
Verdict = Literal["pass", "fail", "incomplete"]
TORN_SUFFIX = ".torn"
_TAIL_WINDOW = 1 << 16
GENESIS = b"0" * 64
_MAC_TAIL = re.compile(rb',"mac":"([0-9a-f]{64})"\}\Z')
EXAMPLES = 5


class RequestIds:
    """Random request ids, 32 hex digits each, drawn from the OS's generator `per_draw` at a time (one system call
    per draw). Threads never share an id (a list's pop is atomic), nor do a process and its forked children (a
    child forgets the ids its parent drew)."""

    def __init__(self, per_draw: int = 256) -> None:
        self.per_draw = per_draw
        self._ids: list[str] = []
        os.register_at_fork(after_in_child=self._ids.clear)

    def __call__(self) -> str:
        try:
            return self._ids.pop()
        except IndexError:
            drawn = os.urandom(16 * self.per_draw).hex()
            self._ids[:] = [drawn[i : i + 32] for i in range(0, len(drawn), 32)]
            return self._ids.pop()


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
def locked(path: Path) -> Iterator[None]:
    """The log's advisory lock, held exclusively by a writer (a sibling `.lock` file, so that it outlives
    rotation; made by the first writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def read_locked(path: Path) -> Iterator[bool]:
    """For reading the log whole: its lock, shared, if the lock file exists (writers hold it to append, rotate or
    move a torn tail), else no lock, as reading evidence creates no file beside it. Yields whether the lock file
    was there: without it no writer had appended here, but one may start meanwhile (creating it), so the reader
    looks again afterwards and, if it appeared, reads again under it."""
    try:
        fd = os.open(lock_path(path), os.O_RDONLY)
    except FileNotFoundError:
        fd = -1
    if fd < 0:
        yield False
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield True
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


def key_id(key: bytes) -> str:
    """A short public name for an audit key, so records say which key hashed them (not the key itself)."""
    return hmac.new(key, b"thinfile audit key id", hashlib.sha256).hexdigest()[:12]


def _mac(keyed: hmac.HMAC, prev: bytes, canonical: bytes) -> bytes:
    """A record's MAC (64 ASCII hex digits): the keyed HMAC over the chain's previous MAC, then the record."""
    mac = keyed.copy()
    mac.update(prev)
    mac.update(canonical)
    return mac.hexdigest().encode()


def canonical_bytes(line: bytes) -> tuple[bytes, bytes] | None:
    """A stored line's (canonical bytes, mac) as the MAC was computed over them; None if it carries no MAC."""
    line = line.rstrip(b"\n")
    found = _MAC_TAIL.search(line)
    if found is None:
        return None
    return line[: found.start()] + b"}", found.group(1)


class AuditLog:
    """The active audit file of one process; appends from many threads and processes are serialised by a lock.
    Given the audit key, it is one chain: every record it writes carries `chain`, `seq` and `mac`."""

    def __init__(
        self,
        path: str | Path,
        rotate: Rotate = "day",
        max_bytes: int = 256 * 1024 * 1024,
        key: bytes | None = None,
    ) -> None:
        self.path = Path(path)
        self.rotate = rotate
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd = -1
        self._inode = -1
        self._day: date | None = None
        self.chain = secrets.token_hex(8)
        self.seq = 0
        self._prev = GENESIS
        self._hmac = hmac.new(key, digestmod=hashlib.sha256) if key is not None else None
        self._chain_field = b',"chain":"' + self.chain.encode() + b'","seq":'

    def _seal(self, keyed: hmac.HMAC, data: bytes) -> tuple[bytes, bytes, int]:
        """The lines of `data` with chain, seq and mac added; the chain's last MAC and next seq once written."""
        lines = data.split(b"\n")
        if lines.pop():
            raise ValueError("audit data must be whole JSON lines")
        prev, seq, out = self._prev, self.seq, []
        for line in lines:
            if not line.endswith(b"}"):
                raise ValueError("an audit line must be one JSON object")
            canonical = line[:-1] + self._chain_field + str(seq).encode() + b"}"
            prev = _mac(keyed, prev, canonical)
            out.append(canonical[:-1] + b',"mac":"' + prev + b'"}\n')
            seq += 1
        return b"".join(out), prev, seq

    def append(self, records: Iterable[dict]) -> None:
        """Append the records whole and durably, or raise OSError with the log as it was before the call."""
        self.append_bytes(encode(records))

    def append_bytes(self, data: bytes) -> None:
        """Append JSON lines (sealed into the chain when there is a key) whole and durably, or raise OSError."""
        if not data:
            return
        with self._lock:
            prev, seq = self._prev, self.seq
            if self._hmac is not None:
                data, prev, seq = self._seal(self._hmac, data)
            with locked(self.path):
                self._write(data)
            self._prev, self.seq = prev, seq

    def _write(self, data: bytes) -> None:
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


def _lines(path: str | Path) -> Iterator[tuple[int, bytes, dict | None]]:
    """(line number, bytes, record) for every line of one file, as `read_audit` reads them."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            record = _record(line) if line.endswith(b"\n") else None
            if record is not None:
                yield number, line, record
                continue
            yield number, line, None
            glued = _glued(line)
            if glued is not None:
                yield number, *glued


def _glued(line: bytes) -> tuple[bytes, dict] | None:
    """A whole record glued after a torn one on a line that is not a record itself: its bytes and the record."""
    start = line.rfind(b'{"request_id":')
    glued = _record(line[start:]) if start > 0 and line.endswith(b"\n") else None
    return None if glued is None else (line[start:], glued)


def read_audit(path: str | Path) -> Iterator[tuple[int, dict | None]]:
    """(line number, record) for every line of one file; None for a line that is not a whole record. A whole
    record glued after a torn one (as writers before the lock left them on a full disk) is read as well."""
    for number, _, record in _lines(path):
        yield number, record


PROBLEMS = {
    "edited": "record(s) whose MAC does not match (edited)",
    "gap": "record(s) missing from a chain's sequence (deleted)",
    "order": "record(s) out of order or repeated in their chain",
    "unsealed": "record(s) without a MAC after chained ones (inserted, or the MAC removed)",
    "malformed": "record(s) whose chain fields cannot be read",
    "key": "record(s) in chains none of whose MACs match the key given, though they name it or no key",
    "old": "record(s) without a MAC (written before records were chained)",
}


@dataclass
class Findings:
    """How many problems of one kind, and the first few of them (file and line)."""

    count: int = 0
    entries: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, message: str, count: int = 1) -> None:
        """One problem (`count` records: a gap or a chain spans several) and its place, kept if among the first."""
        self.count += count
        self.entries += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(message)


@dataclass
class _Chain:
    records: int = 0
    first_seq: int = -1
    next: int = 0
    prev: bytes = GENESIS
    last: str = ""
    checked: int = 0
    matched: int = 0
    bad: Findings = field(default_factory=Findings)
    key_ids: dict[str, int] = field(default_factory=dict)
    missing: list[tuple[int, int, str, str]] = field(default_factory=list)

    def fill(self, seq: int) -> bool:
        """Take an out-of-order seq out of the gaps; False if it was never missing (a repeated seq)."""
        for i, (lo, hi, before, after) in enumerate(self.missing):
            if lo <= seq <= hi:
                parts = [(a, b, before, after) for a, b in ((lo, seq - 1), (seq + 1, hi)) if a <= b]
                self.missing[i : i + 1] = parts
                return True
        return False


@dataclass
class AuditReport:
    """What `thinfile audit verify` found: records, torn lines, repeated request ids, and each chain's problems."""

    files: list[str] = field(default_factory=list)
    records: int = 0
    torn: list[tuple[str, int]] = field(default_factory=list)
    duplicates: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    quarantined_bytes: int = 0
    key_ids: dict[str, int] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    key_checked: bool = False
    key_id: str | None = None
    sealed: int = 0
    macs_checked: int = 0
    macs_matched: int = 0
    macs_after_gaps: int = 0
    """records not checked: each is the first after a gap in its chain, and its MAC chains from a missing record's"""
    other_keys: dict[str, int] = field(default_factory=dict)
    wrong_key: bool = False
    chains: dict[str, dict] = field(default_factory=dict)
    problems: dict[str, Findings] = field(default_factory=lambda: {kind: Findings() for kind in PROBLEMS})

    @property
    def verdict(self) -> Verdict:
        """fail: a problem found; incomplete: none, but some integrity could not be checked (no key, records from
        before chaining, chains written under another key, no records at all); pass: records, all checked."""
        failed = any(f.count for kind, f in self.problems.items() if kind != "old")
        if self.torn or self.duplicates or failed:
            return "fail"
        if not self.key_checked or self.problems["old"].count or self.other_keys or not self.records:
            return "incomplete"  # no records: nothing was checked, and an emptied log reads the same
        return "pass"

    @property
    def ok(self) -> bool:
        return self.verdict == "pass"


def verify(path: str | Path, key: bytes | None = None) -> AuditReport:
    """Read every file of the log under the writers' lock, shared (if it has one; see `read_locked`): count
    records, torn lines and repeated request ids, and check each chain's sequence (gaps, order) and, given the
    audit key, every record's MAC.

    A chain none of whose MACs match the key given, and whose records all name another key (`key_id`), was written
    under that key (a run with a key of its own): its MACs cannot be checked here, so its records are counted in
    `other_keys` and leave the verdict incomplete, not failed. A chain with a matching MAC is checked whole, so a
    record edited to name another key still fails; so does a chain naming the key given that matches none."""
    p = Path(path)
    while True:
        report, had_lock = _verify_once(p, key)
        if had_lock or not lock_path(p).exists():
            return report  # a writer that started while the log was read without a lock may have rotated it


def _verify_once(p: Path, key: bytes | None) -> tuple[AuditReport, bool]:
    report = AuditReport(key_checked=key is not None)
    if key is not None:
        report.key_id = key_id(key)
    keyed = hmac.new(key, digestmod=hashlib.sha256) if key is not None else None
    chains: dict[str, _Chain] = {}
    seen: set[bytes] = set()
    with read_locked(p) as had_lock:
        for f in log_files(p):
            report.files.append(str(f))
            for number, line, record in _lines(f):
                if record is None:
                    report.torn.append((str(f), number))
                    continue
                report.records += 1
                rid = str(record["request_id"])
                rkey = rid.encode()
                if rkey in seen:
                    report.duplicates += 1
                    if len(report.duplicate_ids) < 10:
                        report.duplicate_ids.append(rid)
                seen.add(rkey)
                kid = str(record.get("key_id", "none"))
                report.key_ids[kid] = report.key_ids.get(kid, 0) + 1
                t = record["time"]
                report.first = t if report.first is None or t < report.first else report.first
                report.last = t if report.last is None or t > report.last else report.last
                _check_chain(report, chains, keyed, f"{f} line {number}", line, record)
    for name, chain in chains.items():
        _close_chain(report, name, chain)
    report.wrong_key = bool(report.other_keys) and not report.macs_checked
    torn = torn_path(p)
    report.quarantined_bytes = torn.stat().st_size if torn.is_file() else 0
    return report, had_lock


def _check_chain(
    report: AuditReport, chains: dict[str, _Chain], keyed: hmac.HMAC | None, at: str, line: bytes, record: dict
) -> None:
    """One record's place in its chain: sequence, order and (with a key) MAC."""
    if not any(k in record for k in CHAIN_FIELDS):
        kind = "unsealed" if report.sealed else "old"
        report.problems[kind].add(at)
        return
    report.sealed += 1
    name, seq, parts = record.get("chain"), record.get("seq"), canonical_bytes(line)
    if not isinstance(name, str) or type(seq) is not int or seq < 0 or parts is None:
        report.problems["malformed"].add(f"{at}: chain, seq or mac missing or not as written")
        return
    canonical, mac = parts
    chain = chains.setdefault(name, _Chain(first_seq=seq))
    chain.records += 1
    kid = str(record.get("key_id", "none"))
    chain.key_ids[kid] = chain.key_ids.get(kid, 0) + 1
    if seq < chain.next:
        filled = chain.fill(seq)
        report.problems["order"].add(
            f"{at}: chain {name} seq {seq} after seq {chain.next - 1}" + ("" if filled else " (seq repeated)")
        )
        return
    if seq > chain.next:
        chain.missing.append((chain.next, seq - 1, chain.last, at))
    elif keyed is not None:
        chain.checked += 1
        report.macs_checked += 1
        if hmac.compare_digest(_mac(keyed, chain.prev, canonical), mac):
            chain.matched += 1
            report.macs_matched += 1
        else:
            chain.bad.add(f"{at} (chain {name} seq {seq})")
    chain.next, chain.prev, chain.last = seq + 1, mac, at


def _under_another_key(report: AuditReport, chain: _Chain) -> bool:
    """True for a chain written under a key other than the one given: no MAC matches and no record names the key
    given (nor lacks a key id)."""
    if report.key_id is None or chain.matched:
        return False
    return report.key_id not in chain.key_ids and "none" not in chain.key_ids


def _close_chain(report: AuditReport, name: str, chain: _Chain) -> None:
    for lo, hi, before, after in chain.missing:
        span = f"seq {lo}" if lo == hi else f"seq {lo}..{hi}"
        where = f"between {before} and {after}" if before else f"before {after} (its first record here)"
        report.problems["gap"].add(f"chain {name}: {span} missing, {where}", hi - lo + 1)
    if _under_another_key(report, chain):
        report.macs_checked -= chain.checked
        for kid, n in chain.key_ids.items():
            report.other_keys[kid] = report.other_keys.get(kid, 0) + n
        _record_chain(report, name, chain)
        return
    if report.key_checked:
        report.macs_after_gaps += len(chain.missing)
    if chain.checked and not chain.matched:
        report.problems["key"].add(f"chain {name}: none of its {chain.checked} checked MAC(s) match", chain.checked)
    elif chain.bad.count:
        edited = report.problems["edited"]
        edited.count += chain.bad.count
        edited.entries += chain.bad.entries
        edited.examples.extend(chain.bad.examples[: EXAMPLES - len(edited.examples)])
    _record_chain(report, name, chain)


def _record_chain(report: AuditReport, name: str, chain: _Chain) -> None:
    report.chains[name] = {
        "records": chain.records,
        "first_seq": chain.first_seq,
        "last_seq": chain.next - 1,
        "last": chain.last,
    }


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
    return scan_audit(path, query, limit).shown


@dataclass
class Tally:
    """What `summarise` counts, one record at a time. An error counting a record (a record without a model
    version) is kept and raised by `summary`, as `summarise` would raise it over the same records."""

    decisions: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    by_version: dict[str, int] = field(default_factory=dict)
    first: Any = None
    last: Any = None
    errors: list[Exception | None] = field(default_factory=lambda: [None, None, None])

    def add(self, r: dict) -> None:
        self.decisions += 1
        counts, low, high = self.errors
        if counts is None:
            try:
                self.by_decision[r["decision"]] = self.by_decision.get(r["decision"], 0) + 1
                self.by_version[str(r["model_version"])] = self.by_version.get(str(r["model_version"]), 0) + 1
            except Exception as err:
                self.errors[0] = err
        t = r["time"]
        if low is None:
            try:
                self.first = t if self.decisions == 1 or t < self.first else self.first
            except Exception as err:
                self.errors[1] = err
        if high is None:
            try:
                self.last = t if self.decisions == 1 or t > self.last else self.last
            except Exception as err:
                self.errors[2] = err

    def summary(self) -> dict:
        """As `summarise` (counting first, then the earliest time, then the latest: so its first error)."""
        for err in self.errors:
            if err is not None:
                raise err
        return {
            "decisions": self.decisions,
            "by_decision": self.by_decision,
            "by_model_version": self.by_version,
            "first": self.first,
            "last": self.last,
        }


@dataclass
class AuditScan:
    """One pass over the log: the matches to show (the most recent `limit`, all without one) and a tally of all."""

    shown: list[dict]
    tally: Tally


def scan_audit(path: str | Path, query: AuditQuery = AuditQuery(), limit: int | None = None) -> AuditScan:
    """The records matching `query` across the rotated files and the active one, oldest first, keeping only the
    most recent `limit` of them (all if none) while tallying every match; as `query_audit` read them."""
    files = log_files(path)
    if not files:
        raise FileNotFoundError(f"no audit log at {path}; the service writes one when it scores (THINFILE_AUDIT_LOG)")
    tally = Tally()
    kept: deque[dict] | list[dict] = deque(maxlen=limit) if limit and limit > 0 else []
    needles = _needles(query)
    for f in files:
        found = _candidates(f, needles) if needles else (r for _, r in read_audit(f) if r is not None)
        for r in found:
            if query.matches(r):
                tally.add(r)
                kept.append(r)
    shown = list(kept)
    return AuditScan(shown[-limit:] if limit and limit < 0 else shown, tally)


def _needles(query: AuditQuery) -> tuple[bytes, ...]:
    """Bytes every line holding a match contains, unless it holds a backslash or a NUL (see `_candidates`).

    A JSON string without escapes is its characters in UTF-8 between quotes (as `json.loads` decodes bytes, with
    surrogatepass), so a record whose request id, input HMAC or decision equals the filter's, on a line with no
    backslash, has `"<value>"` in it, whichever encoder wrote it. The model version matches by `str()`, so a record
    may hold it as a number: an integer's digits hold the filter's (1, or -0 for 0); a filter that is a float's
    str ("1.0", "1e+20", "nan", "inf"), or None, True or False (the str of null, a missing version, true, false)
    has no such bytes, so it gives no needle and those lines are parsed."""
    needles = [
        b'"' + value.encode("utf-8", "surrogatepass") + b'"'
        for value in (query.request_id, query.input_hmac, query.decision)
        if value
    ]
    version = str(query.model_version) if query.model_version else ""
    if version and version not in ("None", "True", "False") and (_INTEGER.fullmatch(version) or not _float(version)):
        needles.append(version.encode("utf-8", "surrogatepass"))
    return tuple(needles)


_INTEGER = re.compile(r"-?[0-9]+")
_SCAN = 1 << 20


def _float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _candidates(path: Path, needles: tuple[bytes, ...]) -> Iterator[dict]:
    """The records of one file (as `read_audit` reads them: glued ones too) on the lines that hold every needle,
    or a backslash (an escape: the bytes of a value may differ from its characters) or a NUL (a line `json.loads`
    would read as UTF-16 or -32). Other lines hold no match and are not parsed. Read in blocks of whole lines."""
    with open(path, "rb") as fh:
        carried: list[bytes] = []
        while chunk := fh.read(_SCAN):
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                carried.append(chunk)  # a line longer than a block: read on to its end
                continue
            block = b"".join([*carried, chunk[:cut]]) if carried else chunk[:cut]
            carried = [chunk[cut:]] if cut < len(chunk) else []
            yield from _block_records(block, needles)
        if carried:
            yield from _block_records(b"".join(carried), needles)


def _block_records(block: bytes, needles: tuple[bytes, ...]) -> Iterator[dict]:
    """The records on the candidate lines of a block of lines (each ends with a newline but perhaps the last)."""
    if b"\\" in block or b"\0" in block:
        lines = block.split(b"\n")
        last = lines.pop()
        candidates: Iterable[bytes] = (
            line
            for line in [*(x + b"\n" for x in lines), *([last] if last else [])]
            if b"\\" in line or b"\0" in line or all(n in line for n in needles)
        )
    else:
        candidates = _lines_with(block, needles)
    for line in candidates:
        record = _record(line) if line.endswith(b"\n") else None
        if record is None:
            glued = _glued(line)
            record = None if glued is None else glued[1]
        if record is not None:
            yield record


def _lines_with(block: bytes, needles: tuple[bytes, ...]) -> Iterator[bytes]:
    """The lines of a block that hold every needle, found by searching the block for the first."""
    first, rest = needles[0], needles[1:]
    at = block.find(first)
    while at >= 0:
        start = block.rfind(b"\n", 0, at) + 1
        end = block.find(b"\n", at) + 1 or len(block)
        line = block[start:end]
        if all(n in line for n in rest):
            yield line
        at = block.find(first, end)


def summarise(records: list[dict]) -> dict:
    """Counts by decision and by model version, and the time span covered."""
    tally = Tally()
    for r in records:
        tally.add(r)
    return tally.summary()
