"""Ports for the servers tests start: below the kernel's ephemeral range, so that no client socket takes one.

A port the kernel hands out (bind to port 0) is an ephemeral port, the range every outgoing connection also
draws its local port from: Spark's JVM, running beside the server tests, opens many, and one of them can hold a
test's port between the test picking it and its server (or a rebind) taking it. Ports below that range are
given only to those who ask for them by number.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 10_000


def _ephemeral_start() -> int:
    try:
        return int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default; other systems start theirs higher still


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing is bound to now, picked at random below the ephemeral range."""
    top = max(_ephemeral_start(), _LOWEST + 1_000)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(_LOWEST, top)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {_LOWEST} and {top} on {host}")
