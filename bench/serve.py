"""bench/serve: thinfile's /score against a do-nothing BentoML endpoint and `mlflow models serve`, same model.

Trains a champion on generated rows (or serves the one already registered under --home), starts the three
servers on loopback with the same number of workers, and measures for each: latency p50/p99 over sequential
requests, throughput with concurrent clients, plus in-process explanation of one row (the model's floor).
Prints the figures and the ratios the issue sets targets for.

    .venv/bin/python bench/serve.py                       # everything, ~3 minutes on 2 cores
    .venv/bin/python bench/serve.py --requests 500 --seconds 3 --rows 20000   # quicker look
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, cmd: list[str], env: dict[str, str], cwd: Path, logs: Path) -> subprocess.Popen:
    with open(logs / f"{name}.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(name: str, port: int, path: str, proc: subprocess.Popen, logs: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {logs / (name + '.log')}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{name} not ready after {timeout:.0f}s; see {logs / (name + '.log')}")


class Target:
    """One endpoint under test: where it is and the bodies it takes."""

    def __init__(self, name: str, port: int, path: str, bodies: list[bytes]) -> None:
        self.name, self.port, self.path, self.bodies = name, port, path, bodies

    def post(self, conn: http.client.HTTPConnection, body: bytes) -> int:
        conn.request("POST", self.path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status


def sequential(target: Target, n: int, warmup: int = 200) -> np.ndarray:
    """Latency in ms of n requests one after another on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    bodies = target.bodies
    for i in range(warmup):
        target.post(conn, bodies[i % len(bodies)])
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        status = target.post(conn, bodies[i % len(bodies)])
        out[i] = (time.perf_counter() - t0) * 1e3
        if status != 200:
            raise SystemExit(f"{target.name} answered {status} during the latency run")
    conn.close()
    return out


def throughput(target: Target, clients: int, seconds: float) -> tuple[float, int]:
    """Requests per second with `clients` concurrent keep-alive connections; and the count of non-200s."""
    stop_at = time.perf_counter() + seconds
    counts = [0] * clients
    errors = [0] * clients

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        i = k
        while time.perf_counter() < stop_at:
            if target.post(conn, target.bodies[i % len(target.bodies)]) == 200:
                counts[k] += 1
            else:
                errors[k] += 1
            i += clients
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0), sum(errors)


