"""bench/serve: one row, one response. The service's contract in process, phase by phase, against explaining one
row; then thinfile's /score over HTTP against a do-nothing BentoML endpoint and `mlflow models serve`.

In process (one row at a time, `--requests` rows, median of `--repeat` runs of each phase's p50):
read (bytes -> checked applicant), matrix, explain (the model's floor), reasons (records with hints), answer
(JSON bytes), audit lines (HMAC + JSON line), and the whole contract (read to answer bytes and audit lines).
Target (issue 13.4): contract <= 2x explain, the two measured in turn (a contract, then an explanation of another
row, and so on), so that the VM's drifting speed falls on both alike and explain is not timed with the caches it
warmed itself in a loop of its own. The audit append (write + fsync) is printed apart: it costs what
the disk's fsync costs, and concurrent requests share one (group commit).

With --steps, what each step of the contract costs where it runs: the whole contract alternates, round by round in
one process, with contracts that leave one step out (the read: applicants parsed beforehand; the hints; the input's
HMAC; the rest of the audit record; the response object: bare JSON bytes), each followed by an explanation of
another row; a step's share is the whole's ratio minus the ratio without it. A step's cost alone, in a loop of its
own, is a third to a half of what it costs between the others.

Over HTTP (unless --no-http): the three servers on loopback with the same workers; p50/p99 over sequential
requests and throughput with concurrent clients, each the median of `--repeat` runs. thinfile's audit log is on
the disk under THINFILE_HOME (`--audit-in-memory` puts it in /dev/shm to show the service without the disk).

    .venv/bin/python bench/serve.py                                   # ~5 minutes on 2 cores
    .venv/bin/python bench/serve.py --requests 500 --seconds 3 --rows 20000 --repeat 1   # quick look
    .venv/bin/python bench/serve.py --no-http                         # in-process phases only
    .venv/bin/python bench/serve.py --no-http --steps                 # and each step's share of the ratio
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import free_port, load, run, scratch, use_home

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


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


def wait_ready(name: str, port: int, path: str, proc: subprocess.Popen, logs: Path, timeout: float = 240) -> None:
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


def sequential(target: Target, n: int, warmup: int = 200) -> tuple[float, float]:
    """p50 and p99 latency in ms of n requests one after another on one keep-alive connection."""
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
    return float(np.percentile(out, 50)), float(np.percentile(out, 99))


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


def register_model(rows: int, seed: int) -> str:
    """Train a champion on generated rows and register it; returns the version."""
    import mlflow

    from thinfile.features.generator import generate_frame
    from thinfile.features.schema import load_schema
    from thinfile.training.champion import fit_champion
    from thinfile.training.registry import log_scorer, set_alias
    from thinfile.training.settings import CHAMPION_ALIAS, model_name_for
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


def p50_us(fn: Callable[[int], object], n: int, repeat: int) -> float:
    """Median over `repeat` runs of the p50 of n calls fn(i), in microseconds."""
    runs = []
    for _ in range(repeat):
        for i in range(min(n, 200)):
            fn(i)
        out = np.empty(n)
        for i in range(n):
            t0 = time.perf_counter()
            fn(i)
            out[i] = time.perf_counter() - t0
        runs.append(float(np.percentile(out, 50)) * 1e6)
    return statistics.median(runs)


def paired_p50_us(
    first: Callable[[int], object],
    second: Callable[[int], object],
    n: int,
    repeat: int,
    warmup: int = 200,
    start: int = 0,
) -> tuple[float, float]:
    """Medians over `repeat` runs of the p50s of n calls of `first` and of `second`, one after the other in turn: a
    machine whose speed drifts (this VM's does, by half, within seconds) slows both alike, and neither runs with the
    caches the other would leave warm if it ran alone. Calls are numbered from `start`, after `warmup` unmeasured."""
    runs: list[tuple[float, float]] = []
    for _ in range(repeat):
        for i in range(min(n, warmup)):
            first(i)
            second(i)
        a, b = np.empty(n), np.empty(n)
        for i in range(n):
            t0 = time.perf_counter()
            first(start + i)
            t1 = time.perf_counter()
            second(start + i)
            a[i], b[i] = t1 - t0, time.perf_counter() - t1
        runs.append((float(np.percentile(a, 50)) * 1e6, float(np.percentile(b, 50)) * 1e6))
    return statistics.median(a for a, _ in runs), statistics.median(b for _, b in runs)


def step_shares(version: str, bodies: list[dict], rounds: int, per_round: int) -> dict[str, tuple[float, float, float]]:
    """(contract us, explain us, ratio) of the whole contract and of the contract without each step, all measured in
    turn with explain, the variants alternating round by round in this process (medians over the rounds)."""
    from unittest import mock

    from pydantic_core import to_json

    from thinfile.features.schema import load_schema
    from thinfile.serving import service
    from thinfile.serving.contract import RequestReader, applicants_to_matrix
    from thinfile.serving.service import Decider, json_response
    from thinfile.serving.settings import ServingSettings
    from thinfile.training.registry import load_scorer
    from thinfile.training.scorer.explain import Explanation
    from thinfile.training.settings import model_name_for

    schema = load_schema()
    scorer = load_scorer(version, model_name_for(schema))
    scorer.num_threads = 1
    settings = ServingSettings()
    decider = Decider(scorer, schema, settings, os.urandom(32))
    reader = RequestReader(schema, settings.max_batch_rows)
    raw = [json.dumps(b).encode() for b in bodies]
    parsed = [reader.applicant(r) for r in raw]
    matrices = [applicants_to_matrix(schema, [a]) for a in parsed]
    k = len(raw)

    def no_hints(self: Explanation, X: np.ndarray, rows: list[int], features: np.ndarray) -> list[list[None]]:
        return [[None] * features.shape[1] for _ in rows]

    leave_out: dict[str, list[tuple[object, str, object]]] = {  # step -> (owner, attribute, stand-in) to patch
        "hints": [(Explanation, "_hints", no_hints)],
        "input HMAC": [(service, "input_hmac", lambda *a: "0" * 64)],
        "audit record": [(service, "audit_record", lambda *a: None), (service, "encode", lambda records: b"")],
    }
    variants: dict[str, set[str]] = {
        "whole contract": set(),
        **{f"without the {step}": {step} for step in ("read", *leave_out, "response")},
        "without all five": {"read", *leave_out, "response"},
    }

    def contract(off: set[str]) -> Callable[[int], object]:
        def run(i: int) -> object:
            applicant = parsed[i % k] if "read" in off else reader.applicant(raw[i % k])
            answers, lines = decider.decide([applicant])
            return (to_json(answers[0]) if "response" in off else json_response(answers[0]).body), lines

        return run

    def explain(i: int) -> object:
        return scorer.explain(matrices[(i * 7) % k], settings.top_reasons)

    found: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for r in range(rounds + 1):  # round 0 warms every variant and is not counted
        for name, off in variants.items():
            with contextlib.ExitStack() as stack:
                for step in off & leave_out.keys():
                    for owner, attribute, stand_in in leave_out[step]:
                        stack.enter_context(mock.patch.object(owner, attribute, stand_in))
                pairs = paired_p50_us(contract(off), explain, per_round, 1, warmup=0 if r else 200, start=r * per_round)
            if r:
                found[name].append(pairs)
    return {
        name: (
            statistics.median(c for c, _ in runs),
            statistics.median(e for _, e in runs),
            statistics.median(c / e for c, e in runs),
        )
        for name, runs in found.items()
    }


def in_process(version: str, bodies: list[dict], n: int, repeat: int, audit_dir: Path) -> dict[str, float]:
    """Per-row cost of each phase of the service's contract inside one process (p50, microseconds)."""
    from thinfile.features.schema import load_schema
    from thinfile.serving.audit import AuditLog, audit_record, encode
    from thinfile.serving.contract import RequestReader, applicants_to_matrix, input_hmac
    from thinfile.serving.service import Decider, json_response
    from thinfile.serving.settings import ServingSettings
    from thinfile.training.registry import load_scorer
    from thinfile.training.settings import model_name_for

    schema = load_schema()
    scorer = load_scorer(version, model_name_for(schema))
    scorer.num_threads = 1
    settings = ServingSettings()
    key = os.urandom(32)
    decider = Decider(scorer, schema, settings, key)
    reader = RequestReader(schema, settings.max_batch_rows)
    raw = [json.dumps(b).encode() for b in bodies]
    applicants = [reader.applicant(r) for r in raw]
    matrices = [applicants_to_matrix(schema, [a]) for a in applicants]
    explanations = [scorer.explain(m, settings.top_reasons) for m in matrices]
    answers = [decider.decide([a])[0][0] for a in applicants]
    k = len(raw)

    def audit_lines(i: int) -> bytes:
        a, answer = applicants[i % k], answers[i % k]
        record = audit_record(  # as Decider.decide writes it (the key's id is worked out once)
            uuid.uuid4().hex,
            "m",
            version,
            input_hmac(key, schema, a),
            decider.key_id,
            answer["score"],
            answer["decision"],
            answer["reasons"],
        )
        return encode([record])

    def contract(i: int) -> tuple[bytes, bytes]:
        result, lines = decider.decide([reader.applicant(raw[i % k])])
        return json_response(result[0]).body, lines

    def explain(i: int) -> object:
        return scorer.explain(matrices[(i * 7) % k], settings.top_reasons)  # another row than the contract's

    log = AuditLog(audit_dir / "bench-in-process.jsonl", rotate="never", key=key)
    line = audit_lines(0)
    paired = paired_p50_us(contract, explain, n, repeat)
    phases = {
        "read (bytes -> applicant)": p50_us(lambda i: reader.applicant(raw[i % k]), n, repeat),
        "matrix": p50_us(lambda i: applicants_to_matrix(schema, [applicants[i % k]]), n, repeat),
        "explain (the floor)": p50_us(lambda i: scorer.explain(matrices[i % k], settings.top_reasons), n, repeat),
        "reasons and hints (records)": p50_us(lambda i: explanations[i % k].records(), n, repeat),
        "answer (JSON response)": p50_us(lambda i: json_response(answers[i % k]), n, repeat),
        "audit line (id, HMAC, JSON)": p50_us(audit_lines, n, repeat),
        "whole contract": p50_us(contract, n, repeat),
        "audit append (write + fsync)": p50_us(lambda i: log.append_bytes(line), min(n, 300), repeat),
        "whole contract, in turn": paired[0],
        "explain, in turn": paired[1],
    }
    log.close()
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--home",
        type=Path,
        help="THINFILE_HOME holding a registered champion (default: a fresh temporary one with a model trained here)",
    )
    parser.add_argument("--rows", type=int, default=50_000, help="rows to train the bench model on")
    parser.add_argument("--requests", type=int, default=2000, help="rows per in-process phase; sequential requests")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the throughput run")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each throughput run")
    parser.add_argument("--workers", type=int, default=2, help="server workers, the same for every endpoint")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every measurement; the median is shown")
    parser.add_argument("--no-http", action="store_true", help="in-process phases only")
    parser.add_argument(
        "--steps", action="store_true", help="also each step's share of the in-process ratio (~1 minute more)"
    )
    parser.add_argument("--rounds", type=int, default=12, help="rounds of --steps, each variant once per round")
    parser.add_argument("--audit-in-memory", action="store_true", help="thinfile's audit log in /dev/shm")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    load_before = load()
    home = use_home(args.home, "thinfile-bench-")
    from thinfile.features.schema import load_schema
    from thinfile.training.registry import resolve
    from thinfile.training.settings import model_name_for, tracking_uri

    model_name = model_name_for(load_schema())
    if args.home:
        version = str(resolve("champion", model_name).version)
    else:
        print(f"training a bench model on {args.rows:,} generated rows under {home} ...", flush=True)
        version = register_model(args.rows, args.seed)
    thin, full = request_bodies(500, args.seed + 1)
    audit_dir = scratch("thinfile-audit-", "/dev/shm") if args.audit_in_memory else None
    audit_dir = audit_dir or home / "audit"
    audit_dir.mkdir(parents=True, exist_ok=True)

    print("measuring the contract in process ...", flush=True)
    phases = in_process(version, thin, args.requests, args.repeat, audit_dir)
    shares = step_shares(version, thin, args.rounds, 500) if args.steps else {}
    results: dict[str, tuple[float, float, float, int]] = {}
    if not args.no_http:
        results = over_http(args, home, version, model_name, tracking_uri(), thin, full, audit_dir)
    load_after = load()

    print(
        f"\nbench/serve: model {model_name} v{version}, {os.cpu_count()} cores, load average {load_before} before "
        f"and {load_after} after; median of {args.repeat}"
    )
    print(f"\n{'in process, one row':<32}{'p50 us':>10}")
    for name, us in phases.items():
        print(f"{name:<32}{us:>10.1f}")
    in_turn = ("whole contract", "audit append (write + fsync)", "whole contract, in turn", "explain, in turn")
    parts = sum(us for name, us in phases.items() if name not in in_turn)
    print(f"  (sum of the phases: {parts:.1f} us; the whole runs them one after another, each with colder caches)")
    whole, explain = phases["whole contract, in turn"], phases["explain, in turn"]
    alone = phases["whole contract"] / phases["explain (the floor)"]
    print(f"\n  whole contract / explain, in turn {whole / explain:6.2f}   (target <= 2.0)")
    print(f"  (each measured alone: {alone:.2f}; alone, explain runs with the caches it warmed itself)")
    print(f"  durable audit append: {phases['audit append (write + fsync)'] / 1000:.2f} ms on {audit_dir}")
    if shares:
        whole_ratio = shares["whole contract"][2]
        print(
            f"\n{'each step where it runs':<32}{'contract us':>12}{'explain us':>12}{'ratio':>8}{'share':>8}"
            f"   (in turn, {args.rounds} alternating rounds of 500, medians)"
        )
        for name, (c, e, ratio) in shares.items():
            share = "" if name == "whole contract" else f"{whole_ratio - ratio:8.2f}"
            print(f"{name:<32}{c:>12.1f}{e:>12.1f}{ratio:>8.2f}{share}")
    if results:
        print(
            f"\n{'over HTTP':<24}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}{'non-200':>9}   ({args.workers} workers each, "
            f"{args.requests} sequential requests, {args.clients} clients x {args.seconds:g}s)"
        )
        for name, (p50, p99, rps, errors) in results.items():
            print(f"{name:<24}{p50:>9.2f}{p99:>9.2f}{rps:>9.0f}{errors:>9}")
        ours, noop, peer = results["thinfile /score"], results["no-op BentoML"], results["mlflow models serve"]
        print(f"\n  thinfile p99 / no-op p99         {ours[1] / noop[1]:6.2f}")
        print(f"  thinfile req/s / no-op req/s     {ours[2] / noop[2]:6.2f}")
        print(f"  thinfile req/s / mlflow req/s    {ours[2] / peer[2]:6.2f}")


