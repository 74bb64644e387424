"""The service refuses to start, with a clear message, rather than serve the wrong thing or serve openly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.config import SETTINGS_FILE_VARIABLE, Settings
from thinfile.features.schema import Schema
from thinfile.features.settings import Home, TextFiles
from thinfile.serving.processes import SERVER_PID
from thinfile.serving.service import load_model
from thinfile.serving.settings import ServingSettings, misspelt_variables
from thinfile.serving.startup import ServiceStartError

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_thinfile_serve_refuses_without_a_registered_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path))
    result = runner.invoke(app, ["serve", "--port", "3999"])
    assert result.exit_code != 0
    said = " ".join(result.output.split())
    assert "no model 'thinfile-synthetic' answers to 'champion': nothing has been trained under this" in said
    assert not (tmp_path / "mlruns" / "mlflow.db").exists() and not (tmp_path / "audit").exists()


def test_thinfile_serve_refuses_an_empty_home_before_loading_mlflow_or_bentoml(tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent), "THINFILE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "thinfile.cli", "serve"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2 and "nothing has been trained under this THINFILE_HOME" in done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "thinfile.features.schema" in imported and not imported & {"mlflow", "bentoml"}


def test_thinfile_serve_refuses_to_bind_beyond_loopback_without_a_key() -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "without an API key" in " ".join(result.output.split())


@pytest.mark.slow
def test_bentoml_serve_itself_exits_when_there_is_no_model(tmp_path: Path) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "THINFILE_HOME": str(tmp_path),
        "BENTOML_DO_NOT_TRACK": "true",
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "bentoml"),
            "serve",
            "thinfile.serving.service:Thinfile",
            "--host",
            "127.0.0.1",
            "--port",
            "3998",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "error: no model to serve" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "audit").exists()  # refused before anything was made


def test_cutoffs_can_be_overridden_and_a_foreign_schema_is_refused(registered, schema: Schema) -> None:
    scorer = load_model(ServingSettings(approve_cutoff=700, refer_cutoff=640), schema)
    assert (scorer.cutoffs.approve, scorer.cutoffs.refer) == (700, 640)
    other = Schema.model_validate({**schema.model_dump(), "version": schema.version + 1})
    with pytest.raises(ServiceStartError, match="THINFILE_SCHEMA_FILE"):
        load_model(ServingSettings(), other)


def test_an_approve_cutoff_override_alone_keeps_the_models_refer_band(registered, schema: Schema) -> None:
    own = load_model(ServingSettings(), schema).cutoffs
    moved = load_model(ServingSettings(approve_cutoff=700), schema).cutoffs
    assert (moved.approve, moved.refer) == (700, 700 - (own.approve - own.refer))


@pytest.mark.parametrize(
    ("approve", "refer", "said"),
    [
        (1200, None, "the approve cut-off 1200 is above the highest score, 950: no applicant could reach it"),
        (500, 560, "refer cut-off 560.0 is above approve cut-off 500.0"),
    ],
)
def test_cutoff_overrides_outside_the_scores_are_refused_in_one_line(
    registered, schema: Schema, approve: float, refer: float | None, said: str
) -> None:
    with pytest.raises(ServiceStartError) as err:
        load_model(ServingSettings(approve_cutoff=approve, refer_cutoff=refer), schema)
    assert str(err.value).startswith("THINFILE_APPROVE_CUTOFF / THINFILE_REFER_CUTOFF: ") and said in str(err.value)
    assert "\n" not in str(err.value)


def test_a_cutoff_override_that_is_not_a_number_is_a_bad_setting() -> None:
    with pytest.raises(ValueError, match="approve_cutoff"):
        ServingSettings(approve_cutoff=float("nan"))


def test_thinfile_audit_lists_the_services_decisions(served, thin_body: dict) -> None:
    with served.client() as client:
        answer = client.post("/score", json=thin_body).json()
    result = runner.invoke(
        app, ["audit", "--log", str(served.audit_log), "--request-id", answer["request_id"], "--json"]
    )
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    assert json.loads(line)["decision"] == answer["decision"]
    table = runner.invoke(app, ["audit", "--log", str(served.audit_log), "--limit", "3"])
    assert table.exit_code == 0 and "matching decisions" in table.output


def test_serve_and_ui_say_in_one_line_when_their_port_is_taken(registered, serving_home: Path, monkeypatch) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(serving_home))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args in (["serve", "--port", port], ["ui", "--port", port]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2, result.output
            assert f"port {port} on 127.0.0.1 is already in use" in " ".join(result.output.split())
            assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "variable,value,words",
    [
        ("THINFILE_WORKERS", "0", "THINFILE_WORKERS: Input should be greater than or equal to 1"),
        ("THINFILE_AUDIT_KEY", "short-secret", "the audit key must have at least 16 characters"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_without_its_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    for args in (["serve"], ["audit", "verify"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert words in text and "short-secret" not in text and "Traceback" not in text


def test_serve_refuses_in_one_line_an_audit_log_it_cannot_write(
    registered, serving_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(serving_home))  # a model to serve: the audit log is checked after it
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the audit folder should be")
    result = runner.invoke(app, ["serve", "--audit-log", str(blocked / "decisions.jsonl")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"cannot write the audit log {blocked / 'decisions.jsonl'}" in text and "Traceback" not in text


def test_bentoml_serve_itself_refuses_a_misspelt_service_variable(tmp_path: Path) -> None:
    """The Bento's own start (`bentoml serve`, a container's entry point) is refused as `thinfile serve` is: a
    misspelt cut-off would otherwise leave the model's own in force without a word."""
    env = {
        "PATH": str(Path(sys.executable).parent),
        "THINFILE_HOME": str(tmp_path),
        "BENTOML_DO_NOT_TRACK": "true",
        "HOME": str(tmp_path),
        "THINFILE_APROVE_CUTOFF": "620",
    }
    bentoml = str(Path(sys.executable).parent / "bentoml")
    args = [bentoml, "serve", "thinfile.serving.service:Thinfile", "--host", "127.0.0.1", "--port", "3997"]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said[-2000:]
    assert "THINFILE_APROVE_CUTOFF: not a setting; did you mean THINFILE_APPROVE_CUTOFF?" in said
    assert "Traceback" not in said


