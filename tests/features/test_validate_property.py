"""The fast validator agrees with the reference (pandera over the whole table) on random tables with planted faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinfile.features.schema import Schema, load_schema, parse_schema
from thinfile.features.validate import ValidationReport, validate_table
from thinfile.features.validate_reference import reference_validate_table

LEVELS = [str(k) for k in range(7)]

SCHEMA: Schema = load_schema(Path(__file__).parents[1] / "data" / "rules_schema.yaml")

MISSING = st.sampled_from([None, np.nan])
TEXT = st.sampled_from(["abc", "", " 5 ", "1e1", "7", "-3", "nan", "yes"])


def numbers(lo: float, hi: float) -> st.SearchStrategy[float]:
    inside = st.floats(lo, hi, allow_nan=False)
    whole = st.integers(int(lo), int(hi)).map(float)
    outside = st.sampled_from([lo - 1, hi + 0.5, hi * 10 + 7, np.inf, -np.inf])
    return st.one_of(whole, inside, outside, st.just(np.nan))


def whole_numbers(lo: int, hi: int) -> st.SearchStrategy[int | None]:
    return st.one_of(st.integers(lo, hi), st.integers(hi + 1, hi + 50), st.integers(lo - 9, lo - 1), st.none())


@st.composite
def number_column(draw: st.DrawFn, lo: float, hi: float, rows: int) -> object:
    form = draw(st.sampled_from(["float", "Int64", "object"]))
    if form == "float":
        return np.array(draw(st.lists(numbers(lo, hi), min_size=rows, max_size=rows)), dtype=np.float64)
    if form == "Int64":
        return pd.array(draw(st.lists(whole_numbers(int(lo), int(hi)), min_size=rows, max_size=rows)), dtype="Int64")
    anything = st.one_of(numbers(lo, hi), whole_numbers(int(lo), int(hi)), TEXT, MISSING, st.booleans())
    return np.array(draw(st.lists(anything, min_size=rows, max_size=rows)) + [None], dtype=object)[:rows]


@st.composite
def bool_column(draw: st.DrawFn, rows: int) -> object:
    form = draw(st.sampled_from(["bool", "boolean", "float", "object"]))
    if form == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), dtype=bool)
    if form == "boolean":
        return pd.array(draw(st.lists(st.one_of(st.booleans(), st.none()), min_size=rows, max_size=rows)), "boolean")
    if form == "float":
        values = st.sampled_from([0.0, 1.0, 2.0, 0.5, -1.0, np.nan])
        return np.array(draw(st.lists(values, min_size=rows, max_size=rows)), dtype=np.float64)
    words = st.sampled_from(["yes", "no", " True ", "F", "t", "0", "1.0", "maybe", "2", ""])
    anything = st.one_of(words, st.booleans(), st.sampled_from([0, 1, 2, 1.0, 0.5]), MISSING)
    return np.array(draw(st.lists(anything, min_size=rows, max_size=rows)) + [None], dtype=object)[:rows]


@st.composite
def category_column(draw: st.DrawFn, levels: list[str], rows: int) -> object:
    form = draw(st.sampled_from(["object", "int", "float", "category"]))
    coded = levels == LEVELS
    if form == "int":
        return np.array(draw(st.lists(st.integers(-1, 8), min_size=rows, max_size=rows)), dtype=np.int64)
    if form == "float":
        values = st.one_of(st.integers(-1, 8).map(float), st.sampled_from([2.5, np.nan]))
        return np.array(draw(st.lists(values, min_size=rows, max_size=rows)), dtype=np.float64)
    known = st.sampled_from(levels)
    strange = st.sampled_from(["pirate", "", "Farm", "3.0", " 1"])
    if form == "category":
        values = draw(st.lists(st.one_of(known, strange, st.none()), min_size=rows, max_size=rows))
        return pd.Categorical(values)
    numbers_too = st.one_of(st.integers(0, 7), st.sampled_from([1.0, 6.0, 2.5])) if coded else st.nothing()
    anything = st.one_of(known, strange, numbers_too, MISSING, st.booleans())
    return np.array(draw(st.lists(anything, min_size=rows, max_size=rows)) + [None], dtype=object)[:rows]


@st.composite
def id_column(draw: st.DrawFn, rows: int) -> object:
    if draw(st.booleans()):
        return np.arange(rows, dtype=np.int64) + 100
    ids = st.one_of(st.text("ABC0123 \t", min_size=0, max_size=4), MISSING, st.integers(0, 9))
    return np.array(draw(st.lists(ids, min_size=rows, max_size=rows)) + [None], dtype=object)[:rows]


@st.composite
def tables(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 25))
    columns: dict[str, object] = {"loan_id": draw(id_column(rows))}
    for f in SCHEMA.features:
        if f.type.value == "category":
            columns[f.name] = draw(category_column(list(f.levels), rows))
        elif f.type.value == "bool":
            columns[f.name] = draw(bool_column(rows))
        else:
            columns[f.name] = draw(number_column(f.min, f.max, rows))
    columns["bad"] = draw(st.lists(st.sampled_from([0, 1]), min_size=rows, max_size=rows))
    columns["region"] = draw(st.lists(st.sampled_from(["north", "south"]), min_size=rows, max_size=rows))
    columns["colour"] = ["red"] * rows
    frame = pd.DataFrame(columns)
    dropped = draw(st.lists(st.sampled_from(list(frame.columns)), max_size=2, unique=True))
    frame = frame.drop(columns=dropped)
    if draw(st.booleans()):
        frame.index = np.arange(rows)[::-1] * 3 + 5
    if draw(st.booleans()):
        frame = frame[list(draw(st.permutations(list(frame.columns))))]
    return frame


def rejects_by_groupby(errors: pd.DataFrame) -> pd.DataFrame:
    """One line per bad row, written with a pandas groupby over the reference's errors (no id when one of the row's
    errors is its missing id)."""
    grouped = errors.groupby("row", sort=True)
    return pd.DataFrame(
        {
            "row": grouped.size().index.to_numpy(dtype=np.int64),
            "id": grouped["id"].agg(lambda ids: "" if (ids.astype(str) == "").any() else str(ids.iloc[0])).to_numpy(),
            "columns": grouped["column"].agg(lambda c: ",".join(dict.fromkeys(c))).to_numpy(),
            "reason": grouped.apply(
                lambda g: "; ".join(
                    f"{c}: {r}" if v == "" else f"{c}: {v} {r}" for c, v, r in zip(g["column"], g["value"], g["reason"])
                ),
                include_groups=False,
            ).to_numpy(),
        }
    )


def assert_same_report(fast: ValidationReport, reference: ValidationReport) -> None:
    assert fast.table_errors == reference.table_errors
    assert fast.unknown_columns == reference.unknown_columns
    pd.testing.assert_frame_equal(fast.errors, reference.errors)
    if reference.table_errors:
        return
    pd.testing.assert_frame_equal(fast.clean, reference.clean)
    np.testing.assert_array_equal(fast.valid_mask, reference.valid_mask)
    if len(reference.errors):
        pd.testing.assert_frame_equal(fast.rejects(), rejects_by_groupby(reference.errors))
    else:
        assert fast.rejects().empty


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(table=tables(), require_target=st.booleans(), require_features=st.booleans())
def test_fast_validation_agrees_with_the_reference_on_tables_with_planted_faults(
    table: pd.DataFrame, require_target: bool, require_features: bool
) -> None:
    options = {"require_target": require_target, "require_features": require_features}
    assert_same_report(validate_table(table, SCHEMA, **options), reference_validate_table(table, SCHEMA, **options))


def test_fast_validation_agrees_with_the_reference_on_a_generated_population_with_faults(
    population: pd.DataFrame, schema: Schema
) -> None:
    table = population.head(3_000).astype({"bureau_utilisation": object, "occupation_sector": object})
    rng = np.random.default_rng(5)
    table.loc[rng.choice(3_000, 40, replace=False), "bureau_utilisation"] = "n/a"
    table.loc[rng.choice(3_000, 40, replace=False), "occupation_sector"] = "astronaut"
    table.loc[rng.choice(3_000, 40, replace=False), "phone_tenure_months"] = pd.NA
    table.loc[rng.choice(3_000, 40, replace=False), "bill_days_to_pay"] = 1e9
    fast = validate_table(table, schema, require_target=True)
    assert len(fast.rejects()) > 100
    assert_same_report(fast, reference_validate_table(table, schema, require_target=True))


def test_fast_validation_agrees_with_the_reference_on_a_schema_of_many_text_columns() -> None:
    names = [f"c{k}" for k in range(45)]
    many = parse_schema(
        {
            "name": "many-texts",
            "id_column": "id",
            "target": "bad",
            "features": [
                {"name": n, "type": "category", "categories": ["a", "b"], "dimension": "other", "reason": f"text {n}"}
                for n in names
            ]
            + [{"name": "x", "type": "float", "min": 0, "max": 1, "dimension": "other", "reason": "number x"}],
        }
    )
    rng = np.random.default_rng(3)
    table = pd.DataFrame({n: rng.choice(["a", "b", "c", None], 200) for n in names})
    table.insert(0, "id", [f"r{i}" for i in range(200)])
    table["x"] = rng.uniform(-0.1, 1.1, 200)
    table["bad"] = rng.integers(0, 2, 200)
    fast = validate_table(table, many)
    assert fast.clean.columns.tolist() == ["id", *names, "x", "bad"]
    assert_same_report(fast, reference_validate_table(table, many))
