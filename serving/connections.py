"""Two limits uvicorn (under BentoML 1.4) leaves unset: how long a request's headers may take to arrive, and how many
connections one worker holds. Without them a client that opens connections and sends its headers a byte at a time
holds each one for good, until the worker runs out of file descriptors and answers nobody (measured: 20,000 such
connections from one host silenced a worker, /readyz included). The body's own limit is the Guard's."""

from __future__ import annotations

import asyncio
import json
import logging
import resource

import uvicorn.config
from uvicorn.protocols.http.h11_impl import H11Protocol

FD_RESERVE = 64
"""File descriptors a worker keeps beyond its connections: the model, the store, the audit log, the event loop."""


def error_answer(status: str, error: str, *headers: str) -> bytes:
    """A whole HTTP/1.1 answer, {"error": ...} as the service's other refusals, closing the connection (written
    before any ASGI app runs)."""
    body = json.dumps({"error": error}).encode()
    head = [f"HTTP/1.1 {status}", "content-type: application/json", f"content-length: {len(body)}", *headers]
    return "\r\n".join([*head, "connection: close", "", ""]).encode() + body


HEADERS_LATE = error_answer("408 Request Timeout", "the request's headers arrived too slowly")
TOO_MANY = error_answer("503 Service Unavailable", "this worker holds too many connections; retry", "retry-after: 1")

log = logging.getLogger("thinfile.serving")


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol, with a request's headers due within `header_timeout_s` of their first byte (or of
    the connection: 408, closed) and at most `max_connections` open per worker (one more: 503, closed)."""

    header_timeout_s: float = 10.0
    max_connections: int = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._headers_due: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(TOO_MANY)
            transport.close()
            return
        self._expect_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._between_requests():
            self._expect_headers()
        else:
            self._headers_arrived()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _expect_headers(self) -> None:
        if self._headers_due is None:
            self._headers_due = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _headers_arrived(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if self._between_requests() and not self.transport.is_closing():
            self.transport.write(HEADERS_LATE)
            self.transport.close()


def connection_limit(max_connections: int) -> int:
    """`max_connections`, or fewer when the process may not open that many files (beside FD_RESERVE)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return max_connections
    return max(1, min(max_connections, soft - FD_RESERVE))


def guard_connections(header_timeout_s: float, max_connections: int) -> int:
    """Make the uvicorn servers this process starts use GuardedH11 with these limits; the connection limit in
    force (lowered to what the process's file limit allows)."""
    limit = connection_limit(max_connections)
    if limit < max_connections:
        log.warning(
            "max_connections lowered from %d to %d: this process may open %d files (raise `ulimit -n` to allow more)",
            max_connections,
            limit,
            limit + FD_RESERVE,
        )
    GuardedH11.header_timeout_s = header_timeout_s
    GuardedH11.max_connections = limit
    for name in ("auto", "h11"):
        uvicorn.config.HTTP_PROTOCOLS[name] = f"{__name__}:GuardedH11"
    return limit
