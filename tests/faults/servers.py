"""Helpers of the service fault tests: ports, environments, process trees counted with psutil."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

VENV_BIN = Path(sys.executable).parent


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """A server's environment: its own home, and a temporary folder inside it (BentoML's socket and client folders
    of a server a test kills stay there, not in the machine's /tmp)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINFILE_", "MLFLOW_TRACKING_URI"))}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        **env,
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "THINFILE_HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": "1",
        **extra,
    }


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes of the list still running (zombies count as gone)."""
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` s for every process to exit; those still running."""
    deadline = time.monotonic() + timeout
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(processes)


def bindable(port: int, timeout: float) -> str | None:
    """Wait up to `timeout` s until 127.0.0.1:`port` can be bound as the next server binds it (SO_REUSEADDR); None
    then, else who still holds it (listening processes by pid and command, or the socket states left)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                again.bind(("127.0.0.1", port))
                return None
            except OSError:
                if time.monotonic() >= deadline:
                    break
        time.sleep(0.2)
    held = [c for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port]
    holders = []
    for c in held:
        try:
            who = " ".join(psutil.Process(c.pid).cmdline()[:4]) if c.pid else "no process"
        except psutil.Error:
            who = f"pid {c.pid}, gone"
        holders.append(f"{c.status} by {who}")
    return "; ".join(holders) or "no socket found"


@dataclass
class Server:
    """A server started by a test: its process, port, log and every process seen in its tree."""

    proc: subprocess.Popen
    port: int
    log: Path
    seen: list[psutil.Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> list[psutil.Process]:
        """The server's process and its descendants now (remembered for the clean-up)."""
        try:
            root = psutil.Process(self.proc.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            found = []
        self.seen.extend(p for p in found if p not in self.seen)
        return found

    def wait_for(self, path: str, status: int = 200, timeout: float = 180, procs: int = 1) -> None:
        """Wait until GET `path` answers `status` and the tree holds at least `procs` processes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == status and len(self.tree()) >= procs:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{path} did not answer {status} within {timeout:.0f} s:\n{self.log.read_text()[-3000:]}")


def run_in_own_session(script: str, args: list[str], env: dict[str, str], what: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -c script *args` in a session of its own, which the script may
    signal as a terminal's Ctrl-C does; the test fails, naming `what`, if it has not ended after 180 s."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{what} did not end after Ctrl-C: {err[-2000:]}")
    return proc.returncode, out, err
