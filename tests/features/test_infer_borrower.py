"""`schema infer` on a book where one borrower has several loans: --borrower names the column (never an input),
and a column named like a borrower id whose values repeat gets a to-do to name it so."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from thinfile.features.infer import InferError, infer_schema
from thinfile.features.schema import parse_schema

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    """German credit's loans, 700 customer ids drawn for its 1,000 rows (so some borrow more than once)."""
    frame = pd.read_csv(DATA / "german_credit.csv")
    frame.insert(1, "customer_id", np.random.default_rng(0).integers(10_000, 10_700, len(frame)))
    return frame


def _infer(frame: pd.DataFrame, **kw: object):
    return infer_schema(frame, name="book", target="default", id_column="id", protected=["sex", "age_band"], **kw)


def test_borrower_names_the_column_and_keeps_it_out_of_the_inputs(book: pd.DataFrame):
    inferred = _infer(book, borrower="customer_id")
    assert inferred.schema.borrower_column == "customer_id"
    assert "customer_id" not in inferred.schema.feature_names
    repeat = book["customer_id"].value_counts()
    several = repeat[repeat > 1]
    assert f"{len(repeat):,} borrowers, {len(several):,} with several loans ({int(several.sum()):,} rows)" in (
        inferred.to_yaml()
    )


def test_the_written_yaml_keeps_the_borrower_column(book: pd.DataFrame):
    inferred = _infer(book, borrower="customer_id")
    assert parse_schema(yaml.safe_load(inferred.to_yaml()), "written").borrower_column == "customer_id"


def test_a_column_named_like_a_borrower_id_whose_values_repeat_is_a_todo(book: pd.DataFrame):
    (todo,) = [t for t in _infer(book).todo if t.startswith("customer_id: named like a borrower id")]
    assert "infer again with --borrower customer_id" in todo


def test_a_borrower_id_column_whose_values_never_repeat_is_no_todo(book: pd.DataFrame):
    once = book.assign(customer_id=np.arange(len(book)) + 10_000)
    assert not [t for t in _infer(once).todo if "borrower id" in t]


def test_borrower_and_id_must_differ(book: pd.DataFrame):
    with pytest.raises(InferError, match="must name different columns: 'id' is given twice"):
        _infer(book, borrower="id")


def test_an_integer_borrower_id_is_left_out_of_the_inputs_even_without_borrower(book: pd.DataFrame):
    inferred = _infer(book)
    assert "customer_id" not in inferred.schema.feature_names
    (column,) = [c for c in inferred.columns if c.name == "customer_id"]
    assert column.role == "left_out"
    assert [n for n in column.notes if "TODO" in n or "dimension" in n] == [column.notes[-1]]


def test_a_borrower_column_with_too_few_borrowers_is_a_todo(book: pd.DataFrame):
    few = book.assign(customer_id=np.arange(len(book)) % 3)
    (todo,) = [t for t in _infer(few, borrower="customer_id", min_borrowers=20).todo if "borrower" in t]
    assert todo == (
        "customer_id: only 3 borrowers: training needs at least 20 (train.min_borrowers) to keep each borrower's "
        "loans together; is this the borrower column?"
    )


def test_a_yes_no_column_named_member_or_client_no_stays_an_input(book: pd.DataFrame):
    flags = book.assign(member=np.where(np.arange(len(book)) % 3, "yes", "no"), client_no=np.arange(len(book)) % 2)
    inferred = _infer(flags.drop(columns="customer_id"))
    assert {"member", "client_no"} <= set(inferred.schema.feature_names)


def test_borrower_ids_that_differ_only_in_case_or_spaces_are_a_todo(book: pd.DataFrame):
    frame = book.assign(customer_id=book["customer_id"].map(lambda k: f"C{k}"))
    frame.loc[frame.index[:2], "customer_id"] = ["c10001", " C10001 "]
    inferred = _infer(frame, borrower="customer_id")
    assert "borrower ids that differ only in case or spaces: 'c10001', ' C10001 '" in inferred.to_yaml()
    assert "differ only in case or spaces" not in _infer(book, borrower="customer_id").to_yaml()
