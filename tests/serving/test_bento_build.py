"""The Bento: served by its tag, quiet towards third parties, pinned to the tested versions, and refusing a schema
file it cannot find in one line. `.ci/wheel-smoke` builds and serves it from the wheel; these check the parts of it
that need no build."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bentoml._internal.bento.build_config import BentoBuildConfig

from thinfile.serving.settings import ServingSettings
from thinfile.serving.startup import ServiceStartError, contract_schema

ROOT = Path(__file__).resolve().parents[2]
BENTOFILE = ROOT / "bentofile.yaml"


def bentofile() -> dict:
    return yaml.safe_load(BENTOFILE.read_text())


def test_the_bentofile_is_one_bentoml_reads() -> None:
    with BENTOFILE.open() as f:
        config = BentoBuildConfig.from_yaml(f)
    assert config.service == "thinfile.serving.service:Thinfile"


def test_the_bento_is_named_so_that_bentoml_serve_finds_it_by_its_tag() -> None:
    # `bentoml serve NAME:TAG` imports NAME as a module first: a Bento named `thinfile` was never served by its tag
    name = bentofile()["name"]
    assert not name.isidentifier() or importlib.util.find_spec(name) is None, name


def test_the_bentos_image_sends_no_usage_reports_and_draws_no_progress_bars() -> None:
    envs = {env["name"]: env["value"] for env in bentofile()["envs"]}
    assert envs == {
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }


def test_the_bentos_packages_are_pinned_without_locking_against_an_index() -> None:
    python = bentofile()["python"]
    assert python["requirements_txt"] == "requirements.txt" and python["lock_packages"] is False


def test_the_service_claims_no_schema_in_its_labels() -> None:
    from thinfile.serving.service import Thinfile

    assert "schema" not in Thinfile.labels


def test_a_relative_schema_file_that_is_not_there_says_to_give_an_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ServiceStartError) as err:
        contract_schema(ServingSettings(schema_file="uci_credit_card.yaml"))
    said, looked_at = str(err.value), tmp_path / "uci_credit_card.yaml"
    assert said.startswith(f"THINFILE_SCHEMA_FILE=uci_credit_card.yaml: no such file {looked_at}")
    assert "the Bento's own folder: set THINFILE_SCHEMA_FILE to an absolute path" in said and "\n" not in said


def test_a_relative_schema_file_that_is_there_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "uci.yaml").write_text((ROOT / "tests" / "data" / "uci_credit_card.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert contract_schema(ServingSettings(schema_file="uci.yaml")).name == "uci-credit-card"


def test_an_absolute_schema_file_that_is_not_there_is_named(tmp_path: Path) -> None:
    with pytest.raises(ServiceStartError, match=f"^THINFILE_SCHEMA_FILE: schema file {tmp_path / 'x.yaml'} does not"):
        contract_schema(ServingSettings(schema_file=str(tmp_path / "x.yaml")))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("THINFILE_SCHEMA_FILE", "missing.yaml", "error: THINFILE_SCHEMA_FILE=missing.yaml: no such file "),
        ("THINFILE_WORKERS", "0", "error: bad serving settings: THINFILE_WORKERS: Input should be greater than"),
    ],
)
def test_bentoml_serve_refuses_a_bad_setting_at_import_in_one_line(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "THINFILE_HOME": str(tmp_path),
        "BENTOML_DO_NOT_TRACK": "true",
        "HOME": str(tmp_path),
        variable: value,
    }
    bentoml = str(Path(sys.executable).parent / "bentoml")
    done = subprocess.run(
        [bentoml, "serve", "thinfile.serving.service:Thinfile", "--host", "127.0.0.1", "--port", "3997"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert out.startswith(said) and out.count("\n") == 1 and "Traceback" not in out, out
