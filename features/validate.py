"""Check any table against a schema: table-level problems, and per-row, per-column errors in words.

`validate_table` checks whole columns at a time with numpy (ranges, whole numbers, categories, missing
values) and words only the values that fail, as pandera words its failure cases. The reference it is tested
against, pandera over the whole table, is `validate_reference.reference_validate_table` (kept apart, so that
scoring and training never import pandera).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from thinfile.features.io import as_text, id_text
from thinfile.features.schema import (
    MAX_EXACT_INT,
    Feature,
    FeatureType,
    Schema,
    _row_major,
    category_factors,
    category_text,
    feature_numbers,
    number_text,
    read_dates,
)
from thinfile.features.settings import ValidationSettings
from thinfile.features.words import COMMA_SEPARATED, MISSING_REQUIRED, clipped, counted, spelling_key

ERROR_COLUMNS = ["row", "id", "column", "value", "reason"]
_MAX_INSERTS = 40  # text columns added one by one to the numbers' frame; above this pandas would fragment it


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
        return _without_errors(len(self.clean), self.errors)

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
        rows = self.errors["row"].to_numpy(dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        columns = self.errors["column"].to_numpy(dtype=object)[order]
        said = np.array(
            [
                f"{c}: {r}" if v == "" else f"{c}: {v} {r}"
                for c, v, r in zip(
                    columns, self.errors["value"].to_numpy()[order], self.errors["reason"].to_numpy()[order]
                )
            ],
            dtype=object,
        )
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        joined_columns = columns[starts].copy()
        reasons = said[starts].copy()
        for k in np.flatnonzero(ends - starts > 1):
            part = slice(starts[k], ends[k])
            joined_columns[k] = ",".join(dict.fromkeys(columns[part]))
            reasons[k] = "; ".join(said[part])
        return pd.DataFrame(
            {
                "row": rows[starts],
                "id": _row_ids(self.errors["id"].to_numpy()[order].astype(str), starts),
                "columns": joined_columns.astype(object),
                "reason": reasons.astype(object),
            }
        )


def shown_cell(value: object, text: bool, chars: int) -> str:
    """A rejected cell as errors show it: text quoted as written, a number written out exactly (2, not 2.0;
    1200000.4 and 1e-300 as they are), cut to `chars` characters."""
    if text:
        return clipped(repr(str(value)), chars)
    x = float(value)  # type: ignore[arg-type]
    return clipped(str(int(x)) if x.is_integer() and abs(x) < MAX_EXACT_INT else repr(x), chars)


def shown_cells(values: np.ndarray, text: bool) -> np.ndarray:
    """`shown_cell` of each value, cut to `ValidationSettings.shown_value_chars` characters."""
    chars = ValidationSettings().shown_value_chars
    out = np.empty(len(values), dtype=object)
    out[:] = [shown_cell(v, text, chars) for v in values.tolist()]
    return out


def date_problem(frame: pd.DataFrame, schema: Schema, shown: int) -> str | None:
    """What keeps the schema's date column from ordering every row of `frame` (training splits out of time by
    it), naming the first `shown` rows by id; None when every row has a date."""
    column = schema.date_column
    if not column:
        return None
    if column not in frame.columns:
        return (
            f"no date column {column!r}, which the schema names (training orders rows by it): add it, or remove "
            "date_column from the schema to split at random"
        )
    raw = frame[column]
    bad = np.flatnonzero(undated_rows(frame, schema))
    if not len(bad):
        return None
    chars = ValidationSettings().shown_value_chars
    ids = frame[schema.id_column] if schema.id_column in frame.columns else pd.Series(range(len(frame)))
    examples = ", ".join(
        f"id {ids.iat[i]}: {'(missing)' if pd.isna(raw.iat[i]) else shown_cell(raw.iat[i], True, chars)}"
        for i in bad[:shown]
    )
    more = f" and {len(bad) - shown:,} more" if len(bad) > shown else ""
    return (
        f"date column {column!r}: {counted(len(bad), 'row')} {'has' if len(bad) == 1 else 'have'} {NO_DATE}: "
        f"{examples}{more}; training leaves them out, with the other rows that break the schema; write them so, or "
        "remove date_column from the schema to split at random"
    )


NO_DATE = "no date or one that is not ISO 8601 (2023-12-31, 2023-12-31 10:00)"


def require_frame(frame: object) -> None:
    """TypeError, saying what to give, unless `frame` is a pandas DataFrame (a table of rows, one per applicant)."""
    if not isinstance(frame, pd.DataFrame):
        kind = type(frame)
        raise TypeError(
            f"a pandas DataFrame of applicants, one per row, is needed (got {kind.__module__}.{kind.__qualname__}); "
            "one applicant: pd.DataFrame([record]); a pyarrow or polars table: its .to_pandas()"
        )


def outcome(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The outcome as 0/1 floats (0, 1, "0.0", "true", ... as training reads them), and a mask of rows whose outcome
    is missing or not 0/1."""
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.astype(str).str.strip().str.lower()
        mapped = text.map({"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0})
        values = mapped.where(raw.notna())
    else:
        values = pd.to_numeric(raw.astype("float64") if raw.dtype == bool else raw, errors="coerce").astype(np.float64)
    bad = ~values.isin([0.0, 1.0]).to_numpy()
    return values, bad


def undated_rows(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Where the schema's date column (present in `frame`) has no date training can order rows by: all False
    without one."""
    if not schema.date_column or schema.date_column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return read_dates(frame[schema.date_column]).isna().to_numpy()


def _bound(value: float | None, whole: bool) -> str:
    return "none" if value is None else number_text(value, whole)


def describe_check(f: Feature, check: str) -> str:
    if check == "not_nullable":
        return MISSING_REQUIRED
    if check.startswith("in_range"):
        whole = f.type is not FeatureType.float
        return f"is outside the valid range {_bound(f.min, whole)} to {_bound(f.max, whole)} {f.unit}".rstrip()
    if check.startswith("isin"):
        allowed = f.levels if f.type is FeatureType.category else ("true", "false")
        return f"is not one of: {', '.join(allowed)}"
    if check == "whole_number":
        return "must be a whole number"
    return f"fails check {check}"


def column_problems(
    columns: Sequence[str], schema: Schema, *, require_target: bool = False, require_features: bool = True
) -> tuple[list[str], list[str]]:
    """(columns the schema does not name, table errors) of a table with these columns."""
    known = set(schema.feature_names) | {schema.id_column, schema.target} | set(schema.protected_names)
    known |= {c for c in (schema.oracle_column, schema.date_column, schema.booked_column, schema.borrower_column) if c}
    unknown = [c for c in columns if c not in known]
    required = [schema.id_column] + (schema.feature_names if require_features else [])
    required += [schema.target] if require_target else []
    present = set(columns)
    missing = [c for c in required if c not in present]
    if missing and (hint := other_delimiter(columns)):
        return unknown, [hint]
    if not missing:
        return unknown, []
    return unknown, [f"missing required column(s): {', '.join(missing)}{_spelt_otherwise(missing, columns)}"]


def _spelt_otherwise(missing: Sequence[str], columns: Sequence[str]) -> str:
    """What to do about missing columns the table has under another case or spacing ('APPLICANT_ID'), or ""."""
    by_key = {spelling_key(str(c)): str(c) for c in columns}
    found = [(by_key[spelling_key(m)], m) for m in missing if spelling_key(m) in by_key]
    if not found:
        return ""
    wording = ValidationSettings()
    shown = wording.examples_shown
    listed = ", ".join(f"{clipped(c, wording.shown_value_chars)!r} for {m}" for c, m in found[:shown])
    more = f" and {len(found) - shown:,} more" if len(found) > shown else ""
    return (
        f"; the table has {len(found):,} of them in another case or spacing ({listed}{more}): column names are "
        "matched exactly; rename them as the schema writes them"
    )


def other_delimiter(columns: Sequence[str]) -> str | None:
    """What to do about a CSV read as one column whose name holds another delimiter (a ';' file from a European
    Excel, a tab-separated export), or None."""
    if len(columns) != 1:
        return None
    for mark, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if mark in columns[0]:
            return (
                f"the header is one column holding {name} ({columns[0][:40]!r}...): the file looks separated by "
                f"{name}, and {COMMA_SEPARATED}"
            )
    return None


def _row_ids(ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The id of each row whose errors start at `starts`: "" when one of them says the id is missing (the others
    carry the id column's text, which for a missing id is not an id)."""
    missing = np.logical_or.reduceat(ids == "", starts) if len(starts) else np.zeros(0, dtype=bool)
    return np.where(missing, "", ids[starts]).astype(object)


def unreadable_errors(f: Feature, raw: pd.Series, rows: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    kind = "true or false" if f.type is FeatureType.bool else "a number"
    return pd.DataFrame(
        {
            "row": rows,
            "id": ids[rows],
            "column": f.name,
            "value": shown_cells(raw.to_numpy()[rows], text=True),
            "reason": f"is not {kind}",
        }
    )


def missing_id_errors(rows: np.ndarray, schema: Schema) -> pd.DataFrame:
    return pd.DataFrame({"row": rows, "id": "", "column": schema.id_column, "value": "", "reason": MISSING_REQUIRED})


def _blank(text: pyarrow.Array) -> np.ndarray:
    """Where a text is empty or only white space (an id that names nobody); False where it is null."""
    found = pc.equal(pc.utf8_trim_whitespace(text), "").fill_null(False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def _id_text(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The id column as text (an object array of str), and where it is missing: no value, or a blank text."""
    raw = _decoded(raw)
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=False) == "string":
        text = raw.to_numpy(copy=True)
        return text, _blank(pyarrow.array(text, pyarrow.string()))
    text = _whole_float_ids(raw).astype(str).to_numpy()
    missing = raw.isna().to_numpy() | pd.isna(text)
    if raw.dtype == object:
        missing |= _blank(pyarrow.array(text, pyarrow.string()))
    return text, missing


def _decoded(raw: pd.Series) -> pd.Series:
    """Ids held as bytes (a binary column) as text: UTF-8, a byte that is not written as its escape (b"\\xff" reads
    "\\xff"), so that every id reads, and reads the same in every command; a `uuid.UUID` in its standard form."""
    if raw.dtype != object or pd.api.types.infer_dtype(raw, skipna=True) not in ("bytes", "mixed"):
        return raw
    return raw.map(id_text, na_action="ignore")


def _whole_float_ids(raw: pd.Series) -> pd.Series:
    """Whole-number ids in a float column (an integer id column with gaps, as pandas reads it) as integers, so that
    id 11 reads "11", not "11.0"; any other column as it is."""
    if not pd.api.types.is_float_dtype(raw.dtype):
        return raw
    v = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    known = np.isfinite(v)
    if not np.array_equal(v[known], np.floor(v[known])) or (np.abs(v[known]) >= MAX_EXACT_INT).any():
        return raw
    return pd.Series(np.where(known, v, 0).astype(np.int64), index=raw.index).where(known).astype("Int64")


def _whole_typed(raw: pd.Series) -> bool:
    """Can this column hold only whole numbers (integer or bool dtype)?"""
    return pd.api.types.is_integer_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype)


def _number_failures(f: Feature, v: np.ndarray, whole: bool) -> list[tuple[str, np.ndarray]]:
    """(check, rows) for each rule of `f` that values in `v` break, in the order pandera lists its checks."""
    if not len(v):
        return []
    found = []
    if not f.nullable:
        missing = np.isnan(v)
        if missing.any():
            found.append(("not_nullable", np.flatnonzero(missing)))
    lo, hi = (0.0, 1.0) if f.type is FeatureType.bool else (f.min, f.max)
    outside = None
    if not (np.fmin.reduce(v) >= lo and np.fmax.reduce(v) <= hi):  # also when every value is missing
        outside = (v < lo) | (v > hi)
    broken = None
    if f.type is not FeatureType.float and not whole:
        with np.errstate(invalid="ignore"):
            fraction = v - np.floor(v)  # NaN for missing and infinite values
        if np.fmax.reduce(fraction) > 0:
            broken = fraction > 0
    if f.type is FeatureType.bool:  # one rule, isin(0, 1)
        either = broken if outside is None else outside if broken is None else outside | broken
        if either is not None and either.any():
            found.append(("isin", np.flatnonzero(either)))
        return found
    if outside is not None and outside.any():
        found.append(("in_range", np.flatnonzero(outside)))
    if broken is not None and broken.any():
        found.append(("whole_number", np.flatnonzero(broken)))
    return found


def _category_failures(f: Feature, codes: np.ndarray, allowed: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(check, rows) for a missing required category and for values outside the declared levels."""
    found = []
    if not f.nullable and (codes < 0).any():
        found.append(("not_nullable", np.flatnonzero(codes < 0)))
    unknown = ~allowed[codes] & (codes >= 0)
    if unknown.any():
        found.append(("isin", np.flatnonzero(unknown)))
    return found


def _worded(
    f: Feature, failures: list[tuple[str, np.ndarray]], values: np.ndarray, ids: np.ndarray
) -> list[pd.DataFrame]:
    """One error per failed rule and row, worded as pandera's failure cases are (missing values shown as "")."""
    return [
        pd.DataFrame(
            {
                "row": rows,
                "id": ids[rows],
                "column": f.name,
                "value": "" if check == "not_nullable" else shown_cells(values[rows], f.type is FeatureType.category),
                "reason": describe_check(f, check),
            }
        )
        for check, rows in failures
    ]


def validate_table(
    frame: pd.DataFrame, schema: Schema, *, require_target: bool = False, require_features: bool = True
) -> ValidationReport:
    """Validate `frame` against `schema`; never raises on bad data, reports it instead."""
    unknown, table_errors = column_problems(
        list(frame.columns), schema, require_target=require_target, require_features=require_features
    )
    if table_errors:
        return ValidationReport(frame, no_errors(), table_errors, unknown)

    rows = len(frame)
    raw_id = frame[schema.id_column]
    ids, bad_ids = _id_text(raw_id)
    numeric = [f for f in schema.features if f.type is not FeatureType.category]
    block = np.empty((len(numeric), rows), dtype=np.float64)
    slot = {f.name: i for i, f in enumerate(numeric)}
    texts: dict[str, np.ndarray] = {}
    problems: list[pd.DataFrame] = []
    rule_errors: list[pd.DataFrame] = []
    for f in schema.features:
        if f.name not in frame.columns:
            if f.type is FeatureType.category:
                texts[f.name] = np.full(rows, np.nan)
            else:
                block[slot[f.name]] = np.nan
            if not f.nullable and rows:
                rule_errors += _worded(f, [("not_nullable", np.arange(rows))], np.full(rows, np.nan), ids)
        elif f.type is FeatureType.category:
            codes, found = category_factors(f, frame[f.name])
            texts[f.name] = np.array([*found, None], dtype=object)[codes]
            allowed = np.array([t in f.levels for t in found] + [True])
            rule_errors += _worded(f, _category_failures(f, codes, allowed), texts[f.name], ids)
        else:
            raw = frame[f.name]
            v = block[slot[f.name]]
            v[:] = feature_numbers(f, raw)
            if not (isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biuf"):
                unreadable = raw.notna().to_numpy() & np.isnan(v)
                if unreadable.any():
                    problems.append(unreadable_errors(f, raw, np.flatnonzero(unreadable), ids))
            rule_errors += _worded(f, _number_failures(f, v, _whole_typed(raw)), v, ids)

    extras = [c for c in frame.columns if c not in unknown and c != schema.id_column and c not in schema.by_name]
    clean = _clean_frame(schema, ids, block, slot, texts, [frame[c].reset_index(drop=True) for c in extras])
    if bad_ids.any():
        problems.append(missing_id_errors(np.flatnonzero(bad_ids), schema))
    problems += rule_errors
    return ValidationReport(clean, sorted_errors(problems), [], unknown)


def _clean_frame(
    schema: Schema,
    ids: np.ndarray,
    block: np.ndarray,
    slot: dict[str, int],
    texts: dict[str, np.ndarray],
    extras: list[pd.Series],
) -> pd.DataFrame:
    """id, features in schema order, then the other known columns; the numbers stay one block (no copy)."""
    rows = len(ids)
    if len(texts) + len(extras) < _MAX_INSERTS:
        numbers = [f.name for f in schema.features if f.name in slot]
        clean = pd.DataFrame(block.T, columns=numbers, index=pd.RangeIndex(rows), copy=False)
        clean.insert(0, schema.id_column, ids)
        for j, f in enumerate(schema.features):
            if f.name in texts:
                clean.insert(1 + j, f.name, texts[f.name])
        for extra in extras:
            clean.insert(len(clean.columns), str(extra.name), extra)
        return clean
    columns: dict[str, object] = {schema.id_column: ids}  # many text columns: let pandas gather them (one copy)
    columns.update({f.name: block[slot[f.name]] if f.name in slot else texts[f.name] for f in schema.features})
    columns.update({str(extra.name): extra for extra in extras})
    return pd.DataFrame(columns, index=pd.RangeIndex(rows))


def no_errors() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object) for c in ERROR_COLUMNS})


def sorted_errors(problems: list[pd.DataFrame]) -> pd.DataFrame:
    """All errors, ordered by row and column; rows as int64 positions."""
    found = [p for p in problems if len(p)]
    if not found:
        return no_errors()
    errors = pd.concat(found, ignore_index=True).astype({"row": np.int64})
    errors = _one_reason_per_unreadable_cell(errors)
    errors = errors.sort_values(["row", "column"], kind="stable", ignore_index=True)
    return errors[ERROR_COLUMNS]


def _one_reason_per_unreadable_cell(errors: pd.DataFrame) -> pd.DataFrame:
    """A present value that could not be read is reported as such, not also as a missing required value (a
    missing value breaks no other rule, so any other error on the same cell means it was there)."""
    missing = (errors["reason"] == MISSING_REQUIRED).to_numpy()
    if not missing.any() or missing.all():
        return errors
    cells = pd.MultiIndex.from_arrays([errors["row"], errors["column"]])
    return errors[~(missing & cells.isin(cells[~missing]))]


# ---------------------------------------------------------------- Arrow in, model matrix out


@dataclass(frozen=True)
class MatrixReport:
    """What `validate_arrow` found: `validate_table`'s errors, the rows' ids as text, and the model matrix of every
    row (`Schema.to_matrix` of the clean table; rows with errors included, `valid_mask` picks the others)."""

    matrix: np.ndarray
    ids: pyarrow.Array
    errors: pd.DataFrame
    table_errors: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def valid_mask(self) -> np.ndarray:
        return _without_errors(len(self.matrix), self.errors)

    def rejects(self) -> pd.DataFrame:
        """One line per bad row, as `ValidationReport.rejects` words it."""
        return ValidationReport(pd.DataFrame(index=pd.RangeIndex(len(self.matrix))), self.errors).rejects()


def _without_errors(rows: int, errors: pd.DataFrame) -> np.ndarray:
    """True for each of `rows` rows that no error names."""
    mask = np.ones(rows, dtype=bool)
    mask[errors["row"].to_numpy(dtype=np.int64)] = False
    return mask


def _is_text(t: pyarrow.DataType) -> bool:
    return bool(pyarrow.types.is_string(t) or pyarrow.types.is_large_string(t))


def _is_number(t: pyarrow.DataType) -> bool:
    """Types read as float64 without text parsing, exactly as pandas reads them (float16 and decimals excepted;
    booleans as 1 and 0, which pandas reads from text when some are missing, to the same numbers)."""
    return bool(
        pyarrow.types.is_integer(t) or pyarrow.types.is_boolean(t) or t in (pyarrow.float32(), pyarrow.float64())
    )


def as_float64(column: pyarrow.ChunkedArray) -> pyarrow.ChunkedArray:
    """A number column as float64, as pandas reads it: an integer beyond 2**53 (2**60, a uint64's largest) to the
    nearest float, which then breaks the column's range like any value outside it. Arrow's safe cast refuses the
    whole column for one such cell."""
    return pc.cast(column, pyarrow.float64(), safe=False)


def _arrow_ids(column: pyarrow.ChunkedArray) -> tuple[pyarrow.Array, np.ndarray, bool]:
    """The id column as text (as `_id_text` reads it from pandas), where it is missing, and whether missing ids are
    null in the text (text columns: they read as "None"). Bytes and uuids read as `as_text` writes them, as
    `read_table` reads them."""
    text = as_text(column)
    column = column if text is None else text
    if _is_text(column.type):
        text = column.combine_chunks().cast(pyarrow.string()) if column.num_chunks else pyarrow.array([], "string")
        return text, np.asarray(text.is_null().to_numpy(zero_copy_only=False), dtype=bool) | _blank(text), True
    if pyarrow.types.is_integer(column.type) and column.null_count == 0:
        text = pc.cast(column, pyarrow.string())
        text = text.combine_chunks() if text.num_chunks else pyarrow.array([], "string")
        return text, np.zeros(len(column), dtype=bool), False
    values, missing = _id_text(column.to_pandas())
    return pyarrow.array(values, pyarrow.string()), missing, False


def _arrow_categories(f: Feature, column: pyarrow.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """`category_factors` of a column: text columns through Arrow's dictionary encoding (a value read once, however
    often it appears) or the dictionary they come in, other types through pandas, as `validate_table` reads them."""
    kind = column.type
    dictionary = pyarrow.types.is_dictionary(kind) and _is_text(kind.value_type)
    if not (_is_text(kind) or dictionary):
        return category_factors(f, column.to_pandas())
    if not column.num_chunks:
        return np.zeros(0, dtype=np.int64), []
    if dictionary and any(chunk.dictionary.null_count for chunk in column.chunks):
        column, dictionary = column.cast(kind.value_type), False  # a missing value held in a dictionary: decoded
    encoded = column.combine_chunks() if dictionary else pc.dictionary_encode(column.combine_chunks())
    indices = encoded.indices.cast(pyarrow.int64())  # unsigned indices (uint8, uint32) cannot hold -1
    codes = np.asarray(indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, [category_text(str(v), f.levels) for v in encoded.dictionary.to_pylist()]


def validate_arrow(
    table: pyarrow.Table, schema: Schema, *, require_target: bool = False, require_features: bool = True
) -> MatrixReport:
    """`validate_table` straight from an Arrow table: the same rules, errors and words (numbers and text read in
    Arrow; a column of another type through pandas, alone), and the model matrix instead of a clean frame."""
    rows = table.num_rows
    names = table.column_names
    unknown, table_errors = column_problems(
        names, schema, require_target=require_target, require_features=require_features
    )
    if table_errors:
        return MatrixReport(np.empty((rows, 0)), pyarrow.array([], "string"), no_errors(), table_errors, unknown)

    ids, bad_ids, null_text = _arrow_ids(table.column(schema.id_column))
    columns: list[np.ndarray] = []
    unreadable: list[tuple[Feature, pd.Series, np.ndarray]] = []
    failed: list[tuple[Feature, list[tuple[str, np.ndarray]], np.ndarray | tuple[list[str], np.ndarray]]] = []
    for f in schema.features:
        if f.name not in names:
            columns.append(np.full(rows, np.nan))
            if not f.nullable and rows:
                failed.append((f, [("not_nullable", np.arange(rows))], columns[-1]))
            continue
        column = table.column(f.name)
        if f.type is FeatureType.category:
            codes, found = _arrow_categories(f, column)
            allowed = np.array([t in f.levels for t in found] + [True])
            position = {level: float(k) for k, level in enumerate(f.levels)}
            columns.append(np.array([position.get(t, np.nan) for t in found] + [np.nan])[codes])
            failures = _category_failures(f, codes, allowed)
            if failures:
                failed.append((f, failures, (found, codes)))
            continue
        if _is_number(column.type):
            v = column.to_numpy() if column.type == pyarrow.float64() else as_float64(column).to_numpy()
            whole = bool(pyarrow.types.is_integer(column.type))  # bool: 0 and 1 have no fraction either way
        else:
            raw = column.to_pandas()
            v = feature_numbers(f, raw)
            whole = _whole_typed(raw)
            if not (isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biuf"):
                bad = raw.notna().to_numpy() & np.isnan(v)
                if bad.any():
                    unreadable.append((f, raw, np.flatnonzero(bad)))
        v = np.asarray(v, dtype=np.float64)
        columns.append(v)
        failures = _number_failures(f, v, whole)
        if failures:
            failed.append((f, failures, v))

    errors = no_errors()
    if unreadable or failed or bad_ids.any():
        found_rows = [r for *_, r in unreadable] + [r for _, fs, _ in failed for _, r in fs]
        where = np.unique(np.concatenate(found_rows)) if found_rows else np.zeros(0, dtype=np.int64)
        said = np.full(rows, None, dtype=object)
        if len(where):
            taken = ids.take(pyarrow.array(where)).to_pylist()
            said[where] = ["None" if t is None and null_text else t for t in taken]
        problems = [unreadable_errors(f, raw, bad, said) for f, raw, bad in unreadable]
        if bad_ids.any():
            problems.append(missing_id_errors(np.flatnonzero(bad_ids), schema))
        for f, failures, values in failed:
            if isinstance(values, tuple):
                found, codes = values
                values = np.array([*found, None], dtype=object)[codes]
            problems += _worded(f, failures, values, said)
        errors = sorted_errors(problems)
    return MatrixReport(_row_major(columns, rows), ids, errors, [], unknown)
