"""Append-only audit log of decisions (JSON lines) and queries over it. It never holds raw applicant fields."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

AUDIT_FIELDS = ("request_id", "time", "model", "model_version", "input_sha256", "score", "decision", "reasons")


def audit_record(
    request_id: str,
    model: str,
    model_version: str,
    input_sha256: str,
    score: float,
    decision: str,
    reasons: list[dict],
    time: datetime | None = None,
) -> dict:
    """One decision: ids, hash of the input, score, decision and reason codes with points lost (no values)."""
    return {
        "request_id": request_id,
        "time": (time or datetime.now(UTC)).isoformat(timespec="microseconds"),
        "model": model,
        "model_version": model_version,
        "input_sha256": input_sha256,
        "score": score,
        "decision": decision,
        "reasons": [{"code": r["code"], "points_lost": r["points_lost"]} for r in reasons],
    }


class AuditLog:
    """JSON-lines file opened for appending; each call is one write(2), so processes may share the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def append(self, records: Iterable[dict]) -> None:
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class AuditQuery:
    """Filters over the audit log; None means any."""

    request_id: str | None = None
    input_sha256: str | None = None
    decision: str | None = None
    model_version: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, record: dict) -> bool:
        if self.request_id and record.get("request_id") != self.request_id:
            return False
        if self.input_sha256 and record.get("input_sha256") != self.input_sha256:
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


def read_audit(path: str | Path) -> Iterator[tuple[int, dict | None]]:
    """(line number, record) for every line; None for a line that is not a complete JSON record."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                yield number, None
                continue
            yield number, record if isinstance(record, dict) else None


def query_audit(path: str | Path, query: AuditQuery = AuditQuery(), limit: int | None = None) -> list[dict]:
    """Records matching `query`, oldest first; `limit` keeps the most recent ones."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no audit log at {p}; the service writes one when it scores (THINFILE_AUDIT_LOG)")
    found = [r for _, r in read_audit(p) if r is not None and query.matches(r)]
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
