"""ASGI middleware in front of the service: API key, loopback-only without a key, JSON only, bounded bodies."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from thinfile.serving.settings import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics", "/", "/docs", "/docs.json", "/schema.json"})
OPEN_PREFIXES = ("/static_content/",)
JSON_TYPES = frozenset({b"", b"application/json"})


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


async def _reply(
    send: Send, status: int, error: str, extra: dict | None = None, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": error, **(extra or {})}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Refuses a request before the service sees it: 401 without the key, 413 too large, 415 not JSON."""

    def __init__(self, app: ASGIApp, api_key: str | None = None, max_body_bytes: int = 4 * 1024 * 1024) -> None:
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = scope["headers"]
        if path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
            if self.key is None:
                server = scope.get("server")
                if server and not is_loopback(server[0]):
                    await _reply(
                        send,
                        403,
                        "this service has no API key and answers on loopback only; "
                        "set THINFILE_API_KEY to serve beyond this machine",
                    )
                    return
            else:
                given = presented_key(headers)
                if given is None or not hmac.compare_digest(given, self.key):
                    await _reply(
                        send,
                        401,
                        "missing or wrong API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                        headers=[(b"www-authenticate", b"Bearer")],
                    )
                    return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        media = (_header(headers, b"content-type") or b"").split(b";")[0].strip().lower()
        if media not in JSON_TYPES:
            await _reply(
                send, 415, f"the body must be JSON (Content-Type: application/json), got {media.decode('latin-1')!r}"
            )
            return
        length = _header(headers, b"content-length")
        if length is not None:
            if not length.isdigit():
                await _reply(send, 400, "Content-Length is not a number")
                return
            if int(length) > self.max_body:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)
            return
        body = await self._read_bounded(receive)
        if body is None:
            await self._too_large(send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_bounded(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await _reply(
            send,
            413,
            f"request body larger than {self.max_body} bytes; split the batch",
            {"max_body_bytes": self.max_body},
        )


def _replay(body: bytes, downstream: Receive) -> Receive:
    """A receive() that hands over the already-read body once, then waits on the connection as usual."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await downstream()

    return receive
