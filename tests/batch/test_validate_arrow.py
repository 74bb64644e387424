"""Validation straight from Arrow (what batch jobs run) finds what `validate_table` finds in the table as pandas."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinfile.features.schema import Schema, load_schema
from thinfile.features.validate import validate_arrow, validate_table

SCHEMA: Schema = load_schema(Path(__file__).parents[1] / "data" / "rules_schema.yaml")


def _column(draw: st.DrawFn, values: st.SearchStrategy, rows: int, kind: pa.DataType) -> pa.Array:
    return pa.array(draw(st.lists(values, min_size=rows, max_size=rows)), kind)


@st.composite
def number_column(draw: st.DrawFn, lo: float, hi: float, rows: int) -> pa.Array:
    kind = draw(st.sampled_from(["float64", "float32", "int64", "text", "bool"]))
    if kind in ("float64", "float32"):
        inside = st.one_of(st.floats(lo, hi, width=32), st.integers(int(lo), int(hi)).map(float))
        values = st.one_of(inside, st.sampled_from([lo - 1, hi + 0.5, np.inf, -np.inf, np.nan]), st.none())
        return _column(draw, values, rows, pa.float64() if kind == "float64" else pa.float32())
    if kind == "int64":
        return _column(draw, st.one_of(st.integers(int(lo) - 9, int(hi) + 50), st.none()), rows, pa.int64())
    if kind == "bool":
        return _column(draw, st.one_of(st.booleans(), st.none()), rows, pa.bool_())
    words = st.sampled_from(["abc", "", " 5 ", "1e1", "7", "-3", "nan", "yes", "no", "0.5", "T", "1.0"])
    return _column(draw, st.one_of(words, st.none()), rows, pa.string())


@st.composite
def category_column(draw: st.DrawFn, levels: list[str], rows: int) -> pa.Array:
    kind = draw(st.sampled_from(["text", "large_text", "int64", "float64", "dictionary"]))
    if kind == "int64":
        return _column(draw, st.one_of(st.integers(-1, 8), st.none()), rows, pa.int64())
    if kind == "float64":
        values = st.one_of(st.integers(-1, 8).map(float), st.sampled_from([2.5, np.nan]), st.none())
        return _column(draw, values, rows, pa.float64())
    values = st.one_of(st.sampled_from(levels), st.sampled_from(["pirate", "", "Farm", "3.0", " 1"]), st.none())
    column = _column(draw, values, rows, pa.large_string() if kind == "large_text" else pa.string())
    if kind != "dictionary":
        return column
    encoded = column.dictionary_encode()  # indices of the widths and signs files bring (Polars: uint32)
    index = draw(st.sampled_from([pa.int8(), pa.uint8(), pa.int32(), pa.uint32(), pa.int64()]))
    return pa.DictionaryArray.from_arrays(encoded.indices.cast(index), encoded.dictionary)


@st.composite
def id_column(draw: st.DrawFn, rows: int) -> pa.Array:
    kind = draw(st.sampled_from(["text", "int64", "int64 with nulls", "float64", "binary"]))
    if kind == "binary":  # bytes that are not UTF-8 among them
        return _column(draw, st.one_of(st.binary(max_size=3), st.none()), rows, pa.binary())
    if kind == "text":
        return _column(draw, st.one_of(st.text("ABC0123", min_size=0, max_size=4), st.none()), rows, pa.string())
    if kind == "int64":
        return pa.array(np.arange(rows, dtype=np.int64) + 100)
    if kind == "float64":
        return _column(draw, st.one_of(st.floats(0, 1e6), st.none()), rows, pa.float64())
    return _column(draw, st.one_of(st.integers(-5, 10**12), st.none()), rows, pa.int64())


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 25))
    columns: dict[str, pa.Array] = {"loan_id": draw(id_column(rows))}
    for f in SCHEMA.features:
        if f.type.value == "category":
            columns[f.name] = draw(category_column(list(f.levels), rows))
        else:
            lo, hi = (0.0, 1.0) if f.type.value == "bool" else (f.min, f.max)
            columns[f.name] = draw(number_column(lo, hi, rows))
    columns["region"] = _column(draw, st.sampled_from(["north", "south"]), rows, pa.string())
    columns["colour"] = pa.array(["red"] * rows, pa.string())
    dropped = draw(st.lists(st.sampled_from(list(columns)), max_size=2, unique=True))
    names = [c for c in columns if c not in dropped]
    order = draw(st.permutations(names))
    batch = pa.table({c: columns[c] for c in order})
    split = draw(st.integers(0, rows))  # 0: one record batch; else two, as a chunk read across row groups arrives
    if not split:
        return batch
    return pa.Table.from_batches([*batch.slice(0, split).to_batches(), *batch.slice(split).to_batches()], batch.schema)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(table=tables(), require_target=st.booleans())
def test_arrow_validation_finds_what_validate_table_finds_in_pandas(table: pa.Table, require_target: bool) -> None:
    fast = validate_arrow(table, SCHEMA, require_target=require_target)
    reference = validate_table(table.to_pandas(), SCHEMA, require_target=require_target)

    assert fast.table_errors == reference.table_errors
    assert fast.unknown_columns == reference.unknown_columns
    pd.testing.assert_frame_equal(fast.errors, reference.errors)
    if reference.table_errors:
        return
    valid = reference.valid_mask
    np.testing.assert_array_equal(fast.valid_mask, valid)
    pd.testing.assert_frame_equal(fast.rejects(), reference.rejects())
    np.testing.assert_array_equal(fast.matrix[valid], SCHEMA.to_matrix(reference.clean)[valid])
    assert fast.ids.filter(pa.array(valid)).to_pylist() == list(reference.clean["loan_id"][valid])


def test_arrow_validation_of_a_generated_book_with_faults_matches_pandas(book: pd.DataFrame, schema: Schema) -> None:
    frame = book.astype({"return_rate": object, "device_tier": object, "bureau_inquiries_6m": float})
    rng = np.random.default_rng(7)
    frame.loc[rng.choice(len(frame), 30, replace=False), "return_rate"] = 9.5
    frame.loc[rng.choice(len(frame), 30, replace=False), "device_tier"] = "gold-plated"
    frame.loc[rng.choice(len(frame), 30, replace=False), "phone_tenure_months"] = np.nan
    frame.loc[rng.choice(len(frame), 30, replace=False), "bureau_inquiries_6m"] = 2.5
    frame["return_rate"] = frame["return_rate"].astype(float)
    table = pa.Table.from_pandas(frame, preserve_index=False)

    fast = validate_arrow(table, schema)
    reference = validate_table(table.to_pandas(), schema)

    assert 60 <= len(fast.errors) <= 120
    pd.testing.assert_frame_equal(fast.errors, reference.errors)
    np.testing.assert_array_equal(fast.matrix, schema.to_matrix(reference.clean))


def test_category_dictionaries_holding_a_missing_value_read_as_missing_as_their_decoded_text_does() -> None:
    f = next(f for f in SCHEMA.features if f.type.value == "category")
    rows = 4
    columns: dict[str, pa.Array] = {"loan_id": pa.array([f"L{i}" for i in range(rows)])}
    for g in SCHEMA.features:
        if g is f:
            continue
        columns[g.name] = pa.array([1.0] * rows) if g.type.value != "category" else pa.array([g.levels[0]] * rows)
    held = pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 1], pa.int8()), pa.array([f.levels[0], None]))
    other = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0, 1], pa.int8()), pa.array([f.levels[-1], f.levels[0]]))
    chunks = pa.chunked_array([held, other])  # two chunks, two dictionaries, one holding a missing value
    twice = {k: pa.chunked_array([v, v]) for k, v in columns.items()}
    with_dictionary = pa.table({**twice, f.name: chunks})
    decoded = pa.table({**twice, f.name: chunks.cast(pa.string())})

    fast = validate_arrow(with_dictionary, SCHEMA)
    reference = validate_table(decoded.to_pandas(), SCHEMA)

    pd.testing.assert_frame_equal(fast.errors, reference.errors)
    np.testing.assert_array_equal(fast.valid_mask, reference.valid_mask)


def test_an_integer_too_wide_for_a_float_is_rejected_outside_the_range_as_validate_table_rejects_it() -> None:
    rows = 3
    columns: dict[str, pa.Array] = {"loan_id": pa.array(["a", "b", "c"])}
    for f in SCHEMA.features:
        columns[f.name] = pa.array([1.0] * rows) if f.type.value != "category" else pa.array([f.levels[0]] * rows)
    columns["late"] = pa.array([3, 2**60, 5], pa.int64())
    columns["tenure"] = pa.array([2**64 - 1, 7, 9], pa.uint64())
    table = pa.table(columns)

    fast = validate_arrow(table, SCHEMA)
    reference = validate_table(table.to_pandas(), SCHEMA)

    assert fast.errors[["row", "column"]].values.tolist() == [[0, "tenure"], [1, "late"]]
    assert fast.errors["reason"].str.startswith("is outside the valid range").all()
    pd.testing.assert_frame_equal(fast.errors, reference.errors)


def test_a_uuid_id_reads_in_its_standard_form_and_a_missing_one_is_rejected_as_validate_table_finds_it() -> None:
    made = [uuid.uuid4(), None, uuid.uuid4()]
    columns: dict[str, pa.Array] = {
        "loan_id": pa.ExtensionArray.from_storage(
            pa.uuid(), pa.array([None if u is None else u.bytes for u in made], pa.binary(16))
        )
    }
    for f in SCHEMA.features:
        columns[f.name] = pa.array([1.0] * 3) if f.type.value != "category" else pa.array([f.levels[0]] * 3)
    table = pa.table(columns)

    fast = validate_arrow(table, SCHEMA)
    reference = validate_table(table.to_pandas().assign(loan_id=made), SCHEMA)  # the uuids as Python holds them

    assert fast.ids.to_pylist() == [str(made[0]), None, str(made[2])]
    assert fast.errors[["row", "column", "reason"]].values.tolist() == [[1, "loan_id", "is missing but required"]]
    pd.testing.assert_frame_equal(fast.errors, reference.errors)
    assert fast.ids.filter(pa.array(reference.valid_mask)).to_pylist() == list(reference.clean["loan_id"][[0, 2]])