def test_no_variable_a_thinfile_command_reads_is_taken_for_a_misspelt_service_variable() -> None:
    read = [
        f"THINFILE_{name.upper()}" for name in (*Settings.model_fields, *Home.model_fields, *TextFiles.model_fields)
    ]
    read += [SETTINGS_FILE_VARIABLE, SERVER_PID]
    assert misspelt_variables(dict.fromkeys(read, "1")) == []
    assert misspelt_variables({"THINFILE_WORKER": "2", "thinfile_api_kye": "x"}) == [
        "THINFILE_WORKER: not a setting; did you mean THINFILE_WORKERS?",
        "thinfile_api_kye: not a setting; did you mean THINFILE_API_KEY?",
    ]


@pytest.mark.parametrize("command", ["serve", "ui"])
def test_a_port_out_of_range_is_refused_naming_the_option(command: str) -> None:
    result = runner.invoke(app, [command, "--port", "99999"], terminal_width=200)
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output and "65535" in result.output
    assert "THINFILE_PORT" not in result.output


@pytest.mark.parametrize(
    ("flag", "variable", "value"), [("--port", "THINFILE_PORT", "abc"), ("--host", "THINFILE_HOST", "")]
)
def test_a_flag_wins_over_a_bad_variable_in_the_server_it_starts(
    registered, serving_home: Path, monkeypatch: pytest.MonkeyPatch, flag: str, variable: str, value: str
) -> None:
    monkeypatch.setenv("THINFILE_HOME", str(serving_home))
    monkeypatch.setenv(variable, value)
    started: list[dict[str, str]] = []
    monkeypatch.setattr("thinfile.serving.processes.exec_server", lambda cmd, env, grace_s: started.append(env))
    given = "4321" if flag == "--port" else "127.0.0.1"
    result = runner.invoke(app, ["serve", flag, given])
    assert result.exit_code == 0, result.output
    assert started[0][variable] == given
    with pytest.MonkeyPatch.context() as mp:  # the server reads its variables from the environment it was given
        for name, text in started[0].items():
            mp.setenv(name, text)
        server = ServingSettings()
    assert str(getattr(server, variable.removeprefix("THINFILE_").lower())) == given