def percentiles(ms: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def register_model(rows: int, seed: int) -> str:
    """Train a champion on generated rows and register it; returns the version."""
    import mlflow

    from thinfile.features.generator import generate_frame
    from thinfile.features.schema import load_schema
    from thinfile.training.champion import fit_champion
    from thinfile.training.registry import (
        CHAMPION_ALIAS,
        log_scorer,
        model_name_for,
        set_alias,
    )
    from thinfile.training.tracking import experiment_id

    schema = load_schema()
    frame = generate_frame(schema, rows=rows, seed=seed)
    cut = int(rows * 0.8)
    scorer = fit_champion(frame.iloc[:cut], frame.iloc[cut:], schema)
    with mlflow.start_run(experiment_id=experiment_id("thinfile-bench"), run_name="bench-serve"):
        info = log_scorer(scorer, frame, register_as=model_name_for(schema))
    set_alias(model_name_for(schema), CHAMPION_ALIAS, info.registered_model_version)
    return str(info.registered_model_version)


def request_bodies(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    """n applicants as thinfile bodies (missing fields left out) and as full records (missing as null)."""
    from thinfile.features.generator import generate_frame
    from thinfile.features.schema import load_schema
    from thinfile.serving.contract import request_body

    schema = load_schema()
    frame = generate_frame(schema, rows=n, seed=seed)
    thin = [request_body(schema, row) for _, row in frame.iterrows()]
    full = [{f.name: body.get(f.name) for f in schema.features} for body in thin]
    return thin, full


def in_process(version: str, bodies: list[dict], n: int) -> dict[str, tuple[float, float]]:
    """Per-row cost inside one process: the model's explanation alone, and the service's whole contract."""
    from thinfile.features.schema import load_schema
    from thinfile.serving.contract import (
        ScoreResponse,
        applicant_model,
        applicants_to_matrix,
        input_hash,
    )
    from thinfile.training.registry import load_scorer, model_name_for

    schema = load_schema()
    scorer = load_scorer(version, model_name_for(schema))
    scorer.num_threads = 1
    applicant = applicant_model(schema)
    raw = [json.dumps(b).encode() for b in bodies]
    rows = [applicant.model_validate_json(r) for r in raw]
    matrices = [applicants_to_matrix(schema, [r]) for r in rows]

    def timed(fn) -> tuple[float, float]:
        for i in range(100):
            fn(i)
        out = np.empty(n)
        for i in range(n):
            t0 = time.perf_counter()
            fn(i)
            out[i] = (time.perf_counter() - t0) * 1e3
        return percentiles(out)

    def contract(i: int) -> bytes:
        a = applicant.model_validate_json(raw[i % len(raw)])
        record = scorer.explain(applicants_to_matrix(schema, [a])).records()[0]
        input_hash(schema, a)
        record.update(request_id="x", model={"name": "m", "version": version, "run_id": None})
        return ScoreResponse.model_validate(record).model_dump_json().encode()

    return {
        "explain one row (ndarray)": timed(lambda i: scorer.explain(matrices[i % len(matrices)])),
        "explain + records": timed(lambda i: scorer.explain(matrices[i % len(matrices)]).records()),
        "whole contract, no HTTP": timed(contract),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--home",
        type=Path,
        help="THINFILE_HOME holding a registered champion (default: a fresh temporary one with a model trained here)",
    )
    parser.add_argument("--rows", type=int, default=50_000, help="rows to train the bench model on")
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per endpoint")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the throughput run")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each throughput run")
    parser.add_argument("--workers", type=int, default=2, help="server workers, the same for every endpoint")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="thinfile-bench-"))
    os.environ["THINFILE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from thinfile.features.schema import load_schema
    from thinfile.training.registry import model_name_for, resolve, tracking_uri

    MODEL_NAME = model_name_for(load_schema())

    if args.home:
        version = str(resolve("champion", MODEL_NAME).version)
    else:
        print(f"training a bench model on {args.rows:,} generated rows under {home} ...", flush=True)
        version = register_model(args.rows, args.seed)
    thin, full = request_bodies(500, args.seed + 1)

    logs = home / "bench-logs"
    logs.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": tracking_uri(),
        "THINFILE_MODEL": version,
        "THINFILE_WORKERS": str(args.workers),
        "NOOP_WORKERS": str(args.workers),
        "THINFILE_AUDIT_LOG": str(home / "audit" / "bench.jsonl"),
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("THINFILE_API_KEY", None)
    env.pop("THINFILE_API_KEY_FILE", None)
    ports = {name: free_port() for name in ("thinfile", "noop", "mlflow")}
    bentoml = str(VENV_BIN / "bentoml")
    procs = {
        "thinfile": start(
            "thinfile",
            [
                bentoml,
                "serve",
                "thinfile.serving.service:Thinfile",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["thinfile"]),
            ],
            env,
            ROOT,
            logs,
        ),
        "noop": start(
            "noop",
            [bentoml, "serve", "serve_noop:Noop", "--host", "127.0.0.1", "--port", str(ports["noop"])],
            env,
            ROOT / "bench",
            logs,
        ),
        "mlflow": start(
            "mlflow",
            [
                str(VENV_BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL_NAME}/{version}",
                "-h",
                "127.0.0.1",
                "-p",
                str(ports["mlflow"]),
                "-w",
                str(args.workers),
                "--env-manager",
                "local",
            ],
            env,
            ROOT,
            logs,
        ),
    }
    try:
        for name, path in (("thinfile", "/readyz"), ("noop", "/readyz"), ("mlflow", "/ping")):
            wait_ready(name, ports[name], path, procs[name], logs)
        targets = [
            Target("thinfile /score", ports["thinfile"], "/score", [json.dumps(b).encode() for b in thin]),
            Target("no-op BentoML", ports["noop"], "/score", [json.dumps(b).encode() for b in thin]),
            Target(
                "mlflow models serve",
                ports["mlflow"],
                "/invocations",
                [json.dumps({"dataframe_records": [b]}).encode() for b in full],
            ),
        ]
        results = {}
        for target in targets:
            print(f"measuring {target.name} ...", flush=True)
            p50, p99 = percentiles(sequential(target, args.requests))
            rps, errors = throughput(target, args.clients, args.seconds)
            results[target.name] = (p50, p99, rps, errors)
        floor = in_process(version, thin, args.requests)
    finally:
        for proc in procs.values():
            stop(proc)

    print(
        f"\nbench/serve: model {MODEL_NAME} v{version}, {args.workers} workers each, {os.cpu_count()} cores, "
        f"{args.requests} sequential requests, {args.clients} clients x {args.seconds:g}s"
    )
    print(f"{'endpoint':<24}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'non-200':>9}")
    for name, (p50, p99, rps, errors) in results.items():
        print(f"{name:<24}{p50:>9.2f}{p99:>9.2f}{rps:>9.0f}{errors:>9}")
    print(f"\n{'in process (one row)':<28}{'p50 ms':>9}{'p99 ms':>9}")
    for name, (p50, p99) in floor.items():
        print(f"{name:<28}{p50:>9.3f}{p99:>9.3f}")
    ours, noop, peer = results["thinfile /score"], results["no-op BentoML"], results["mlflow models serve"]
    print("\nratios (targets: p99 vs no-op <= 2.0; throughput vs mlflow >= 2.0)")
    print(f"  thinfile p50 / no-op p50        {ours[0] / noop[0]:6.2f}")
    print(f"  thinfile p99 / no-op p99        {ours[1] / noop[1]:6.2f}")
    print(f"  thinfile req/s / no-op req/s    {ours[2] / noop[2]:6.2f}")
    print(f"  thinfile req/s / mlflow req/s   {ours[2] / peer[2]:6.2f}")
    print(f"  mlflow p99 / thinfile p99       {peer[1] / ours[1]:6.2f}")


if __name__ == "__main__":
    main()
