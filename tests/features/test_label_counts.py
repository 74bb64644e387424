"""Counting protected groups by label: the distinct values are labelled, and the counts are those of labelling
every row (whole numbers as '1', text as written, missing values not a group)."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.features.infer import label_counts


def row_by_row(raw: pd.Series) -> dict[str, int]:
    """The reference: each present value labelled on its own, then counted."""
    present = [v for v in raw.tolist() if not pd.isna(v)]
    numbers = []
    for v in present:
        try:
            numbers.append(float(str(v).strip()))
        except ValueError:
            break
    if len(numbers) == len(present) and not isinstance(raw.dtype, pd.BooleanDtype) and raw.dtype != bool:
        labels = [str(int(x)) if x.is_integer() else f"{x:g}" for x in numbers]
    else:
        labels = [str(v) for v in present]
    out: dict[str, int] = {}
    for label in labels:
        out[label] = out.get(label, 0) + 1
    return out


codes = st.lists(st.one_of(st.integers(-3, 40), st.none()), min_size=1, max_size=200)
words = st.lists(st.one_of(st.sampled_from(["urban", "rural", " 1", "1", "2.5", "F", "M"]), st.none()), max_size=200)


@settings(max_examples=150, deadline=None)
@given(codes, st.sampled_from(["float", "Int64", "category", "object", "text"]))
def test_integer_codes_are_counted_by_their_label_whatever_the_column_type(values, kind):
    if kind == "float":
        raw = pd.Series([np.nan if v is None else float(v) for v in values])
    elif kind == "text":
        raw = pd.Series([None if v is None else str(v) for v in values], dtype=object)
    else:
        raw = pd.Series(values, dtype=kind if kind != "object" else object)
    assert label_counts(raw).to_dict() == row_by_row(raw)


@settings(max_examples=150, deadline=None)
@given(words, st.booleans())
def test_text_groups_are_counted_as_written_and_numbers_among_them_only_when_all_are(values, as_category):
    raw = pd.Series(values, dtype="category" if as_category else object)
    assert label_counts(raw).to_dict() == row_by_row(raw)


def test_a_declared_group_without_rows_is_not_counted():
    raw = pd.Series(pd.Categorical(["rural", "rural"], categories=["rural", "urban"]))
    assert label_counts(raw).to_dict() == {"rural": 2}


def test_booleans_are_groups_named_true_and_false():
    assert label_counts(pd.Series([True, False, True])).to_dict() == {"False": 1, "True": 2}
