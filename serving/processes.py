"""Servers that stop with whoever started them: a parent-death signal, exec, and a process group that is forwarded
SIGTERM/SIGINT and emptied on the way out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from thinfile.features.lifetime import die_with_parent

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


SERVER_PID = "THINFILE_SERVER_PID"
"""Environment variable a server sets to its process id, so that its workers know which parent to die with."""


def die_with_server() -> None:
    """In a worker of a server that set SERVER_PID: die with that server, even if it died before this call."""
    server = os.environ.get(SERVER_PID, "")
    if server.isdigit() and int(server) != os.getpid():
        die_with_parent(parent=int(server))


def mark_server() -> None:
    """In a server, before it starts workers: die with whatever started it; tell the workers whom to die with."""
    die_with_parent()
    os.environ[SERVER_PID] = str(os.getpid())


def exec_server(cmd: Sequence[str], env: Mapping[str, str], grace_s: float) -> None:
    """Become the server's supervisor (same process id, no wrapper left to orphan it; it keeps the parent-death
    signal across exec), which runs `cmd` in a process group of its own (`supervise`)."""
    sys.stdout.flush()
    sys.stderr.flush()
    die_with_parent()
    supervisor = [sys.executable, "-P", "-c", SUPERVISOR, str(grace_s), *cmd]
    os.execvpe(supervisor[0], supervisor, dict(env))


SUPERVISOR = "import sys; from thinfile.serving.processes import supervise; sys.exit(supervise(sys.argv[1:]))"
"""What `exec_server` becomes: `python -P` (the folder it starts in never shadows the installed thinfile)."""

STOPPED_BY: dict[int, str] = {
    signal.SIGINT: "stopped by Ctrl-C (SIGINT)",
    signal.SIGTERM: "stopped by SIGTERM",
    signal.SIGHUP: "stopped by SIGHUP (its terminal closed)",
}


def supervise(argv: Sequence[str]) -> int:
    """Run the server `argv[1:]` in a group (`serve_group`, with `argv[0]` seconds' grace); when a signal stopped it,
    say so in one line and return what a shell reports for a process that signal stopped (130 for Ctrl-C, 143 for
    SIGTERM), else the server's exit code (128 + N when signal N killed it)."""
    end = serve_group(argv[1:], os.environ, float(argv[0]))
    if end.stopped_by is None:
        return end.code if end.code >= 0 else 128 - end.code
    sys.stderr.write(f"{STOPPED_BY[end.stopped_by]}: the server and its workers have exited\n")
    sys.stderr.flush()
    return 128 + end.stopped_by


WATCHDOG = """
import os, signal, sys, time
group, parent, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

def stop(*_):
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            sys.exit(0)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            try:
                os.killpg(group, 0)
            except (ProcessLookupError, PermissionError):
                sys.exit(0)
            time.sleep(0.1)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
if os.getppid() != parent:
    stop()
while True:
    signal.pause()
"""
"""A process that outlives nothing: when the command that started it exits or is SIGKILLed (its parent-death
signal), it stops the server's process group, SIGTERM then SIGKILL after the grace period."""


@dataclass(frozen=True)
class ServerEnd:
    """How a server run by `serve_group` ended: its exit code, and the signal that asked it to stop, if one did."""

    code: int
    stopped_by: int | None


def run_server_group(cmd: Sequence[str], env: Mapping[str, str], grace_s: float = 20.0) -> int:
    """`serve_group`'s server's exit code, 0 when it stopped because it was asked to."""
    end = serve_group(cmd, env, grace_s)
    asked = end.stopped_by is not None and end.code in (0, -signal.SIGTERM, -signal.SIGINT, 130, 143)
    return 0 if asked else end.code


def serve_group(cmd: Sequence[str], env: Mapping[str, str], grace_s: float) -> ServerEnd:
    """Run a server that starts its own workers, in a process group of its own: SIGTERM, SIGINT and SIGHUP to this
    process reach the whole group as SIGTERM; whatever is left of the group when the server exits, or `grace_s`
    after a signal, is killed; and a watchdog empties the group if this process dies, even by SIGKILL."""
    proc = subprocess.Popen(list(cmd), env=dict(env), start_new_session=True, preexec_fn=die_with_parent)
    group = proc.pid
    watchdog = subprocess.Popen(
        [sys.executable, "-c", WATCHDOG, str(group), str(os.getpid()), str(grace_s)], preexec_fn=die_with_parent
    )
    asked: list[int] = []
    deadline: list[float] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        # always SIGTERM: servers stop on it cleanly, where SIGINT has every Python worker print a KeyboardInterrupt
        if not deadline:
            asked.append(signum)
            deadline.append(time.monotonic() + grace_s)
        _signal_group(group, signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        while True:
            try:
                code = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if deadline and time.monotonic() > deadline[0]:
                    _signal_group(group, signal.SIGKILL)
    finally:
        for s in FORWARDED:  # a second Ctrl-C while the group is emptied changes nothing
            signal.signal(s, signal.SIG_IGN)
        _empty_group(group, grace_s=2.0)
        watchdog.terminate()
        watchdog.wait()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return ServerEnd(code, asked[0] if asked else None)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _empty_group(group: int, grace_s: float) -> None:
    """SIGTERM what is left of the group, then SIGKILL it if anything remains after `grace_s`."""
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    _signal_group(group, signal.SIGKILL)
