"""`thinfile schema check` on protected groups too small for the fairness audit: how groups are counted, and
against which minimum (the committed cases, a group of three warned and a table with none, are in test_schema_cli)."""

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from thinfile.cli import app

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()

LENDER_SCHEMA = """\
name: lender
version: 1
id_column: loan_id
target: bad
protected:
  - name: region
    categories: ['1', '2', '3']
features:
  - name: months_on_book
    label: Months on book
    type: int
    min: 0
    max: 600
    nullable: false
    monotone: 1
    dimension: behaviour
    reason: Short time as a customer
"""


def _lender_table(tmp_path: Path, regions: list[float]) -> tuple[Path, Path]:
    """A lender's own table (CSV) and its schema: one input, an outcome, and a protected region per row."""
    n = len(regions)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "loan_id": [f"L{i:04d}" for i in range(n)],
            "months_on_book": rng.integers(1, 120, n),
            "region": regions,
            "bad": np.arange(n) % 4 == 0,
        }
    ).astype({"bad": int})
    table, schema = tmp_path / "loans.csv", tmp_path / "loans.yaml"
    frame.to_csv(table, index=False)
    schema.write_text(LENDER_SCHEMA)
    return table, schema


def _check(table: Path, schema: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["schema", "check", str(table), "--schema", str(schema)])
    return result.exit_code, " ".join(result.output.split())


def test_a_small_coded_group_is_named_by_its_code_when_blanks_make_the_column_decimal(tmp_path):
    table, schema = _lender_table(tmp_path, [1.0] * 60 + [2.0] * 60 + [3.0] * 3 + [np.nan] * 2)
    code, said = _check(table, schema)
    assert code == 0, said
    assert "warning: protected region = '3': 3 rows, fewer than the 50 the fairness audit needs" in said
    assert "'3.0'" not in said and "PASS: 125 rows against schema 'lender' match, 3 warnings above" in said
    assert "warning: region: 2 of 125 rows have no value" in said
    assert "warning: train would refuse it: loans.csv: 125 usable rows; at least 200 are needed" in said


def test_missing_protected_values_are_not_a_group(tmp_path):
    table, schema = _lender_table(tmp_path, [1.0] * 60 + [2.0] * 60 + [3.0] * 60 + [np.nan] * 3)
    code, said = _check(table, schema)
    assert code == 0 and "warning: protected" not in said, said


def test_groups_are_measured_against_the_audit_minimum_in_the_settings(monkeypatch):
    monkeypatch.setenv("THINFILE_AUDIT__MIN_GROUP_ROWS", "250")
    code, said = _check(DATA / "german_credit.csv", DATA / "german_credit.yaml")
    assert code == 0, said
    assert "warning: protected age_band = '45-75': 201 rows, fewer than the 250 the fairness audit needs" in said
    assert "protected sex = 'female': 310 rows," not in said  # enough in the whole table (its held-out part is not)


def test_a_table_that_fails_its_check_still_names_its_small_groups_and_not_an_undeclared_value_as_one(tmp_path):
    table, schema = _lender_table(tmp_path, [1.0] * 60 + [2.0] * 60 + [3.0] * 3 + [9.0])
    code, said = _check(table, schema)
    assert code == 1, said
    assert "protected attribute region: values the schema does not declare: '9' (1 row)" in said
    assert "warning: protected region = '3': 3 rows, fewer than the 50 the fairness audit needs" in said
    assert "protected region = '9'" not in said
    assert "train would refuse it" not in said  # its problems say what to fix; the held-out part is not taken
