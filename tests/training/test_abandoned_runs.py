"""Which RUNNING runs a train marks KILLED: only thinfile's, of this machine, whose process has ended."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from thinfile.training.settings import tracking_uri
from thinfile.training.tracking import HOST_TAG, PID_TAG, end_abandoned_runs, experiment_id, this_host


@pytest.fixture(scope="module")
def own_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("abandoned_runs_home")


@pytest.fixture(autouse=True)
def _own_store(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests leave runs open: in a store of their own, not the one the other training tests share."""
    monkeypatch.setenv("THINFILE_HOME", str(own_home))


@pytest.fixture
def ended_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    alive = subprocess.Popen(["sleep", "60"])
    yield alive.pid
    alive.kill()
    alive.wait()


def marked(run: str, ended: list[str]) -> bool:
    return any(e.startswith(run[:8] + " (") for e in ended)


def open_run(tags: dict[str, str]) -> tuple[MlflowClient, str]:
    client = MlflowClient(tracking_uri())
    run = client.create_run(experiment_id(), tags=tags)
    return client, run.info.run_id


def test_a_run_whose_process_ended_on_this_machine_is_marked_killed(ended_pid: int) -> None:
    client, run = open_run({PID_TAG: str(ended_pid), HOST_TAG: this_host()})
    assert marked(run, end_abandoned_runs(experiment_id()))
    assert client.get_run(run).info.status == "KILLED"


def test_a_run_whose_process_was_killed_but_not_yet_collected_is_marked_killed() -> None:
    zombie = subprocess.Popen(["sleep", "60"])
    zombie.kill()
    time.sleep(0.2)  # dead, and left uncollected by its parent (this process) until the wait below
    try:
        client, run = open_run({PID_TAG: str(zombie.pid), HOST_TAG: this_host()})
        assert marked(run, end_abandoned_runs(experiment_id()))
        assert client.get_run(run).info.status == "KILLED"
    finally:
        zombie.wait()


def test_a_run_whose_process_still_runs_is_left_running(live_pid: int) -> None:
    client, run = open_run({PID_TAG: str(live_pid), HOST_TAG: this_host()})
    assert not marked(run, end_abandoned_runs(experiment_id()))
    assert client.get_run(run).info.status == "RUNNING"


def test_a_run_of_another_machine_is_left_running(ended_pid: int) -> None:
    client, run = open_run({PID_TAG: str(ended_pid), HOST_TAG: socket.gethostname() + "-elsewhere"})
    assert not marked(run, end_abandoned_runs(experiment_id()))
    assert client.get_run(run).info.status == "RUNNING"


def test_a_run_of_another_container_of_the_same_host_name_is_left_running(ended_pid: int) -> None:
    client, run = open_run({PID_TAG: str(ended_pid), HOST_TAG: f"{socket.gethostname()} pidns:1"})
    assert not marked(run, end_abandoned_runs(experiment_id()))
    assert client.get_run(run).info.status == "RUNNING"


def test_a_run_without_thinfiles_process_tags_is_left_running() -> None:
    client, run = open_run({"mlflow.user": "someone"})
    assert not marked(run, end_abandoned_runs(experiment_id()))
    assert client.get_run(run).info.status == "RUNNING"


def test_this_processs_own_open_run_is_left_running() -> None:
    client, run = open_run({PID_TAG: str(os.getpid()), HOST_TAG: this_host()})
    assert not marked(run, end_abandoned_runs(experiment_id()))
    assert client.get_run(run).info.status == "RUNNING"
