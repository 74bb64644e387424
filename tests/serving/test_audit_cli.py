"""`thinfile audit verify` and `thinfile audit --input`: what an operator runs against the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.serving.audit import audit_record, encode

runner = CliRunner()


def records(*ids: str) -> bytes:
    return encode(audit_record(i, "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", []) for i in ids)


def test_verify_passes_a_whole_log_and_counts_its_records(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(records("a", "b", "c"))
    result = runner.invoke(app, ["audit", "verify", "--log", str(log), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["records"], report["torn"], report["duplicates"], report["ok"]) == (3, [], 0, True)


def test_verify_fails_on_a_torn_line_and_a_repeated_request_id(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(records("a", "b") + records("c")[:30] + records("d", "b"))
    result = runner.invoke(app, ["audit", "verify", "--log", str(log)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "FAIL 4 records" in text and "1 torn line(s)" in text and "1 repeated request id(s)" in text
    assert "line 3" in text


def test_verify_says_when_there_is_no_log(tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", "--log", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 2 and "no audit log" in result.output


@pytest.mark.slow
def test_audit_input_finds_the_decision_on_an_applicant_by_its_hmac(
    served, thin_body: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {**thin_body, "phone_tenure_months": 37}
    with served.client() as client:
        answer = client.post("/score", json=body).json()
    applicant = tmp_path / "applicant.json"
    applicant.write_text(json.dumps(body))
    monkeypatch.setenv("THINFILE_AUDIT_KEY", served.audit_key)
    result = runner.invoke(app, ["audit", "--log", str(served.audit_log), "--input", str(applicant), "--json"])
    assert result.exit_code == 0, result.output
    assert answer["request_id"] in [json.loads(x)["request_id"] for x in result.output.splitlines()]
    monkeypatch.setenv("THINFILE_AUDIT_KEY", "another-key-0123456789")
    other = runner.invoke(app, ["audit", "--log", str(served.audit_log), "--input", str(applicant), "--json"])
    assert other.exit_code == 0 and other.output.strip() == ""
