"""bench/fuzz: at least `--requests` schemathesis requests across every route of the service, with the API key on
and off. Counts 5xx answers and answers that break the service's own OpenAPI document (status code, content
type, body schema); for a service with a key, also valid requests refused and invalid ones accepted.

Two servers on loopback (one with THINFILE_API_KEY, one without), a champion trained here unless --home. Every
operation of the document is fuzzed in positive and negative mode (POST routes) with and without the key, the
examples spread so that the total reaches `--requests`. Exit 1 if anything failed. `tests/serving/test_fuzz.py`
is the short version that runs in CI.

    .venv/bin/python bench/fuzz.py                       # 10,000 requests, ~5-10 minutes on 2 cores
    .venv/bin/python bench/fuzz.py --requests 1000       # a short look
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import schemathesis
from common import free_port, load, run, use_home
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
API_KEY = "fuzz-key-0123456789abcdef"
DOCUMENTED = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [str(VENV_BIN / "bentoml"), "serve", "thinfile.serving.service:Thinfile", "--host", "127.0.0.1"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--port", str(port)], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited; see {log}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the service was not ready after 300 s; see {log}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def run_examples(
    strategy, examples: int, route: str, url: str, headers: dict, checks: list, tally: Counter, failures: Counter
) -> None:
    """Send `examples` generated requests; count them, and every failed check by route and kind."""

    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.generate],
    )
    def run(case) -> None:
        tally[route] += 1
        try:
            case.call_and_validate(base_url=url, headers=headers, checks=checks)
        except Exception as err:  # every failure is counted, none stops the run
            for kind in getattr(err, "exceptions", [err]):
                failures[(route, type(kind).__name__, str(kind).splitlines()[0][:120])] += 1

    run()


def fuzz(url: str, headers: dict[str, str], with_key: bool, per_case: int, tally: Counter, failures: Counter) -> None:
    """Fuzz every operation of the document at `url`; count requests by route and failures by kind."""
    schema = schemathesis.openapi.from_url(f"{url}/docs.json")
    checks = [*DOCUMENTED, positive_data_acceptance, negative_data_rejection] if with_key else DOCUMENTED
    for result in schema.get_all_operations():
        op = result.ok()
        route = f"{op.method.upper()} {op.path}"
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if op.method.upper() == "POST" else [None]
        for mode in modes:
            strategy = op.as_strategy(generation_mode=mode) if mode else op.as_strategy()
            examples = per_case if mode else max(1, per_case // 20)

            run_examples(strategy, examples, route, url, headers, checks, tally, failures)
            if op.method.upper() != "POST":  # a route without input: the same request, answered each time
                for _ in range(examples - 1):
                    tally[route] += 1
                    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                        status = client.request(op.method.upper(), op.path).status_code
                    if status >= 500:
                        failures[(route, "server error", str(status))] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="THINFILE_HOME with a registered champion (default: train one)")
    parser.add_argument("--rows", type=int, default=20_000, help="rows to train the bench model on")
    parser.add_argument("--requests", type=int, default=10_000, help="requests in all (at least)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    load_before = load()
    home = use_home(args.home, "thinfile-fuzz-")
    from serve import register_model

    from thinfile.features.schema import load_schema
    from thinfile.training.registry import resolve
    from thinfile.training.settings import model_name_for

    if args.home:
        version = str(resolve("champion", model_name_for(load_schema())).version)
    else:
        print(f"training a bench model on {args.rows:,} generated rows under {home} ...", flush=True)
        version = register_model(args.rows, args.seed)
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("THINFILE_API_KEY", "THINFILE_AUDIT_KEY"))},
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "THINFILE_MODEL": version,
        "THINFILE_WORKERS": "2",
        "BENTOML_DO_NOT_TRACK": "true",
        "OMP_NUM_THREADS": "1",
    }
    # 7 routes; POST routes in 2 modes; 3 runs (key server with key, key server without, open server)
    per_case = max(10, int(1.1 * args.requests / (3 * (2 * 2 + 5 / 20))) + 1)  # hypothesis may stop short
    tally: Counter = Counter()
    failures: Counter = Counter()
    keyed, keyed_url = start(
        {**base, "THINFILE_API_KEY": API_KEY, "THINFILE_AUDIT_LOG": str(home / "k.jsonl")}, home / "fuzz-key.log"
    )
    try:
        print(f"fuzzing the service with an API key ({per_case} examples per route and mode) ...", flush=True)
        fuzz(keyed_url, {"Authorization": f"Bearer {API_KEY}"}, True, per_case, tally, failures)
        print("... and sending no key ...", flush=True)
        fuzz(keyed_url, {}, False, per_case, tally, failures)
    finally:
        stop(keyed)
    open_, open_url = start({**base, "THINFILE_AUDIT_LOG": str(home / "open.jsonl")}, home / "fuzz-open.log")
    try:
        print("fuzzing the service without an API key (loopback only) ...", flush=True)
        fuzz(open_url, {}, True, per_case, tally, failures)
    finally:
        stop(open_)
    tracebacks = sum(
        (home / name).read_text(errors="replace").count("Traceback") for name in ("fuzz-key.log", "fuzz-open.log")
    )

    total = sum(tally.values())
    server_errors = sum(c for (_, kind, _), c in failures.items() if "ServerError" in kind or kind == "server error")
    print(f"\nbench/fuzz: {total:,} requests; load average {load_before} before and {load()} after")
    for route, n in sorted(tally.items()):
        print(f"  {route:<22}{n:>8,}")
    print(
        f"5xx answers: {server_errors}; other failures: {sum(failures.values()) - server_errors}; "
        f"tracebacks in the server logs: {tracebacks}"
    )
    for (route, kind, text), n in failures.most_common(20):
        print(f"  {n:>6} x {route} {kind}: {text}")
    ok = total >= args.requests and not failures and tracebacks == 0
    print(f"{'PASS' if ok else 'FAIL'}: {total:,} requests (>= {args.requests:,}), 0 5xx, 0 answers off the document")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    run(main)
