"""The installed `thinfile` command whose output is closed before it is done (`thinfile ... | head`) ends without a
word and with exit code 141, a death by SIGPIPE's: not click's 1, which `audit verify` gives for a tampered log, nor
`error: Broken pipe` and 2, nor a traceback or "Exception ignored" as the interpreter exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinfile.serving.audit import AuditLog, audit_record

COMMAND = Path(sys.executable).with_name("thinfile")
CLOSED = 141
AUDIT_KEY = "audit-key-0123456789abcdef"

pytestmark = pytest.mark.skipif(
    not COMMAND.exists() or os.name != "posix", reason="the installed console script, on POSIX"
)


def audit_log(folder: Path, records: int) -> Path:
    """A whole chained audit log that `audit verify` passes with AUDIT_KEY."""
    log = folder / "decisions.jsonl"
    writer = AuditLog(log, key=AUDIT_KEY.encode())
    writer.append(
        [audit_record(f"req-{i}", "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", []) for i in range(records)]
    )
    return log


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINFILE_AUDIT_")}
    return {**env, "THINFILE_AUDIT_KEY": AUDIT_KEY}


def run_into_a_closed_pipe(args: list[str], *, stderr_too: bool = False) -> tuple[int, str]:
    """Run the command with its stdout (and its stderr, as `2>&1 | head` does) a pipe nobody reads any more: its
    read end is closed before the command writes a byte, so however short its output, writing it fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [str(COMMAND), *args],
            stdout=write,
            stderr=write if stderr_too else subprocess.PIPE,
            env=environment(),
            timeout=120,
        )
    finally:
        os.close(write)
    return done.returncode, (done.stderr or b"").decode()


def run_and_stop_reading(args: list[str], after: int = 64) -> tuple[int, str, bytes]:
    """Run the command, read `after` bytes of its stdout and close it, as `head -c` does; stderr is kept apart."""
    with subprocess.Popen(
        [str(COMMAND), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment()
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        head = proc.stdout.read(after)
        proc.stdout.close()
        err = proc.stderr.read().decode()
        return proc.wait(timeout=120), err, head


def quiet(stderr: str) -> bool:
    return "Traceback" not in stderr and "Exception ignored" not in stderr and "Broken pipe" not in stderr


def test_help_into_a_closed_pipe_exits_141_without_a_word() -> None:
    code, err = run_into_a_closed_pipe(["--help"])
    assert code == CLOSED, err
    assert err == ""


def test_help_with_stderr_closed_too_exits_141() -> None:
    code, _ = run_into_a_closed_pipe(["--help"], stderr_too=True)
    assert code == CLOSED


def test_audit_verify_into_a_closed_pipe_is_141_not_the_1_of_a_failed_check(tmp_path: Path) -> None:
    log = audit_log(tmp_path, 20)
    passed = subprocess.run(
        [str(COMMAND), "audit", "verify", "--log", str(log)], capture_output=True, env=environment(), timeout=120
    )
    assert passed.returncode == 0, passed.stderr  # the log passes: only the closed pipe can make it non-zero
    code, _ = run_into_a_closed_pipe(["audit", "verify", "--log", str(log)], stderr_too=True)  # 2>&1 | head
    assert code == CLOSED
    code, err = run_into_a_closed_pipe(["audit", "verify", "--log", str(log), "--json"])
    assert code == CLOSED, err
    assert quiet(err), err


@pytest.mark.parametrize("args", [["audit", "verify"], ["audit"]], ids=["verify", "query"])
def test_a_report_into_a_closed_pipe_is_141_without_a_word(tmp_path: Path, args: list[str]) -> None:
    log = audit_log(tmp_path, 20)
    code, err = run_into_a_closed_pipe([*args, "--log", str(log)])  # | head, with stderr still open
    assert code == CLOSED, err
    assert err == ""


def test_schema_check_into_a_closed_pipe_is_141_not_the_1_of_a_mismatch() -> None:
    data = Path(__file__).parents[1] / "data"
    code, err = run_into_a_closed_pipe(
        ["schema", "check", str(data / "german_credit.csv"), "--schema", str(data / "german_credit.yaml")]
    )
    assert code == CLOSED, err
    assert err == ""


def test_a_reader_that_stops_after_a_few_bytes_ends_the_command_with_141(tmp_path: Path) -> None:
    log = audit_log(tmp_path, 3_000)  # one JSON line per decision: far more than a pipe holds
    code, err, head = run_and_stop_reading(["audit", "--log", str(log), "--json", "--limit", "3000"])
    assert head.startswith(b"{"), head
    assert code == CLOSED, err
    assert quiet(err), err
