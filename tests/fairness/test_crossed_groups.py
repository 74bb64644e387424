"""The warning, before training, of crossed protected groups too small for the fairness audit to judge."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from thinfile.features.infer import undeclared_protected
from thinfile.features.schema import parse_schema
from thinfile.training.audit_groups import audit_rows, crossed_too_small, too_small_to_audit
from thinfile.training.fairness.audit import build_report
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.settings import TrainingSettings

SCHEMA = {
    "name": "lender",
    "version": 1,
    "id_column": "loan_id",
    "target": "bad",
    "protected": [
        {"name": "region", "categories": ["1", "2"], "labels": {"1": "north", "2": "south"}},
        {"name": "sex", "categories": ["F", "M"]},
        {"name": "age_band", "categories": ["young", "old"]},
    ],
    "features": [{"name": "months", "type": "int", "min": 0, "max": 600, "dimension": "behaviour", "reason": "Short"}],
}


def _table(cells: dict[tuple[float, str], int]) -> pd.DataFrame:
    """Rows per (region code, sex); regions as a decimal column with a blank, as a CSV with gaps reads."""
    region = [r for (r, _), n in cells.items() for _ in range(n)] + [np.nan]
    sex = [s for (_, s), n in cells.items() for _ in range(n)] + ["F"]
    return pd.DataFrame({"region": region, "sex": sex, "age_band": "young"})


def test_a_small_crossed_group_is_named_by_its_labels_with_the_rows_pandas_counts() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 12, (2.0, "M"): 80})
    (warning,) = crossed_too_small(table, schema, min_rows=50)
    counted = pd.crosstab(table["region"], table["sex"])
    assert f"'south & F' {counted.loc[2.0, 'F']} rows" in warning
    assert "1 of 4 crossed groups" in warning and "region & sex" in warning


def test_no_warning_when_every_crossed_group_can_be_judged() -> None:
    schema = parse_schema(SCHEMA)
    assert crossed_too_small(_table({(1.0, "F"): 50, (1.0, "M"): 60, (2.0, "F"): 51, (2.0, "M"): 80}), schema, 50) == []


def test_crossings_of_a_small_group_are_counted_too() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 12, (2.0, "M"): 20})
    (warning,) = crossed_too_small(table, schema, 50)
    assert "2 of 4 crossed groups" in warning and "'south & F' 12 rows" in warning and "'south & M' 20 rows" in warning
    assert "they will be listed, not judged" in warning


def test_when_fewer_than_two_crossed_groups_can_be_judged_the_warning_says_the_crossed_checks_will_not_run() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 30, (2.0, "F"): 12, (2.0, "M"): 20})
    (warning,) = crossed_too_small(table, schema, 50)
    assert "3 of 4 crossed groups" in warning and "only 1 can be judged, so the crossed checks will not run" in warning


def test_values_the_schema_does_not_declare_make_no_crossed_group() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 60, (2.0, "M"): 80, (3.0, "F"): 5})
    assert crossed_too_small(table, schema, 50) == []


def test_a_small_labelled_group_is_warned_by_its_label_as_the_audit_names_it() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 12, (2.0, "M"): 20})
    warnings = too_small_to_audit(table, table, schema, 50)
    assert any(w.startswith("protected region = 'south' (code 2): 32 rows,") for w in warnings), warnings


def test_a_value_the_schema_does_not_declare_is_not_warned_of_as_a_small_group_but_as_undeclared() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 60, (2.0, "M"): 80, (9.0, "F"): 1})
    assert not any("'9'" in w for w in too_small_to_audit(table, table, schema, 50))
    (said,) = undeclared_protected(table, schema)
    assert said.startswith("protected attribute region: values the schema does not declare: '9' (1 row)")
    assert undeclared_protected(table[table["region"] != 9.0], schema) == []


def test_an_undeclared_protected_value_that_differs_only_in_case_says_which_declared_one_it_reads_as() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "f"): 3})
    (said,) = undeclared_protected(table, schema)
    assert said.startswith("protected attribute sex: values the schema does not declare: 'f' (3 rows)")
    assert "once case and spaces are ignored 'f' is 'F'" in said


BOOK = {
    "name": "history",
    "version": 1,
    "id_column": "id",
    "target": "bad",
    "booked_column": "booked",
    "protected": [{"name": "region", "categories": ["n", "s"]}, {"name": "gender", "categories": ["f", "m"]}],
    "features": [{"name": "x", "type": "float", "min": 0, "max": 1, "dimension": "capacity", "reason": "Low"}],
}


def _history(rows: int = 3000) -> pd.DataFrame:
    """A lending history: half its applicants booked (the rest have no outcome), some with no gender."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "id": range(rows),
            "x": rng.uniform(0, 1, rows),
            "region": rng.choice(["n", "s"], rows, p=[0.8, 0.2]),
            "gender": rng.choice(["f", "m"], rows),
            "booked": rng.integers(0, 2, rows),
        }
    )
    table["bad"] = np.where(table["booked"] == 1, rng.integers(0, 2, rows), np.nan)
    table.loc[rng.choice(rows, 200, replace=False), "gender"] = None
    return table


def test_the_audited_rows_of_a_lending_history_are_its_booked_rows() -> None:
    table = _history()
    rows = audit_rows(table, parse_schema(BOOK), TrainingSettings(), all_rows=True)
    assert sorted(rows.frame["id"]) == sorted(str(i) for i in table.loc[table["booked"] == 1, "id"])


def test_schema_check_counts_each_crossed_group_as_the_fairness_audit_does() -> None:
    schema = parse_schema(BOOK)
    held_out = audit_rows(_history(), schema, TrainingSettings(), all_rows=False).frame
    (warning,) = crossed_too_small(held_out, schema, min_rows=10_000)
    said = {group: int(rows) for group, rows in re.findall(r"'(\w & \w)' (\d+) rows", warning)}
    score, cut = np.linspace(300, 850, len(held_out)), Cutoffs(approve=600, refer=500)
    report = build_report(held_out, schema, np.full(len(held_out), 0.1), score, scale=ScoreScale(), cutoffs=cut)
    crossed = report.attributes[-1].groups["rows"]
    assert said == {group: int(rows) for group, rows in crossed.items() if rows > 0}


def test_a_small_group_of_a_lending_history_is_counted_on_the_rows_with_an_outcome() -> None:
    table = _history()
    south = table["region"] == "s"
    booked_south = int((south & table["bad"].notna()).sum())
    warnings = too_small_to_audit(table, table.iloc[:0], parse_schema(BOOK), min_rows=int(south.sum()))
    (said,) = [w for w in warnings if w.startswith("protected region = 's'")]
    assert f": {booked_south:,} rows in the rows with an outcome" in said
