"""`schema check` validates a table once: training's preparation can take the report it already has, and gives
what it gives when it validates itself, leaving that report as it was."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from thinfile.features.schema import Schema
from thinfile.features.validate import validate_table
from thinfile.training.data import prepare


def _messy(make_foreign_table) -> pd.DataFrame:
    table = make_foreign_table(1_000, seed=4).astype({"late_bills": object, "went_bad": "Int64"})
    table.loc[7, "late_bills"] = "many"
    table.loc[[11, 12], "went_bad"] = pd.NA
    return table


def test_preparing_with_the_checks_report_gives_the_same_rows_and_rejects(make_foreign_table, foreign_schema) -> None:
    table = _messy(make_foreign_table)
    own = prepare(table, foreign_schema)
    given = prepare(table, foreign_schema, report=validate_table(table, foreign_schema))
    pdt.assert_frame_equal(given.frame, own.frame)
    pdt.assert_frame_equal(given.rejects, own.rejects)
    assert len(own.rejects) == 3


def test_preparing_with_a_report_leaves_its_clean_frame_as_it_was(make_foreign_table, foreign_schema: Schema) -> None:
    table = _messy(make_foreign_table)
    report = validate_table(table, foreign_schema)
    before = report.clean.copy()
    prepare(table, foreign_schema, report=report)
    pdt.assert_frame_equal(report.clean, before)


def test_schema_check_counts_the_rows_that_break_the_schema_as_training_sets_them_aside(
    make_foreign_table, foreign_schema: Schema
) -> None:
    from thinfile.features.infer import check_table
    from thinfile.training.data import outcome, set_aside_words

    table = _messy(make_foreign_table)
    table.loc[20, "went_bad"] = 7
    said = set_aside_words(prepare(table, foreign_schema).rejects, foreign_schema.target)
    assert said == "2 rows that break the schema and 2 with no outcome yet"
    assert (
        "2 of 1,000 rows (0.2%) break the schema" in check_table(table, foreign_schema, target_reader=outcome).problems
    )
