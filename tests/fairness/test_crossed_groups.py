"""The warning, before training, of crossed protected groups too small for the fairness audit to judge."""

from __future__ import annotations

import numpy as np
import pandas as pd

from thinfile.features.schema import parse_schema
from thinfile.training.audit_groups import crossed_too_small

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


def test_crossings_of_a_group_already_warned_alone_are_left_out() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 12, (2.0, "M"): 20})
    assert crossed_too_small(table, schema, 50, small={("region", "2")}) == []


def test_values_the_schema_does_not_declare_make_no_crossed_group() -> None:
    schema = parse_schema(SCHEMA)
    table = _table({(1.0, "F"): 70, (1.0, "M"): 60, (2.0, "F"): 60, (2.0, "M"): 80, (3.0, "F"): 5})
    assert crossed_too_small(table, schema, 50) == []
