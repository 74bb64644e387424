"""schema infer on a lender's wide table: a to-do many columns share is said once, and a column that copies
another (an input, a protected attribute, the outcome itself) is named."""

import numpy as np
import pandas as pd
import pytest
import yaml

from thinfile.features.copies import copied_columns
from thinfile.features.infer import infer_schema
from thinfile.features.settings import InferSettings


def wide_table(rows: int = 300, unnamed: int = 40, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {
        "loan_id": [f"L{i:05d}" for i in range(rows)],
        "monthly_income": rng.lognormal(8, 0.5, rows).round(2),
        "sex": rng.choice(["female", "male"], rows),
        "bad": rng.integers(0, 2, rows),
    }
    columns.update({f"v{i:03d}": rng.normal(size=rows).round(3) for i in range(unnamed)})
    return pd.DataFrame(columns)


def test_a_to_do_forty_columns_share_is_one_line_naming_the_first_eight_and_counting_the_rest() -> None:
    found = infer_schema(wide_table(), name="w", target="bad", id_column="loan_id", protected=["sex"])
    shared = [t for t in found.todo_grouped if "no dimension guessed" in t]
    assert shared == [
        "40 columns (v000, v001, v002, v003, v004, v005, v006, v007 and 32 more): no dimension guessed from the name "
        "('other' until you choose one)"
    ]
    assert sum("no dimension guessed" in t for t in found.todo) == 40
    header = [line for line in found.to_yaml().splitlines() if line.startswith("#   - ")]
    assert sum("no dimension guessed" in line for line in header) == 1
    assert yaml.safe_load(found.to_yaml())["name"] == "w"


@pytest.mark.parametrize(
    ("copied", "said"),
    [
        ("monthly_income", "the same value as 'monthly_income' in every row: delete one of the two"),
        ("bad", "the same value as the outcome 'bad' in every row: delete it (the outcome is never an input)"),
    ],
    ids=["an input", "the outcome"],
)
def test_an_input_that_copies_another_column_is_a_to_do_on_the_copy(copied: str, said: str) -> None:
    table = wide_table(unnamed=2)
    table["income_again"] = table[copied]
    found = infer_schema(table, name="w", target="bad", id_column="loan_id", protected=["sex"])
    (todo,) = [t for t in found.todo if t.startswith("income_again: the same value")]
    assert todo.startswith(f"income_again: {said}")
    assert not any(t.startswith(f"{copied}: the same value") for t in found.todo)


def test_an_input_that_copies_a_protected_attribute_is_named_as_such() -> None:
    table = wide_table(unnamed=2)
    table["gender_code"] = table["sex"]
    found = infer_schema(table, name="w", target="bad", id_column="loan_id", protected=["sex"])
    assert any(
        t.startswith("gender_code: the same value as the protected attribute 'sex' in every row: delete it")
        for t in found.todo
    )


def test_columns_alike_in_their_first_rows_only_are_not_copies() -> None:
    table = wide_table(rows=500, unnamed=2)
    table["income_mostly"] = table["monthly_income"]
    table.loc[499, "income_mostly"] = -1.0
    assert copied_columns(table, ["monthly_income", "income_mostly"], head_rows=100) == {}
    settings = InferSettings(copy_check_rows=100)
    found = infer_schema(table, name="w", target="bad", id_column="loan_id", settings=settings)
    assert not any("the same value as" in t for t in found.todo)


def test_the_same_numbers_in_another_type_are_not_a_copy() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [1.0, 2.0, 3.0], "c": [1, 2, 3], "d": [1, 2, None]})
    assert copied_columns(frame, ["a", "b", "c", "d"]) == {"c": "a"}
