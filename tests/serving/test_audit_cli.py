"""`thinfile audit verify` and `thinfile audit --input`: what an operator runs against the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.serving.audit import AuditLog, audit_record, encode

runner = CliRunner()
AUDIT_KEY = "audit-key-0123456789abcdef"


def records(*ids: str) -> bytes:
    return encode(audit_record(i, "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", []) for i in ids)


def chained(log: Path, *ids: str) -> AuditLog:
    writer = AuditLog(log, key=AUDIT_KEY.encode())
    for i in ids:
        writer.append([audit_record(i, "m", "1", "0" * 64, "0123456789ab", 600.0, "approve", [])])
    return writer


def verify_text(log: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", "--log", str(log)])
    return result.exit_code, " ".join(result.output.split())


def test_verify_passes_a_whole_chained_log_with_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "decisions.jsonl"
    chained(log, "a", "b", "c")
    monkeypatch.setenv("THINFILE_AUDIT_KEY", AUDIT_KEY)
    result = runner.invoke(app, ["audit", "verify", "--log", str(log), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["records"], report["torn"], report["duplicates"], report["ok"]) == (3, [], 0, True)
    assert (report["verdict"], report["macs_matched"]) == ("pass", 3)


def test_verify_reads_the_key_from_the_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "decisions.jsonl"
    chained(log, "a", "b")
    (tmp_path / "key").write_text(AUDIT_KEY + "\n")
    monkeypatch.setenv("THINFILE_AUDIT_KEY_FILE", str(tmp_path / "key"))
    code, text = verify_text(log)
    assert code == 0 and text.startswith("PASS 2 records"), text


def test_verify_fails_an_edited_record_naming_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "decisions.jsonl"
    chained(log, "a", "b", "c")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"decision":"approve"', b'"decision":"decline"')
    log.write_bytes(b"".join(lines))
    monkeypatch.setenv("THINFILE_AUDIT_KEY", AUDIT_KEY)
    code, text = verify_text(log)
    assert code == 1 and text.startswith("FAIL 3 records"), text
    assert f"1 record(s) whose MAC does not match (edited): {log} line 2" in text


def test_verify_without_the_key_is_incomplete_and_says_how_to_give_it(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    chained(log, "a", "b", "c")
    code, text = verify_text(log)
    assert code == 4, text
    assert text.startswith("integrity NOT checked: no audit key") and "THINFILE_AUDIT_KEY_FILE" in text
    assert "INCOMPLETE 3 records" in text and "PASS" not in text


def test_verify_with_a_wrong_key_says_it_is_not_the_records_key_and_is_incomplete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "decisions.jsonl"
    chained(log, "a", "b", "c")
    monkeypatch.setenv("THINFILE_AUDIT_KEY", "another-key-0123456789")
    code, text = verify_text(log)
    assert code == 4, text
    assert text.startswith("the key given is not the one these records were written with (key id ")
    assert "the records name key id(s) 0123456789ab" in text and "INCOMPLETE 3 records" in text
    assert "(edited)" not in text and "FAIL" not in text


def test_verify_of_an_old_log_without_macs_is_incomplete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(records("a", "b", "c"))
    monkeypatch.setenv("THINFILE_AUDIT_KEY", AUDIT_KEY)
    code, text = verify_text(log)
    assert code == 4 and text.startswith("INCOMPLETE 3 records"), text
    assert "3 record(s) without a MAC (written before records were chained)" in text


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


def test_verify_of_an_empty_log_with_the_key_is_incomplete_not_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b"")
    monkeypatch.setenv("THINFILE_AUDIT_KEY", AUDIT_KEY)
    code, text = verify_text(log)
    assert code == 4 and "INCOMPLETE 0 records in 1 file(s);" in text and "the log holds no records" in text
    assert "None" not in text and "{}" not in text


def test_verify_of_a_folder_says_to_give_the_log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_AUDIT_KEY", AUDIT_KEY)
    code, text = verify_text(tmp_path)
    assert code == 2 and f"error: {tmp_path} is a folder; give the audit log file" in text


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
