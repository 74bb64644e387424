"""`thinfile audit --input` with a lender's own schema: the applicant is read and hashed by the request contract the
service ran with (--schema or THINFILE_SCHEMA_FILE), and an applicant that does not fit names the schema used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.schema import load_schema
from thinfile.serving.audit import AuditLog, audit_record, key_id
from thinfile.serving.contract import RequestReader, input_hmac

runner = CliRunner()
KEY = "audit-key-0123456789abcdef"
SCHEMA = Path(__file__).parents[1] / "data" / "uci_credit_card.yaml"
BODY = {"EDUCATION": "3", "LIMIT_BAL": 80000, "BILL_AMT1": 80610}


@pytest.fixture
def decided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A log holding a decision on BODY as a service on the UCI schema records it, and BODY in a file."""
    body = json.dumps(BODY).encode()
    schema = load_schema(SCHEMA)
    hashed = input_hmac(KEY.encode(), schema, RequestReader(schema, 1).applicant(body))
    log = tmp_path / "decisions.jsonl"
    AuditLog(log, key=KEY.encode()).append(
        [audit_record("the-decision", "m", "1", hashed, key_id(KEY.encode()), 612.0, "approve", [])]
    )
    applicant = tmp_path / "app.json"
    applicant.write_bytes(body)
    monkeypatch.setenv("THINFILE_AUDIT_KEY", KEY)
    monkeypatch.delenv("THINFILE_SCHEMA_FILE", raising=False)
    return log, applicant


def found(log: Path, applicant: Path, *extra: str) -> list[str]:
    result = runner.invoke(app, ["audit", "--log", str(log), "--input", str(applicant), "--json", *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line)["request_id"] for line in result.output.splitlines()]


def test_input_is_read_by_the_schema_given_with_schema(decided: tuple[Path, Path]) -> None:
    assert found(*decided, "--schema", str(SCHEMA)) == ["the-decision"]


def test_input_is_read_by_the_schema_in_thinfile_schema_file(
    decided: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_SCHEMA_FILE", str(SCHEMA))
    assert found(*decided) == ["the-decision"]


def test_an_input_that_does_not_fit_names_the_schema_checked_and_how_to_give_another(
    decided: tuple[Path, Path],
) -> None:
    log, applicant = decided
    result = runner.invoke(app, ["audit", "--log", str(log), "--input", str(applicant)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert text.startswith(f"error: {applicant} does not fit schema 'thinfile-synthetic' v1 (the built-in schema):")
    assert "3 unknown fields" in text and "give its file: --schema FILE (or THINFILE_SCHEMA_FILE)" in text


def test_a_missing_schema_file_is_one_line(decided: tuple[Path, Path]) -> None:
    log, applicant = decided
    result = runner.invoke(app, ["audit", "--log", str(log), "--input", str(applicant), "--schema", "none.yaml"])
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == f"error: schema file {Path('none.yaml').resolve()} does not exist"
