"""Numbers written as text are read exactly, as Python reads them (and as Arrow reads a number column): a batch job
reading a CSV's columns as text scores what it would score from Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.features.schema import Feature, FeatureType, feature_numbers

AMOUNT = Feature(name="amount", type=FeatureType.float, min=-1e308, max=1e308, dimension="capacity", reason="Low")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_a_text_number_reads_as_python_reads_it(values: list[float]) -> None:
    texts = pd.Series([repr(v) for v in values] + ["not a number", None], dtype=object)
    read = feature_numbers(AMOUNT, texts)
    np.testing.assert_array_equal(read[:-2], np.array([float(repr(v)) for v in values]))
    assert np.isnan(read[-2:]).all()


def test_the_sixth_of_one_is_read_to_its_last_digit_as_pandas_alone_does_not() -> None:
    written = "0.16666666666666666"
    assert pd.to_numeric(pd.Series([written])).iloc[0] != float(written)  # why: pandas' fast parser
    assert feature_numbers(AMOUNT, pd.Series([written, " 1.5 "], dtype=object)).tolist() == [float(written), 1.5]