def over_http(
    args: argparse.Namespace,
    home: Path,
    version: str,
    model_name: str,
    store: str,
    thin: list[dict],
    full: list[dict],
    audit_dir: Path,
) -> dict[str, tuple[float, float, float, int]]:
    """p50, p99, req/s and non-200s of each endpoint (medians of args.repeat runs)."""
    logs = home / "bench-logs"
    logs.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": store,
        "THINFILE_MODEL": version,
        "THINFILE_WORKERS": str(args.workers),
        "NOOP_WORKERS": str(args.workers),
        "THINFILE_AUDIT_LOG": str(audit_dir / "bench.jsonl"),
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": "1",
    }
    for name in ("THINFILE_API_KEY", "THINFILE_API_KEY_FILE"):
        env.pop(name, None)
    ports = {name: free_port() for name in ("thinfile", "noop", "mlflow")}
    bentoml = str(VENV_BIN / "bentoml")
    host = ["--host", "127.0.0.1", "--port"]
    procs = {
        "thinfile": start(
            "thinfile",
            [bentoml, "serve", "thinfile.serving.service:Thinfile", *host, str(ports["thinfile"])],
            env,
            ROOT,
            logs,
        ),
        "noop": start(
            "noop", [bentoml, "serve", "serve_noop:Noop", *host, str(ports["noop"])], env, ROOT / "bench", logs
        ),
        "mlflow": start(
            "mlflow",
            [
                str(VENV_BIN / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{model_name}/{version}",
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
    results = {}
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
        for target in targets:
            print(f"measuring {target.name} ...", flush=True)
            latencies = [sequential(target, args.requests) for _ in range(args.repeat)]
            rates = [throughput(target, args.clients, args.seconds) for _ in range(args.repeat)]
            results[target.name] = (
                statistics.median(p50 for p50, _ in latencies),
                statistics.median(p99 for _, p99 in latencies),
                statistics.median(rps for rps, _ in rates),
                sum(errors for _, errors in rates),
            )
    finally:
        for proc in procs.values():
            stop(proc)
    return results


if __name__ == "__main__":
    run(main)
