"""The service under faults: a full disk under the audit log, a model still loading, every worker killed.
Each against a real `bentoml serve`, as an operator would meet it."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mlflow
import psutil
import pytest
from ports import free_port
from servers import server_env

from thinfile.serving.audit import verify
from thinfile.training.champion import fit_champion
from thinfile.training.registry import log_scorer, set_alias
from thinfile.training.settings import CHAMPION_ALIAS, TrainConfig, model_name_for
from thinfile.training.tracking import experiment_id

pytestmark = pytest.mark.slow

BENTOML = str(Path(sys.executable).parent / "bentoml")
SERVICE = "thinfile.serving.service:Thinfile"


def bentoml_serve(port: int) -> list[str]:
    return [BENTOML, "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (mounting needs root; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_on_a_full_disk_decisions_given_equal_records_written_the_rest_get_503_and_readyz_sends_traffic_elsewhere(
    service_home: Path, start_server, small_disk: Path, applicant: dict
) -> None:
    log = small_disk / "decisions.jsonl"
    filler = small_disk / "filler"
    filler.write_bytes(b"x" * 8192)
    port = free_port()
    env = server_env(
        service_home,
        THINFILE_WORKERS="1",
        THINFILE_AUDIT_LOG=str(log),
        THINFILE_AUDIT_ROTATE="never",
        THINFILE_AUDIT_RETRY_S="3",
    )
    server = start_server(bentoml_serve(port), env, port, "full-disk")
    server.wait_for("/readyz")
    answers: list[httpx.Response] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while len(answers) < 2_000 and (not answers or answers[-1].status_code == 200):
            answers.append(client.post("/score", json=applicant))
        full = [client.post("/score_batch", json={"applicants": [applicant] * 3}) for _ in range(3)]
        given = sum(a.status_code == 200 for a in answers)
        refused = answers[-1]
        assert refused.status_code == 503 and all(r.status_code == 503 for r in full)
        assert refused.json()["error"] == (
            "decision not given: the audit log cannot be written (No space left on device); no decision was made, "
            "retry later"
        )
        assert refused.headers["Retry-After"] == "3"
        assert client.get("/readyz").status_code == 503 and client.get("/livez").status_code == 200
        report = verify(log)
        assert (report.records, report.torn, report.duplicates) == (given, [], 0)
        filler.unlink()
        refused_at = time.monotonic()
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() - refused_at < 30, "readyz did not come back"
            time.sleep(0.2)
        again = client.post("/score", json=applicant)
    assert again.status_code == 200
    assert verify(log).records == given + 1
    text = server.log.read_text()
    assert "Traceback" not in text and "An unexpected error" not in text


def poll(url: str, timeout: float = 2.0) -> int | None:
    """The status of GET url, or None when no answer came within `timeout`."""
    try:
        return httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError:
        return None


def watch_until_ready(server, applicant: dict, limit: float = 240) -> list[tuple[int | None, int | None, int | None]]:
    """(readyz, livez, score) statuses, polled until /readyz answers 200."""
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        score = None
        with contextlib.suppress(httpx.HTTPError):
            score = httpx.post(server.url + "/score", json=applicant, timeout=2).status_code
        seen.append((poll(server.url + "/readyz"), poll(server.url + "/livez"), score))
        if seen[-1][0] == 200:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"not ready after {limit:.0f} s: {seen[-5:]}\n{server.log.read_text()[-2000:]}")


def test_while_the_model_loads_readyz_says_503_livez_answers_and_scoring_says_loading(
    service_home: Path, start_server, applicant: dict
) -> None:
    port = free_port()
    server = start_server(bentoml_serve(port), server_env(service_home, THINFILE_WORKERS="1"), port, "loading")
    seen = watch_until_ready(server, applicant)
    assert (503, 200, 503) in seen, seen
    assert all(ready in (None, 503) for ready, _, _ in seen[:-1])


def test_after_every_worker_is_killed_readyz_says_503_until_a_new_worker_has_loaded(
    service_home: Path, start_server, applicant: dict
) -> None:
    port = free_port()
    server = start_server(bentoml_serve(port), server_env(service_home, THINFILE_WORKERS="2"), port, "workers")
    server.wait_for("/readyz", procs=3)
    for worker in psutil.Process(server.proc.pid).children():
        worker.send_signal(signal.SIGKILL)
    seen = watch_until_ready(server, applicant)
    assert (503, 200, 503) in seen, seen
    assert server.proc.poll() is None


def test_the_service_refuses_to_start_beyond_loopback_without_an_audit_key(service_home: Path) -> None:
    env = server_env(service_home, THINFILE_API_KEY="api-key-0123456789")
    done = subprocess.run(
        [sys.executable, "-m", "thinfile.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert "without an audit key: set THINFILE_AUDIT_KEY" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def test_a_model_trained_on_another_schema_stops_the_service_with_one_line_naming_the_fix(service_home: Path) -> None:
    german = Path(__file__).resolve().parents[1] / "data" / "german_credit.yaml"
    env = server_env(service_home)
    done = subprocess.run(
        [sys.executable, "-m", "thinfile.cli", "serve", "--schema", str(german), "--name", "thinfile-synthetic"]
        + ["--port", str(free_port()), "--workers", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    said = " ".join(done.stderr.split())
    assert "was trained on schema 'thinfile-synthetic'" in said and "thinfile serve --schema FILE" in said
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def damaged_home(population, schema, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose registered champion's model file was cut in half after it was logged."""
    home = tmp_path_factory.mktemp("damaged-model-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        scorer = fit_champion(population.iloc[:3_000], population.iloc[3_000:5_000], schema, TrainConfig(max_rounds=10))
        with mlflow.start_run(experiment_id=experiment_id()):
            info = log_scorer(scorer, population.iloc[:3_000], register_as=model_name_for(schema))
        set_alias(model_name_for(schema), CHAMPION_ALIAS, info.registered_model_version)
    for model in (home / "mlruns").rglob("model.lgb"):
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    return home


def test_serving_a_registered_model_whose_file_is_damaged_stops_in_one_line(damaged_home: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "thinfile"), "serve", "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=240,
        env=server_env(damaged_home),
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert errors == [
        "error: the model file of thinfile-synthetic version 1 is damaged (it does not match the checksum saved with "
        "it); restore the store's artifacts folder from a copy, or train again"
    ]
    assert list((damaged_home / "tmp").iterdir()) == []


def test_a_client_sending_its_headers_slowly_is_answered_408_and_let_go_while_others_are_served(
    service_home: Path, start_server, applicant: dict
) -> None:
    port = free_port()
    env = server_env(service_home, THINFILE_WORKERS="1", THINFILE_HEADER_TIMEOUT_S="1")
    server = start_server(bentoml_serve(port), env, port, "slow-headers")
    server.wait_for("/readyz")
    with socket.create_connection(("127.0.0.1", port)) as slow:
        slow.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\n")
        assert httpx.post(server.url + "/score", json=applicant, timeout=10).status_code == 200
        slow.settimeout(10)
        start, got = time.monotonic(), b""
        while chunk := slow.recv(4096):
            got += chunk
    assert got.startswith(b"HTTP/1.1 408 ") and time.monotonic() - start < 5
