"""The installed `thinfile` command writes what it found to standard output and errors to standard error, so a script
keeps a verdict with `> file` and an error never lands in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from thinfile.serving.audit import AuditLog, audit_record

COMMAND = Path(sys.executable).with_name("thinfile")
DATA = Path(__file__).parents[1] / "data"
AUDIT_KEY = "audit-key-0123456789abcdef"

pytestmark = pytest.mark.skipif(not COMMAND.exists(), reason="the installed console script")


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINFILE_")}
    env |= {"THINFILE_HOME": str(home), "THINFILE_AUDIT_KEY": AUDIT_KEY}
    return subprocess.run([str(COMMAND), *args], capture_output=True, text=True, env=env, timeout=120)


def test_audit_verify_writes_its_verdict_to_standard_output(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    AuditLog(log, key=AUDIT_KEY.encode()).append(
        [audit_record(f"req-{i}", "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", []) for i in range(3)]
    )

    done = run(["audit", "verify", "--log", str(log)], tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("PASS 3 records in 1 file(s)")
    assert done.stderr == ""


def test_an_error_goes_to_standard_error_and_nothing_to_standard_output(tmp_path: Path) -> None:
    done = run(["audit", "verify", "--log", str(tmp_path / "absent.jsonl")], tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: no audit log at")


def test_schema_check_writes_its_findings_and_verdict_to_standard_output(tmp_path: Path) -> None:
    table, schema = DATA / "german_credit.csv", DATA / "german_credit.yaml"

    done = run(["schema", "check", str(table), "--schema", str(schema)], tmp_path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("schema 'german-credit' v1: 17 model inputs")
    assert any(line.startswith("warning: protected age_band") for line in lines)
    assert lines[-1].startswith("PASS: 1,000 rows against schema 'german-credit' match")
    assert done.stderr == ""


def test_schema_infer_keeps_standard_output_for_the_yaml_and_says_its_summary_there_when_writing_a_file(
    tmp_path: Path,
) -> None:
    table = DATA / "german_credit.csv"

    to_stdout = run(["schema", "infer", str(table)], tmp_path)
    to_file = run(["schema", "infer", str(table), "-o", str(tmp_path / "schema.yaml")], tmp_path)

    assert to_stdout.returncode == to_file.returncode == 0, to_stdout.stderr + to_file.stderr
    assert yaml.safe_load(to_stdout.stdout) == yaml.safe_load((tmp_path / "schema.yaml").read_text())
    assert to_stdout.stderr.startswith("schema 'german_credit': ")
    assert to_file.stdout.startswith("schema 'german_credit': ") and to_file.stdout.splitlines()[0].endswith(
        f"written to {tmp_path / 'schema.yaml'}"
    )
    assert to_file.stderr == ""
