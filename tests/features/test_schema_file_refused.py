"""A schema file that YAML cannot read as a lender meant it (hostile or broken) is refused by `thinfile schema check`
in one line naming the file, the cause and what to do, with exit code 2 and no traceback."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.yamlio import read_yaml

runner = CliRunner()
BUILTIN = files("thinfile.features").joinpath("schemas", "synthetic.yaml").read_text(encoding="utf-8")


def check(tmp_path: Path, schema: bytes) -> Result:
    table = tmp_path / "table.csv"
    table.write_text("applicant_id,default_12m\n1,0\n")
    file = tmp_path / "lender.yaml"
    file.write_bytes(schema)
    return runner.invoke(app, ["schema", "check", str(table), "--schema", str(file)])


def assert_one_line_refusal(out: Result, said: str) -> None:
    assert out.exit_code == 2, out.output
    assert "lender.yaml" in out.output and said in out.output
    assert out.output.count("\n") == 1 and "Traceback" not in out.output


@pytest.mark.parametrize("key", ["max", "version"])
def test_a_number_of_5000_digits_is_refused_naming_its_line(tmp_path: Path, key: str) -> None:
    text = re.sub(rf"\b{key}: \S+", f"{key}: {'1' * 5000}", BUILTIN, count=1)
    assert_one_line_refusal(check(tmp_path, text.encode()), "a number of 5,000 digits (line ")


def test_a_schema_in_latin1_is_refused_saying_to_save_it_as_utf8(tmp_path: Path) -> None:
    text = BUILTIN.replace("label: ", "label: café ", 1)
    assert_one_line_refusal(check(tmp_path, text.encode("latin-1")), "is not UTF-8 text (byte #xe9 on line ")


def test_a_schema_nested_100000_deep_is_refused_in_one_line(tmp_path: Path) -> None:
    assert_one_line_refusal(check(tmp_path, b"[" * 100_000), "nests lists or mappings too deeply to read")


def test_a_key_given_twice_in_a_feature_is_refused_naming_it_and_its_line(tmp_path: Path) -> None:
    first = re.search(r"\n( +)max: \S+\n", BUILTIN)
    assert first is not None
    line = BUILTIN[: first.end()].count("\n") + 1
    text = BUILTIN[: first.end()] + f"{first.group(1)}max: 1\n" + BUILTIN[first.end() :]
    assert_one_line_refusal(check(tmp_path, text.encode()), f"gives 'max' twice (line {line}); write each key once")


def test_a_schema_that_is_not_yaml_is_one_line_naming_the_line(tmp_path: Path) -> None:
    out = check(tmp_path, b"features: [unclosed\n")
    assert_one_line_refusal(out, "is not valid YAML at line 2 (expected ',' or ']'")


def test_a_value_yaml_cannot_read_is_refused_naming_its_line(tmp_path: Path) -> None:
    text = f"{BUILTIN}released: 2023-02-30\n"
    assert_one_line_refusal(check(tmp_path, text.encode()), "cannot read the value at line ")


def test_a_schema_sharing_fields_through_yaml_merge_keys_reads_as_pyyaml_reads_it(tmp_path: Path) -> None:
    merged = """name: lender
version: 1
id_column: ID
target: bad
protected: []
common: &common {type: float, min: 0, max: 1, dimension: capacity, reason: Low value}
features:
  - {<<: *common, name: a}
  - {<<: *common, name: b, max: 2}
"""
    file = tmp_path / "lender.yaml"
    file.write_text(merged)
    expected = yaml.safe_load(merged)
    assert read_yaml(file) == expected  # PyYAML's own reading of merge keys, a later key overriding a merged one
