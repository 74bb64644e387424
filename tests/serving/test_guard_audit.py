"""The ASGI guard (key, loopback, JSON, size) and the audit log, without starting a server."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from thinfile.serving.audit import (
    AUDIT_FIELDS,
    AuditLog,
    AuditQuery,
    audit_record,
    query_audit,
    summarise,
)
from thinfile.serving.contract import BadRequest
from thinfile.serving.guard import PARSED, Guard, Route, document, nullable_for_openapi_3_0
from thinfile.serving.settings import ServingSettings
from thinfile.serving.startup import ServiceStartError, bind_host, check_access

KEY = "s3cret-key"
AUDIT_KEY = "audit-secret-0123456789"


async def echo(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps({"bytes": len(body)}).encode()})


def call(app, method: str = "POST", path: str = "/score", server: str = "127.0.0.1", **kwargs) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 5000))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{server}:3000") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def test_key_required_when_set_and_compared_exactly() -> None:
    app = Guard(echo, api_key=KEY)
    assert call(app, json={}).status_code == 401
    assert call(app, json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert call(app, json={}, headers={"Authorization": f"Bearer {KEY}x"}).status_code == 401
    assert call(app, json={}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert call(app, json={}, headers={"X-API-Key": KEY}).status_code == 200
    assert call(app, "GET", "/model").status_code == 401
    assert call(app, "GET", "/readyz").status_code == 200


def test_without_a_key_only_loopback_is_served() -> None:
    app = Guard(echo, api_key=None)
    assert call(app, json={}).status_code == 200
    refused = call(app, json={}, server="10.1.2.3")
    assert refused.status_code == 403 and "THINFILE_API_KEY" in refused.json()["error"]
    assert call(app, "GET", "/livez", server="10.1.2.3").status_code == 200


def test_non_json_bodies_get_415() -> None:
    response = call(Guard(echo), content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and "application/json" in response.json()["error"]
    assert (
        call(Guard(echo), content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 200
    )


@pytest.mark.parametrize("charset", ["utf-16", '"UTF-16LE"', "latin-1"])
def test_a_body_declared_in_another_charset_than_utf8_gets_415_naming_it(charset: str) -> None:
    body = "{}".encode("utf-16") if "16" in charset else b"{}"
    response = call(Guard(echo), content=body, headers={"Content-Type": f"application/json; charset={charset}"})
    assert response.status_code == 415
    assert "UTF-8" in response.json()["error"] and charset.strip('"').lower() in response.json()["error"]


def test_bodies_beyond_the_bound_get_413_with_or_without_content_length() -> None:
    app = Guard(echo, max_body_bytes=1024)
    assert call(app, content=b"x" * 1024, headers={"Content-Type": "application/json"}).json() == {"bytes": 1024}
    assert call(app, content=b"x" * 1025, headers={"Content-Type": "application/json"}).status_code == 413

    async def chunks(n: int):
        for _ in range(n):
            yield b"x" * 512

    assert call(app, content=chunks(3), headers={"Content-Type": "application/json"}).status_code == 413
    assert call(app, content=chunks(2), headers={"Content-Type": "application/json"}).json() == {"bytes": 1024}


def test_a_body_that_trickles_in_past_the_body_timeout_gets_408_not_the_servers_timeout() -> None:
    app = Guard(echo, max_body_bytes=1024, body_timeout_s=0.2)

    async def trickle():
        for _ in range(10):
            await asyncio.sleep(0.05)
            yield b"x"

    response = call(app, content=trickle(), headers={"Content-Type": "application/json"})
    assert response.status_code == 408
    assert response.json() == {"error": "the body did not arrive whole within 0.2 s; send it at once"}
    assert response.headers["connection"] == "close"


def test_the_body_timeout_must_be_below_the_request_timeout() -> None:
    with pytest.raises(ValueError, match=r"body_timeout_s \(30\) must be below timeout_s \(30\)"):
        ServingSettings(body_timeout_s=30, timeout_s=30)


@pytest.mark.parametrize("encoding", ["gzip", "br", "GZIP, identity"])
def test_a_compressed_body_gets_415_naming_its_encoding(encoding: str) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    response = call(Guard(echo), content=b"{}", headers=headers)
    assert response.status_code == 415
    assert response.json()["error"].startswith(f"Content-Encoding {encoding.lower()!r} is not supported")


def strict_reader(body: bytes) -> dict:
    data = json.loads(body)
    if "bad" in data:
        raise BadRequest("1 problem with the applicant (first: bad: unknown field 'bad')", [{"loc": ["bad"]}])
    return data


async def parsed_echo(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(scope["state"][PARSED]).encode()})


def test_a_scoring_route_gets_what_its_reader_made_of_the_body() -> None:
    app = Guard(parsed_echo, routes={"/score": Route(1024, strict_reader)})
    assert call(app, json={"a": 1}).json() == {"a": 1}


def test_a_body_the_reader_refuses_is_answered_400_without_reaching_the_service(caplog) -> None:
    app = Guard(parsed_echo, routes={"/score": Route(1024, strict_reader)})
    with caplog.at_level("INFO", logger="thinfile.serving"):
        refused = call(app, json={"bad": "applicant-secret"})
    assert refused.status_code == 400 and refused.json()["detail"] == [{"loc": ["bad"]}]
    (record,) = caplog.records
    assert record.levelname == "INFO" and record.exc_info is None and "applicant-secret" not in record.getMessage()


def test_each_scoring_route_has_its_own_body_bound() -> None:
    app = Guard(echo, max_body_bytes=4096, routes={"/score": Route(1024, strict_reader)})
    body = json.dumps({"a": "x" * 2000}).encode()
    assert call(app, content=body, headers={"Content-Type": "application/json"}).status_code == 413
    assert call(app, path="/other", content=body, headers={"Content-Type": "application/json"}).status_code == 200


def test_serving_beyond_loopback_without_a_key_refuses_to_start() -> None:
    with pytest.raises(ServiceStartError, match="THINFILE_API_KEY"):
        check_access(ServingSettings(), "0.0.0.0")
    check_access(ServingSettings(), "127.0.0.1")
    with pytest.raises(ServiceStartError, match="THINFILE_AUDIT_KEY"):
        check_access(ServingSettings(api_key=KEY), "0.0.0.0")
    check_access(ServingSettings(api_key=KEY, audit_key=AUDIT_KEY), "0.0.0.0")
    assert bind_host(["bentoml", "serve", "x:Y", "--host", "10.0.0.1"]) == "10.0.0.1"
    assert bind_host(["bentoml", "serve", "x:Y", "--host=::1"]) == "::1"


def test_api_key_file_is_read_and_a_missing_one_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"{KEY}\n")
    monkeypatch.setenv("THINFILE_API_KEY_FILE", str(key_file))
    assert ServingSettings.from_env().api_key == KEY
    assert KEY not in repr(ServingSettings.from_env())
    monkeypatch.setenv("THINFILE_API_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="THINFILE_API_KEY_FILE"):
        ServingSettings.from_env()


def record(i: int, decision: str, version: str = "3", when: datetime | None = None) -> dict:
    return audit_record(
        f"r{i}",
        "thinfile-scorer",
        version,
        f"{i:064x}",
        "0123456789ab",
        600.0 + i,
        decision,
        [{"code": "bureau_utilisation", "text": "t", "value": 0.93, "points_lost": 4.2, "hint": None}],
        time=when,
    )


def test_audit_holds_codes_and_points_never_values(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log:  # at a fixed time: a clock reading 20.933632 s holds "0.93" too
        log.append([record(1, "approve", when=datetime(2026, 1, 1, tzinfo=UTC))])
    (line,) = path.read_text().splitlines()
    stored = json.loads(line)
    assert tuple(stored) == AUDIT_FIELDS
    assert stored["reasons"] == [{"code": "bureau_utilisation", "points_lost": 4.2}]
    assert "0.93" not in line


def test_audit_query_filters_and_skips_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with AuditLog(path) as log:
        log.append(
            [
                record(
                    i, "approve" if i % 2 else "decline", version="1" if i < 3 else "2", when=t0 + timedelta(hours=i)
                )
                for i in range(6)
            ]
        )
    with open(path, "a") as fh:
        fh.write('{"request_id": "half-writ')
    assert [r["request_id"] for r in query_audit(path, AuditQuery(decision="decline"))] == ["r0", "r2", "r4"]
    assert [r["request_id"] for r in query_audit(path, AuditQuery(model_version="2"))] == ["r3", "r4", "r5"]
    assert [r["request_id"] for r in query_audit(path, AuditQuery(since=t0 + timedelta(hours=4)))] == ["r4", "r5"]
    assert [r["request_id"] for r in query_audit(path, AuditQuery(until=datetime(2026, 1, 1, 1)))] == ["r0"]
    assert [r["request_id"] for r in query_audit(path, limit=2)] == ["r4", "r5"]
    assert summarise(query_audit(path))["by_decision"] == {"decline": 3, "approve": 3}
    with pytest.raises(FileNotFoundError, match="THINFILE_AUDIT_LOG"):
        query_audit(tmp_path / "none.jsonl")


def test_the_openapi_document_states_the_answers_the_guard_gives() -> None:
    spec = {"paths": {"/score": {"post": {"requestBody": {}, "responses": {"200": {}}}}, "/readyz": {"get": {}}}}

    async def openapi(scope, receive, send) -> None:
        body = json.dumps(spec).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    served = call(Guard(openapi, api_key=KEY, extra_paths={"/model": {"get": {}}}), "GET", "/docs.json").json()
    score = served["paths"]["/score"]["post"]
    assert set(score["responses"]) == {"200", "400", "401", "403", "408", "413", "415", "503"}
    assert score["requestBody"]["required"] is True
    assert score["responses"]["400"]["content"]["application/json"]["schema"]["properties"]["detail"]["type"] == "array"
    assert set(served["paths"]["/model"]["get"]["responses"]) == {"401", "403"}
    assert "503" in served["paths"]["/readyz"]["get"]["responses"]


def test_the_openapi_document_gives_the_installed_packages_version_where_bentoml_writes_none() -> None:
    spec = {"info": {"title": "thinfile", "version": "None"}, "paths": {}}
    assert document(spec)["info"]["version"] == importlib.metadata.version("thinfile")
    assert document({"info": {"version": "7"}, "paths": {}})["info"]["version"] == "7"


def test_nullable_fields_are_written_as_openapi_3_0_says() -> None:
    field = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}], "default": None, "title": "T"}
    assert nullable_for_openapi_3_0({"properties": {"x": field}}) == {
        "properties": {"x": {"type": "integer", "minimum": 0, "default": None, "title": "T", "nullable": True}}
    }
    ref = {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "null"}]}
    assert nullable_for_openapi_3_0(ref) == {"anyOf": [{"$ref": "#/components/schemas/A"}], "nullable": True}


def test_a_body_over_a_routes_bound_is_told_what_that_route_needs() -> None:
    app = Guard(echo, max_body_bytes=4096, routes={"/score": Route(1024, strict_reader, "send only the inputs")})
    body = json.dumps({"a": "x" * 2000}).encode()
    refused = call(app, content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413 and refused.json()["error"].endswith("; send only the inputs")
