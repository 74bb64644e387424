"""Check any table against a schema: table-level problems, and per-row, per-column errors in words."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from thinfile.features.schema import Feature, FeatureType, Schema

ERROR_COLUMNS = ["row", "id", "column", "value", "reason"]


@dataclass(frozen=True)
class ValidationReport:
    """What validation found. `clean` holds typed columns; rows in `errors` must not be scored."""

    clean: pd.DataFrame
    errors: pd.DataFrame
    table_errors: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.table_errors and self.errors.empty

    @property
    def valid_mask(self) -> np.ndarray:
        """True for rows with no error (positional, aligned with `clean`)."""
        mask = np.ones(len(self.clean), dtype=bool)
        mask[self.errors["row"].to_numpy(dtype=np.int64)] = False
        return mask

    def rejects(self) -> pd.DataFrame:
        """One line per bad row: row position, id, the bad columns and every reason."""
        if self.errors.empty:
            return pd.DataFrame(
                {
                    "row": pd.Series(dtype="int64"),
                    "id": pd.Series(dtype="str"),
                    "columns": pd.Series(dtype="str"),
                    "reason": pd.Series(dtype="str"),
                }
            )
        grouped = self.errors.groupby("row", sort=True)
        return pd.DataFrame(
            {
                "row": grouped.size().index.to_numpy(dtype=np.int64),
                "id": grouped["id"].first().astype(str).to_numpy(),
                "columns": grouped["column"].agg(lambda c: ",".join(dict.fromkeys(c))).to_numpy(),
                "reason": grouped.apply(
                    lambda g: "; ".join(f"{c}: {r}" for c, r in zip(g["column"], g["reason"])), include_groups=False
                ).to_numpy(),
            }
        )


def _number(value: float | None) -> str:
    return f"{value:g}"


def _describe(f: Feature, check: str) -> str:
    if check == "not_nullable":
        return "is missing but required"
    if check.startswith("in_range"):
        return f"is outside the valid range {_number(f.min)} to {_number(f.max)} {f.unit}".rstrip()
    if check.startswith("isin"):
        allowed = f.levels if f.type is FeatureType.category else ("true", "false")
        return f"is not one of: {', '.join(allowed)}"
    if check == "whole_number":
        return "must be a whole number"
    return f"fails check {check}"


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


_TRUE = {"true", "yes", "1", "1.0", "t", "y"}
_FALSE = {"false", "no", "0", "0.0", "f", "n"}


def _coerce(f: Feature, raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Column in the schema's type, and a mask of present values that could not be read as it."""
    present = raw.notna().to_numpy()
    if f.type is FeatureType.category:
        values = raw.astype(object).where(raw.notna(), None)
        return values.map(lambda v: v if v is None else str(v)), np.zeros(len(raw), dtype=bool)
    if f.type is FeatureType.bool and raw.dtype == object:
        text = raw.astype(str).str.strip().str.lower()
        num = pd.Series(np.where(text.isin(_TRUE), 1.0, np.where(text.isin(_FALSE), 0.0, np.nan)), index=raw.index)
    else:
        num = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    unreadable = present & num.isna().to_numpy()
    return num, unreadable


def validate_table(
    frame: pd.DataFrame, schema: Schema, *, require_target: bool = False, require_features: bool = True
) -> ValidationReport:
    """Validate `frame` against `schema`; never raises on bad data, reports it instead."""
    known = set(schema.feature_names) | {schema.id_column, schema.target} | set(schema.protected_names)
    known |= {c for c in (schema.oracle_column, schema.date_column) if c}
    unknown = [c for c in frame.columns if c not in known]
    required = [schema.id_column] + (schema.feature_names if require_features else [])
    required += [schema.target] if require_target else []
    missing = [c for c in required if c not in frame.columns]
    table_errors = []
    if missing:
        table_errors.append(f"missing required column(s): {', '.join(missing)}")
    if table_errors:
        return ValidationReport(frame, pd.DataFrame(columns=ERROR_COLUMNS), table_errors, unknown)

    frame = frame.reset_index(drop=True)
    ids = frame[schema.id_column].astype(str).to_numpy()
    clean = {schema.id_column: frame[schema.id_column].astype(str)}
    problems: list[pd.DataFrame] = []
    for f in schema.features:
        if f.name not in frame.columns:
            clean[f.name] = pd.Series(np.nan, index=frame.index)
            continue
        values, unreadable = _coerce(f, frame[f.name])
        clean[f.name] = values
        if unreadable.any():
            rows = np.flatnonzero(unreadable)
            kind = "true or false" if f.type is FeatureType.bool else "a number"
            problems.append(
                pd.DataFrame(
                    {
                        "row": rows,
                        "id": ids[rows],
                        "column": f.name,
                        "value": frame[f.name].to_numpy()[rows].astype(str),
                        "reason": f"is not {kind}",
                    }
                )
            )
    for extra in frame.columns:
        if extra not in clean and extra not in unknown:
            clean[extra] = frame[extra]
    clean_frame = pd.DataFrame(clean)

    bad_ids = clean_frame[schema.id_column].isna() | frame[schema.id_column].isna()
    if bad_ids.any():
        rows = np.flatnonzero(bad_ids.to_numpy())
        problems.append(
            pd.DataFrame(
                {"row": rows, "id": "", "column": schema.id_column, "value": "", "reason": "is missing but required"}
            )
        )
    problems.append(_value_errors(clean_frame, schema, ids))
    errors = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=ERROR_COLUMNS)
    errors = errors.sort_values(["row", "column"], kind="stable", ignore_index=True)
    return ValidationReport(clean_frame, errors[ERROR_COLUMNS], [], unknown)


def _value_errors(clean: pd.DataFrame, schema: Schema, ids: np.ndarray) -> pd.DataFrame:
    try:
        _pandera_schema(schema).validate(clean, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        cases = cases[cases["index"].notna() & cases["column"].isin(schema.feature_names)]
        rows = cases["index"].to_numpy(dtype=np.int64)
        return pd.DataFrame(
            {
                "row": rows,
                "id": ids[rows],
                "column": cases["column"].to_numpy(),
                "value": cases["failure_case"].astype(str).to_numpy(),
                "reason": [_describe(schema.by_name[c], str(k)) for c, k in zip(cases["column"], cases["check"])],
            }
        )
    return pd.DataFrame(columns=ERROR_COLUMNS)
