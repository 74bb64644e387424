"""Processes: `thinfile serve` and `thinfile ui` stop every process they started on SIGTERM or SIGINT, when they are
SIGKILLed, and when whatever started them dies; the next one can take the same port. Counted with psutil."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import httpx
import pytest
from ports import free_port
from servers import bindable, server_env, wait_gone

pytestmark = pytest.mark.slow

WORKERS = 2


def serve_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "thinfile.cli", "serve", "--port", str(port), "--workers", str(WORKERS)]


def ui_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "thinfile.cli", "ui", "--port", str(port), "--workers", "2"]


def port_free(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_sigterm_to_thinfile_serve_stops_the_server_and_every_worker(service_home: Path, start_server) -> None:
    port = free_port()
    server = start_server(serve_cmd(port), server_env(service_home), port, "serve")
    server.wait_for("/livez", procs=1 + WORKERS)
    tree = server.tree()
    assert len(tree) >= 1 + WORKERS
    server.proc.send_signal(signal.SIGTERM)
    assert wait_gone(tree, timeout=30) == []
    server.proc.wait(10)
    assert port_free(port)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_thinfile_serve_stopped_by_a_signal_exits_as_a_shell_reports_it_in_one_line_leaving_no_process(
    service_home: Path, start_server, stop: signal.Signals
) -> None:
    port = free_port()
    server = start_server(serve_cmd(port), server_env(service_home), port, "serve")
    server.wait_for("/readyz", procs=1 + WORKERS)
    tree = server.tree()
    server.proc.send_signal(stop)
    assert server.proc.wait(60) == 128 + stop  # 130 for Ctrl-C, 143 for SIGTERM
    assert wait_gone(tree, timeout=5) == []
    said = server.log.read_text()
    assert "Traceback" not in said and said.splitlines()[-1].startswith("stopped by"), said[-3000:]


def test_after_a_sigkilled_thinfile_serve_no_worker_is_left_and_the_port_is_free_again(
    service_home: Path, start_server
) -> None:
    port = free_port()
    first = start_server(serve_cmd(port), server_env(service_home), port, "serve")
    first.wait_for("/livez", procs=1 + WORKERS)
    tree = first.tree()
    first.proc.kill()
    assert wait_gone(tree, timeout=30) == []
    assert bindable(port, timeout=10) is None  # as the next server on this port will bind it


def test_when_the_parent_of_thinfile_serve_dies_the_server_and_workers_stop(service_home: Path, start_server) -> None:
    port = free_port()
    parent = [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(600)"]
    server = start_server(parent + serve_cmd(port), server_env(service_home), port, "parent")
    server.wait_for("/livez", procs=2 + WORKERS)
    tree = server.tree()
    server.proc.kill()
    assert wait_gone(tree, timeout=30) == []


def test_ctrl_c_to_thinfile_ui_stops_mlflow_and_its_workers(service_home: Path, start_server) -> None:
    port = free_port()
    server = start_server(ui_cmd(port), server_env(service_home), port, "ui")
    server.wait_for("/health", procs=4)
    tree = server.tree()
    server.proc.send_signal(signal.SIGINT)
    assert wait_gone(tree, timeout=30) == []
    assert server.proc.wait(10) == 0
    assert port_free(port)
    said = server.log.read_text()
    assert "Traceback" not in said and "KeyboardInterrupt" not in said, said[-3000:]


def test_a_sigkilled_thinfile_ui_leaves_no_mlflow_process(service_home: Path, start_server) -> None:
    port = free_port()
    server = start_server(ui_cmd(port), server_env(service_home), port, "ui")
    server.wait_for("/health", procs=4)
    tree = server.tree()
    server.proc.kill()
    assert wait_gone(tree, timeout=30) == []
    assert port_free(port)
