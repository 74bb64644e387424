"""schema infer reads the distinct values of a column, not every row: the numbers, the texts, the id faults and the
target's labels are those of reading every row (the code before it did), whatever the column holds: text and
numbers mixed, 1, 1.0 and True, 0.0 and -0.0, blanks, white space around numbers, None, NaN and pd.NA, category,
nullable Int64, boolean and string columns."""

from decimal import Decimal

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinfile.features.infer import _id_faults, _numbers, _target, _texts
from thinfile.features.words import counted


def numbers_row_by_row(raw: pd.Series, share: float = 1.0) -> pd.Series | None:
    """The reference: every present row written out and read as a number on its own (the code before)."""
    if pd.api.types.is_bool_dtype(raw):
        return None
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(np.float64)
    present = raw.dropna()
    num = pd.to_numeric(present.astype(str).str.strip(), errors="coerce")
    if present.empty or num.notna().mean() < share:
        return None
    out = pd.Series(np.nan, index=raw.index, dtype=np.float64)
    out[present.index] = num.to_numpy(dtype=np.float64)
    return out


def id_faults_row_by_row(raw: pd.Series) -> str:
    """The reference: every row written out, blanks and repeats found among the texts (the code before)."""
    empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    blank = int(empty.sum())
    repeated = int(raw[~empty].astype(str).duplicated(keep=False).sum())
    faults = [
        f"{counted(blank, 'row')} {'has' if blank == 1 else 'have'} no value" if blank else "",
        f"{counted(repeated, 'row')} share a value with another" if repeated else "",
    ]
    return " and ".join(f for f in faults if f)


TEXTS = ["1", " 2 ", "3.5", "\t4\n", "", " ", "x", "n.a.", "1e3", "-0", "nan", "inf", "True", "1_000", "0x1"]
ODD = [None, np.nan, pd.NA, Decimal("1"), Decimal("1.0"), b"7", np.int64(3), np.float64(-0.0), 0.0, -0.0, 1.0, 2.5]
cells = st.one_of(
    st.sampled_from(TEXTS),
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(ODD),
)


@st.composite
def columns(draw: st.DrawFn) -> pd.Series:
    """A column as a lender's table may hold it, with planted text, blanks, white space and missing values."""
    kind = draw(st.sampled_from(["mixed", "category", "codes", "float", "Int64", "Float64", "boolean", "bool", "int"]))
    n = draw(st.integers(0, 40))
    if kind in ("mixed", "category"):
        raw = pd.Series(draw(st.lists(cells, min_size=n, max_size=n)), dtype=object)
        try:
            return raw.astype("category") if kind == "category" else raw
        except (TypeError, ValueError):  # values a category cannot hold together
            return raw
    if kind == "codes":  # integer codes as text, mostly numbers, a few not
        code = st.one_of(st.integers(-3, 9).map(str), st.sampled_from(["", " ", " 7 ", "4.0", "-0.0", "x", None]))
        values = draw(st.lists(code, min_size=n, max_size=n))
        return pd.Series(values, dtype=draw(st.sampled_from([object, "string", "category"])))
    if kind in ("float", "Float64"):
        value = st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 1.0, 0.1]))
        values = draw(st.lists(value if kind == "float" else st.one_of(value, st.none()), min_size=n, max_size=n))
        return pd.Series(values, dtype=float if kind == "float" else "Float64")
    if kind == "Int64":
        return pd.Series(
            draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n)), dtype="Int64"
        )
    if kind == "boolean":
        values = draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n))
        return pd.Series(values, dtype="boolean")
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return pd.Series(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), dtype=np.int64)


def same_numbers(got: pd.Series | None, want: pd.Series | None) -> bool:
    if got is None or want is None:
        return got is None and want is None
    a, b = got.to_numpy(), want.to_numpy()
    return (
        got.index.equals(want.index)
        and got.dtype == want.dtype
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns(), st.sampled_from([1.0, 0.9, 0.5]))
def test_numbers_are_those_of_reading_every_row(raw, share):
    assert same_numbers(_numbers(raw, share), numbers_row_by_row(raw, share)), (raw.tolist(), raw.dtype)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns())
def test_texts_of_the_distinct_values_are_those_of_every_row(raw):
    present = raw.dropna()
    codes, texts = _texts(present)
    written = present.astype(str).tolist()
    assert list(texts[codes]) == written, (raw.tolist(), raw.dtype)
    assert set(texts) == set(written)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns())
def test_id_faults_are_those_of_reading_every_row(raw):
    assert _id_faults(raw) == id_faults_row_by_row(raw), (raw.tolist(), raw.dtype)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns())
def test_target_labels_are_those_of_every_row(raw):
    values = raw.dropna()
    num = numbers_row_by_row(values)
    want = sorted(values.astype(str).unique()) if num is None else sorted(num.map(_code_label_of).unique())
    seen = _target("t", raw, "from --target").seen
    if want == ["0", "1"] or (pd.api.types.is_bool_dtype(raw) and len(want) == 2):
        assert "(defaulted)" in seen
    else:
        assert seen == "values: " + ", ".join(f"{v!r}" for v in want[:6]), (raw.tolist(), raw.dtype)


def _code_label_of(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def test_a_share_counts_rows_not_distinct_values():
    """Nine rows of one number and one of text: 90% of the rows are numbers, though half the distinct values."""
    raw = pd.Series(["5"] * 9 + ["n.a."], dtype=object)
    assert _numbers(raw) is None
    assert _numbers(raw, 0.9) is not None and _numbers(raw, 0.91) is None
    assert same_numbers(_numbers(raw, 0.9), numbers_row_by_row(raw, 0.9))


def test_values_equal_but_written_differently_stay_apart():
    """1, 1.0 and True are one value to pandas but three texts; so are 0.0 and -0.0."""
    mixed = pd.Series([1, 1.0, True, " 1 "], dtype=object)
    assert same_numbers(_numbers(mixed, 0.5), numbers_row_by_row(mixed, 0.5))
    assert _id_faults(mixed) == id_faults_row_by_row(mixed) == ""
    zeros = pd.Series([0.0, -0.0])
    assert _id_faults(zeros) == ""
    codes, texts = _texts(zeros)
    assert list(texts[codes]) == ["0.0", "-0.0"]
