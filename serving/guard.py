"""ASGI middleware in front of the service: API key, loopback-only without a key, JSON only, bounded bodies, and
the scoring routes' bodies read and checked here, so that a refused request costs no more than reading it."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from thinfile.serving.contract import BadRequest, printable
from thinfile.serving.settings import is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics", "/", "/docs", "/docs.json", "/schema.json"})
OPEN_PREFIXES = ("/static_content/",)
JSON_TYPES = frozenset({b"", b"application/json"})
UTF_8 = frozenset({b"", b"utf-8", b"utf8"})
PARSED = "thinfile.parsed"
"""Key in the request's `scope["state"]` under which the Guard leaves what a route's reader made of the body."""

log = logging.getLogger("thinfile.serving")


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "what went wrong and what to do"}},
}
BAD_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "BadRequest",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "how many problems, and the first one"},
        "detail": {
            "type": "array",
            "description": "at most a few problems (THINFILE_MAX_ERRORS), each naming a field, never its value",
            "items": {
                "type": "object",
                "required": ["type", "loc", "msg"],
                "properties": {
                    "type": {"type": "string"},
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
}


def _response(description: str, schema: dict[str, Any] | None = ERROR_SCHEMA) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


GUARD_RESPONSES = {
    "401": _response("missing or wrong API key (when the service has one)"),
    "403": _response("no API key is set and the request came from beyond loopback"),
}
SCORING_RESPONSES = {
    "400": _response("the body is not a valid request: a few problems, each naming a field", BAD_REQUEST_SCHEMA),
    **GUARD_RESPONSES,
    "408": _response("the body did not arrive whole within the service's body timeout"),
    "413": _response("the body is larger than the route's bound"),
    "415": _response("the body is not JSON, is declared in a charset other than UTF-8, or is compressed"),
    "503": _response("the model is still loading, or the audit log cannot be written: no decision was made"),
}


def whole_numbers_as_read(node: Any) -> Any:
    """A request schema's `"type": "integer"` as the reader takes it: a JSON number with no fraction, 9 or 9.0 (as
    batch-score reads "9.0" in a book), which OpenAPI 3.0's integer (no fraction part written) would refuse."""
    if isinstance(node, list):
        return [whole_numbers_as_read(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: whole_numbers_as_read(v) for k, v in node.items()}
    if node.get("type") == "integer":
        node = {**node, "type": "number", "multipleOf": 1}
    return node


def nullable_for_openapi_3_0(node: Any) -> Any:
    """JSON Schema's `anyOf: [X, {"type": "null"}]` (what pydantic writes) as OpenAPI 3.0's `X, nullable: true`
    (BentoML states 3.0, where a "null" type does not exist, so tools read the field as never null)."""
    if isinstance(node, list):
        return [nullable_for_openapi_3_0(x) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: nullable_for_openapi_3_0(v) for k, v in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        others = [o for o in options if o != {"type": "null"}]
        if len(others) == 1 and "$ref" not in others[0]:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return {**others[0], **rest, "nullable": True}
        node["anyOf"] = others
        node["nullable"] = True
    return node


def package_version() -> str:
    """The installed thinfile's version ("unknown" for a tree that is not installed)."""
    try:
        return metadata.version("thinfile")
    except metadata.PackageNotFoundError:
        return "unknown"


def document(
    spec: dict[str, Any],
    extra_paths: Mapping[str, Any] | None = None,
    request_schemas: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document with what the service really takes and answers, in OpenAPI 3.0's words: the request
    bodies as the reader checks them (BentoML's flattened copy drops `null` from optional fields), and the answers
    of the Guard and the service (BentoML's says a 400 carries a string `detail`, knows no 401, 403, 413, 415, 503).
    `request_schemas` are JSON schemas whose references point at #/components/schemas, with their `$defs`."""
    spec = json.loads(json.dumps(spec))
    info = spec.setdefault("info", {})
    if info.get("version") in (None, "None"):  # BentoML 1.4 writes "None" for a service not served from a Bento
        info["version"] = package_version()
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    paths = spec.setdefault("paths", {})
    paths.update(extra_paths or {})
    for path, body in (request_schemas or {}).items():
        body = whole_numbers_as_read(dict(body))
        schemas.update(body.pop("$defs", {}))
        operation = paths.get(path, {}).get("post")
        if operation is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    for path, item in paths.items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            if method == "post" and path in ("/score", "/score_batch"):
                responses.update(SCORING_RESPONSES)
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = True
            elif path not in OPEN_PATHS:
                responses.update(GUARD_RESPONSES)
            if path in ("/readyz", "/livez"):
                responses["503"] = _response("not ready: the model is loading (or failed to load)", None)
    if str(spec.get("openapi", "3.0")).startswith("3.0"):
        spec = nullable_for_openapi_3_0(spec)
    return spec


@dataclass(frozen=True)
class Route:
    """A scoring route: its own body bound, the reader that turns a body into the endpoint's input, and what to do
    about a body over the bound."""

    max_body_bytes: int
    read: Callable[[bytes], object]
    too_large: str = "send fewer applicants per request"


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key from `Authorization: Bearer <key>` or `X-API-Key: <key>`."""
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip()
    return None


def _charset(params: list[bytes]) -> bytes:
    """The charset parameter of a Content-Type (lower case, unquoted), or b"" when none is given."""
    for param in params:
        name, _, value = param.partition(b"=")
        if name.strip() == b"charset":
            return value.strip().strip(b'"')
    return b""


def _header(headers: list[tuple[bytes, bytes]], wanted: bytes) -> bytes | None:
    for name, value in headers:
        if name == wanted:
            return value
    return None


async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
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


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    error: str,
    extra: dict | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes | None = None,
) -> None:
    """Answer `status` with {"error": ...} and log it as one INFO line (no traceback, no request content)."""
    log.info("%s %s -> %d: %s", scope.get("method", "-"), printable(scope.get("path", "-")), status, error)
    await _send_json(send, status, body or json.dumps({"error": error, **(extra or {})}).encode(), headers)


class Guard:
    """Refuses a request before the service sees it: 401 without the key, 413 too large, 415 not JSON, and 400 for
    a scoring body its route's reader refuses (at most a few errors, each naming a field)."""

    def __init__(
        self,
        app: ASGIApp,
        api_key: str | None = None,
        max_body_bytes: int = 4 * 1024 * 1024,
        routes: Mapping[str, Route] | None = None,
        extra_paths: Mapping[str, Any] | None = None,
        request_schemas: Mapping[str, dict[str, Any]] | None = None,
        body_timeout_s: float = 10.0,
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.key = api_key.encode() if api_key else None
        self.max_body = max_body_bytes
        self.routes = dict(routes or {})
        self.extra_paths = dict(extra_paths or {})
        self.request_schemas = dict(request_schemas or {})

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
                    await refuse(
                        scope,
                        send,
                        403,
                        "this service has no API key and answers on loopback only; "
                        "set THINFILE_API_KEY to serve beyond this machine",
                    )
                    return
            else:
                given = presented_key(headers)
                if given is None or not hmac.compare_digest(given, self.key):
                    await refuse(
                        scope,
                        send,
                        401,
                        "missing or wrong API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                        headers=[(b"www-authenticate", b"Bearer")],
                    )
                    return
        if scope["method"] != "POST":
            if path == "/docs.json":
                send = _documented(send, self.extra_paths, self.request_schemas)
            await self.app(scope, receive, send)
            return
        media, *params = (_header(headers, b"content-type") or b"").lower().split(b";")
        media = media.strip()
        if media not in JSON_TYPES:
            await refuse(
                scope,
                send,
                415,
                f"the body must be JSON (Content-Type: application/json), got {media.decode('latin-1')[:40]!r}",
            )
            return
        charset = _charset(params)
        if charset not in UTF_8:
            await refuse(
                scope,
                send,
                415,
                f"the body must be UTF-8 JSON, as JSON is exchanged; got charset {charset.decode('latin-1')[:40]!r}",
            )
            return
        encoding = (_header(headers, b"content-encoding") or b"").strip().lower()
        if encoding not in (b"", b"identity"):
            await refuse(
                scope,
                send,
                415,
                f"Content-Encoding {encoding.decode('latin-1')[:40]!r} is not supported: send the body uncompressed",
            )
            return
        route = self.routes.get(path)
        limit = route.max_body_bytes if route else self.max_body
        length = _header(headers, b"content-length")
        if length is not None and _header(headers, b"transfer-encoding") is not None:
            await refuse(  # a proxy that reads the other framing would see another request here (smuggling)
                scope,
                send,
                400,
                "both Content-Length and Transfer-Encoding were sent: send one (RFC 9112 section 6.3)",
                headers=[(b"connection", b"close")],
            )
            return
        if length is not None:
            if not length.isdigit():
                await refuse(scope, send, 400, "Content-Length is not a number")
                return
            if int(length) > limit:
                await self._too_large(scope, send, limit, route)
                return
            if route is None:
                await self.app(scope, receive, send)
                return
        try:
            async with asyncio.timeout(self.body_timeout_s):  # no task of its own, unlike wait_for
                body = await self._read_bounded(receive, limit)
        except TimeoutError:
            await refuse(
                scope,
                send,
                408,
                f"the body did not arrive whole within {self.body_timeout_s:g} s; send it at once",
                headers=[(b"connection", b"close")],
            )
            return
        if body is None:
            await self._too_large(scope, send, limit, route)
            return
        if route is not None:
            try:
                parsed = route.read(body)
            except BadRequest as err:
                await refuse(scope, send, 400, err.summary, body=err.body())
                return
            scope.setdefault("state", {})[PARSED] = parsed
        await self.app(scope, _replay(body, receive), send)

    @staticmethod
    async def _read_bounded(receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _too_large(scope: Scope, send: Send, limit: int, route: Route | None) -> None:
        advice = route.too_large if route else "send a smaller body"
        await refuse(
            scope,
            send,
            413,
            f"request body larger than {limit:,} bytes; {advice}",
            {"max_body_bytes": limit},
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


def _documented(send: Send, extra_paths: Mapping[str, Any], request_schemas: Mapping[str, dict[str, Any]]) -> Send:
    """A send() that passes the OpenAPI document on with `document` applied (other answers untouched)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def patched(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        if start["status"] == 200:
            body = json.dumps(document(json.loads(body), extra_paths, request_schemas)).encode()
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return patched
