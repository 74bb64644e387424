"""A lender's table as it is typed in: one category spelt several ways, amounts with thousands separators, dates in a
dictionary-encoded Parquet column. `infer_schema` says what it sees, and `check_table` says which undeclared values
are declared ones spelt another way."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from thinfile.features.infer import check_table, infer_schema
from thinfile.features.io import read_table
from thinfile.training.data import outcome


def spelt_table(rows: int = 600, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    housing = rng.choice(["own", "rent", "for free"], rows).astype(object)
    housing[:40] = " Own"
    housing[40:80] = "RENT"
    sex = rng.choice(["female", "male"], rows).astype(object)
    sex[80:110] = "Male "
    days = rng.integers(0, 700, rows)
    return pd.DataFrame(
        {
            "id": [f"A{i:05d}" for i in range(rows)],
            "housing": housing,
            "sex": sex,
            "credit_amount": [f"{v:,}" for v in rng.integers(500, 90_000, rows)],
            "income": rng.lognormal(8, 0.5, rows).round(2),
            "application_date": (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d"),
            "bad": rng.integers(0, 2, rows),
        }
    )


def todo_of(frame: pd.DataFrame, column: str) -> str:
    found = infer_schema(frame, name="t", target="bad", id_column="id", protected=["sex"])
    return " ".join(t for t in found.todo if t.startswith(f"{column}:"))


def test_infer_names_the_categories_that_differ_only_in_case_or_spaces() -> None:
    todo = todo_of(spelt_table(), "housing")

    assert "values that differ only in case or spaces: ' Own', 'own'; 'RENT', 'rent'" in todo
    assert "'for free'" not in todo


def test_infer_names_the_protected_groups_that_differ_only_in_case_or_spaces() -> None:
    todo = todo_of(spelt_table(), "sex")

    assert "values that differ only in case or spaces: 'Male ', 'male'" in todo
    assert "the fairness audit compares them" in todo


def test_infer_says_an_amount_with_thousands_separators_is_numbers_not_free_text() -> None:
    table = spelt_table()
    found = infer_schema(table, name="t", target="bad", id_column="id", protected=["sex"])

    column = next(c for c in found.columns if c.name == "credit_amount")

    assert column.role == "left_out"
    assert f"thousands separators ({table['credit_amount'][0]!r})" in column.notes[0]
    assert "free text" not in column.notes[0]


def test_infer_reads_a_date_column_from_dictionary_encoded_parquet_as_from_plain_parquet(tmp_path: Path) -> None:
    table = pa.Table.from_pandas(spelt_table(), preserve_index=False)
    encoded = pa.table(
        [c.dictionary_encode() if pa.types.is_string(c.type) else c for c in table.columns], names=table.column_names
    )
    pq.write_table(table, tmp_path / "plain.parquet")
    pq.write_table(encoded, tmp_path / "encoded.parquet")

    dates = [
        infer_schema(read_table(tmp_path / f), name="t", target="bad", id_column="id").schema.date_column
        for f in ("plain.parquet", "encoded.parquet")
    ]

    assert dates == ["application_date", "application_date"]


def test_check_says_which_undeclared_values_are_declared_ones_spelt_another_way() -> None:
    table = spelt_table()
    clean = table.assign(housing=table["housing"].str.strip().str.lower(), sex=table["sex"].str.strip().str.lower())
    schema = infer_schema(
        clean.drop(columns="credit_amount"), name="t", target="bad", id_column="id", protected=["sex"]
    )

    problems = check_table(table.drop(columns="credit_amount"), schema.schema, target_reader=outcome).problems

    housing = next(p for p in problems if p.startswith("category housing:"))
    sex = next(p for p in problems if p.startswith("protected attribute sex:"))
    assert housing.endswith(
        "once case and spaces are ignored ' Own' is 'own', 'RENT' is 'rent': write them as declared"
    )
    assert sex.endswith("once case and spaces are ignored 'Male ' is 'male': write them as declared")
