"""The two limits the service adds to uvicorn, against a real uvicorn server on loopback: headers due within a
time, and a worker's connections capped."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from ports import free_port

from thinfile.serving.connections import FD_RESERVE, GuardedH11

HEADER_TIMEOUT_S = 0.5
MAX_CONNECTIONS = 4


async def hello(scope: dict, receive: object, send: object) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


class Limited(GuardedH11):
    header_timeout_s = HEADER_TIMEOUT_S
    max_connections = MAX_CONNECTIONS


@pytest.fixture
def port() -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(hello, host="127.0.0.1", port=port, http=Limited, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(5)


def answer(conn: socket.socket, wait: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection (or `wait` s pass), and when it closed."""
    conn.settimeout(wait)
    start, got = time.monotonic(), b""
    try:
        while chunk := conn.recv(4096):
            got += chunk
    except TimeoutError:
        return got, float("inf")
    return got, time.monotonic() - start


def test_headers_that_do_not_arrive_in_time_get_408_and_the_connection_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\n")
        got, closed_after = answer(conn, 5)
    assert got.startswith(b"HTTP/1.1 408 ")
    assert json.loads(got.split(b"\r\n\r\n", 1)[1]) == {"error": "the request's headers arrived too slowly"}
    assert HEADER_TIMEOUT_S * 0.8 <= closed_after < HEADER_TIMEOUT_S + 2


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        got, closed_after = answer(conn, 5)
    assert got.startswith(b"HTTP/1.1 408 ") and closed_after < HEADER_TIMEOUT_S + 2


def test_the_next_request_on_a_kept_alive_connection_is_held_to_the_same_limit(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.settimeout(5)
        first = b""
        while not first.endswith(b"\r\n\r\nok"):
            first += conn.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 ")
        conn.sendall(b"GET / HTTP/1.1\r\n")
        got, closed_after = answer(conn, 5)
    assert got.startswith(b"HTTP/1.1 408 ") and closed_after < HEADER_TIMEOUT_S + 2


def test_a_request_slower_than_the_header_timeout_in_all_but_its_headers_is_answered(port: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(3):
            assert client.get("/").status_code == 200
            time.sleep(HEADER_TIMEOUT_S * 0.3)


def test_a_connection_beyond_the_limit_gets_503_while_those_held_stay_open(port: int) -> None:
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", port)) as extra:
            got, closed_after = answer(extra, 2)
        assert got.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in got and closed_after < 1
        held[0].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        held[0].settimeout(2)
        assert held[0].recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        for conn in held:
            conn.close()


def test_the_connection_limit_leaves_room_under_the_processes_file_limit() -> None:
    soft = 256
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    code = (
        "import resource; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
        "from thinfile.serving.connections import connection_limit; "
        "print(connection_limit(1000), connection_limit(10))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(soft - FD_RESERVE), "10"]
