"""The reference `validate_table` is tested against: values read one by one, pandera over the whole table, as thinfile
first validated (tests/features/test_validate_property.py), so the rules and their words cannot drift apart."""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from thinfile.features.schema import MAX_EXACT_INT, Feature, FeatureType, Schema, category_text
from thinfile.features.settings import ValidationSettings
from thinfile.features.validate import (
    ValidationReport,
    column_problems,
    describe_check,
    missing_id_errors,
    no_errors,
    shown_cell,
    sorted_errors,
    unreadable_errors,
)


@lru_cache(maxsize=16)
def _pandera_schema(schema: Schema) -> pa.DataFrameSchema:
    """The schema's per-value rules as a pandera schema over already-coerced columns (built once per schema)."""
    columns = {}
    for f in schema.features:
        checks: list[pa.Check] = []
        if f.type is FeatureType.category:
            checks.append(pa.Check.isin(list(f.levels)))
            columns[f.name] = pa.Column(object, checks, nullable=f.nullable, coerce=False)
            continue
        if f.type is FeatureType.bool:
            checks.append(pa.Check.isin([0.0, 1.0]))
        else:
            checks.append(pa.Check.in_range(f.min, f.max))
        if f.type is FeatureType.int:
            checks.append(pa.Check(lambda s: np.isnan(s) | (s == np.floor(s)), element_wise=False, name="whole_number"))
        columns[f.name] = pa.Column(np.float64, checks, nullable=f.nullable, coerce=False)
    return pa.DataFrameSchema(columns, strict=False)


def _value_errors(clean: pd.DataFrame, schema: Schema, ids: np.ndarray) -> pd.DataFrame:
    """Every failed rule in `clean` (rows labelled by position), worded by pandera (the reference's way)."""
    rules = _pandera_schema(schema)
    try:
        with warnings.catch_warnings():
            # pandera gathers failure cases with a pandas concat that warns when some are all missing
            warnings.filterwarnings("ignore", "The behavior of DataFrame concatenation", FutureWarning)
            rules.validate(clean, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna() & cases["column"].isin(schema.feature_names)]
        # pandera's own order is not stable; a value that breaks two rules lists them in the rules' order
        rank = pd.to_numeric(cases["check_number"], errors="coerce").fillna(-1).to_numpy()
        cases = cases.iloc[np.argsort(rank, kind="stable")]
        rows = cases["index"].to_numpy(dtype=np.int64)
        missing = (cases["check"] == "not_nullable").to_numpy()
        chars = ValidationSettings().shown_value_chars  # shown as "" (pandera's text varies with dtype)
        return pd.DataFrame(
            {
                "row": rows,
                "id": ids[rows],
                "column": cases["column"].to_numpy(),
                "value": [
                    "" if gone else shown_cell(v, schema.by_name[c].type is FeatureType.category, chars)
                    for gone, v, c in zip(missing, cases["failure_case"], cases["column"])
                ],
                "reason": [describe_check(schema.by_name[c], str(k)) for c, k in zip(cases["column"], cases["check"])],
            }
        )
    return no_errors()


_TRUE = {"true", "yes", "1", "1.0", "t", "y"}
_FALSE = {"false", "no", "0", "0.0", "f", "n"}


def _coerce(f: Feature, raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Column in the schema's type, and a mask of present values that could not be read as it (value by value)."""
    present = raw.notna().to_numpy()
    if f.type is FeatureType.category:
        values = raw.astype(object).where(raw.notna(), None)
        return values.map(lambda v: v if v is None else category_text(v, f.levels)), np.zeros(len(raw), dtype=bool)
    if f.type is FeatureType.bool and raw.dtype == object:
        text = raw.astype(str).str.strip().str.lower()
        num = pd.Series(np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan)), index=raw.index)
    else:
        num = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    unreadable = present & num.isna().to_numpy()
    return num, unreadable


def reference_validate_table(
    frame: pd.DataFrame, schema: Schema, *, require_target: bool = False, require_features: bool = True
) -> ValidationReport:
    """`validate_table` the slow way: values read one by one, pandera over the whole table (the reference)."""
    unknown, table_errors = column_problems(
        list(frame.columns), schema, require_target=require_target, require_features=require_features
    )
    if table_errors:
        return ValidationReport(frame, no_errors(), table_errors, unknown)

    frame = frame.reset_index(drop=True)
    raw_id = frame[schema.id_column]
    whole = pd.api.types.is_float_dtype(raw_id.dtype) and all(
        v != v or (float(v).is_integer() and abs(v) < MAX_EXACT_INT) for v in raw_id
    )  # a float column of whole numbers: ids written as integers
    id_text = raw_id.map(lambda v: str(int(v)) if v == v else str(v)) if whole else raw_id.astype(str)
    ids = id_text.to_numpy()
    clean = {schema.id_column: id_text}
    problems: list[pd.DataFrame] = []
    for f in schema.features:
        if f.name not in frame.columns:
            clean[f.name] = pd.Series(np.nan, index=frame.index)
            continue
        values, unreadable = _coerce(f, frame[f.name])
        clean[f.name] = values
        if unreadable.any():
            problems.append(unreadable_errors(f, frame[f.name], np.flatnonzero(unreadable), ids))
    for extra in frame.columns:
        if extra not in clean and extra not in unknown:
            clean[extra] = frame[extra]
    clean_frame = pd.DataFrame(clean)

    raw_ids = frame[schema.id_column]
    bad_ids = clean_frame[schema.id_column].isna() | raw_ids.isna()
    if raw_ids.dtype == object:
        bad_ids |= raw_ids.astype(str).str.strip().eq("") & raw_ids.notna()
    if bad_ids.any():
        problems.append(missing_id_errors(np.flatnonzero(bad_ids.to_numpy()), schema))
    problems.append(_value_errors(clean_frame, schema, ids))
    return ValidationReport(clean_frame, sorted_errors(problems), [], unknown)
