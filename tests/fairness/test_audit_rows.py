"""The rows a fairness audit reads are the rows training reads: what breaks the schema is set aside, never scored."""

from __future__ import annotations

import pandas as pd
import pytest

from thinfile.config import Settings
from thinfile.features.schema import Schema
from thinfile.training.audit_groups import audit_rows
from thinfile.training.fairness import FairnessError
from thinfile.training.split import split_frame


@pytest.fixture(scope="module")
def broken(population: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    table = population.head(5_000).copy()
    bounded = next(f for f in schema.features if f.max is not None)
    table.loc[3, bounded.name] = bounded.max * 10 + 1
    table.loc[7, schema.target] = 2
    return table


def test_every_row_mode_sets_aside_an_out_of_range_value_and_a_bad_outcome(
    broken: pd.DataFrame, schema: Schema
) -> None:
    rows = audit_rows(broken, schema, Settings(), all_rows=True, source="table t")
    assert sorted(rows.set_aside["row"].tolist()) == [3, 7]
    assert len(rows.frame) == len(broken) - 2
    assert set(rows.frame[schema.id_column]) == set(broken[schema.id_column]) - set(
        broken.loc[[3, 7], schema.id_column]
    )
    assert (
        rows.source
        == "table t (every row, --all-rows); 2 rows that break the schema left out, as training leaves them out"
    )


def test_held_out_mode_is_the_test_part_of_the_split_training_makes(broken: pd.DataFrame, schema: Schema) -> None:
    settings = Settings()
    rows = audit_rows(broken, schema, settings, all_rows=False, source="table t")
    clean = broken.drop(index=[3, 7]).reset_index(drop=True)
    expected = split_frame(clean, schema, settings.train).test
    assert rows.frame[schema.id_column].tolist() == expected[schema.id_column].tolist()
    assert rows.source.startswith("table t (held-out test part); 2 rows")


def test_every_row_mode_audits_a_table_too_small_to_train_on(broken: pd.DataFrame, schema: Schema) -> None:
    rows = audit_rows(broken.head(40), schema, Settings(), all_rows=True)
    assert len(rows.frame) == 38
    with pytest.raises(FairnessError, match="--all-rows"):
        audit_rows(broken.head(40), schema, Settings(), all_rows=False)
