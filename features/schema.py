"""The feature schema: one declaration of every column, read by every stage."""

from __future__ import annotations

import hashlib
import json
import math
import operator
import re
import string
import warnings
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cached_property, lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from thinfile.features.yamlio import YamlFileError, read_yaml

# the five Zhima dimensions, and `other` for an input that fits none of them (a lender is never forced to mislabel)
DIMENSIONS: tuple[str, ...] = ("credit_history", "capacity", "behaviour", "identity", "connections", "other")
BUILTIN_SCHEMA = "synthetic"
# whole numbers beyond this lose their last digits in the model's float64 matrix
MAX_EXACT_INT = 2**53


class SchemaError(ValueError):
    """A schema file that cannot be used, with a message that says why."""


class FeatureType(str, Enum):
    float = "float"
    int = "int"
    bool = "bool"
    category = "category"


class Dimension(str, Enum):
    credit_history = "credit_history"
    capacity = "capacity"
    behaviour = "behaviour"
    identity = "identity"
    connections = "connections"
    other = "other"


NAME_PATTERN = r"^[^\W\d]\w*$"
"""A feature or protected name: letters (any script), digits and '_', not starting with a digit."""


def field_name_problem(name: str) -> str | None:
    """Why `name` cannot name a model input or protected attribute, which the service reads into a pydantic model's
    fields (pydantic refuses a name starting with '_', and a name of its models' own, such as `model_config` or
    `json`, is lost or hides theirs); None when it can."""
    if name.startswith("_"):
        return f"{name!r} starts with '_', which the service's request model cannot take as a field"
    if hasattr(BaseModel, name):
        return f"{name!r} is a name the service's request model (pydantic) keeps for its own"
    return None


def _field_name(name: str, info: ValidationInfo) -> str:
    """A name the service's request model can hold; a stored model's schema is read as it was saved (a model
    trained before the rule still scores in batch)."""
    if info.context and info.context.get("stored"):
        return name
    if problem := field_name_problem(name):
        raise ValueError(f"{problem}: rename the column in the table and here{_renamed(name)}")
    return name


def _renamed(name: str) -> str:
    for other in (name.lstrip("_"), name.lstrip("_") + "_value"):
        if re.fullmatch(NAME_PATTERN, other) and field_name_problem(other) is None:
            return f" (e.g. {other!r})"
    return ""


FieldName = Annotated[str, Field(pattern=NAME_PATTERN), AfterValidator(_field_name)]


_TEMPLATE_FIELDS = {
    "missing": ("name", "name_lc"),
    "stops_costing": ("name", "bound"),
    "wins_back": ("name", "bound", "points"),
    "at_least": ("value", "unit"),
    "at_most": ("value", "unit"),
    "at_most_zero": ("unit",),
}


class Wording(BaseModel):
    """How reasons and hints read, for a lender who writes them in another language. Each is a template whose
    {fields} are filled in: name (the feature's label), name_lc (the same, first letter lower-case), bound (an
    at_least, at_most or at_most_zero text), points (whole score points), value and unit (the feature's unit, may
    be empty). Runs of spaces are closed up, so a template may leave room for an empty unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    missing: str = Field("No record of: {name_lc}", description="the reason when a missing value lowers a score")
    stops_costing: str = Field("{name}: {bound} would stop this costing points", description="a hint that clears it")
    wins_back: str = Field("{name}: {bound} would win back {points} points", description="a hint that helps partly")
    at_least: str = Field("at least {value} {unit}", description="a bound for a higher-is-better input")
    at_most: str = Field("at most {value} {unit}", description="a bound for a lower-is-better input")
    at_most_zero: str | None = Field(None, description="the bound 0 for a lower-is-better input (default: at_most)")

    @model_validator(mode="before")
    @classmethod
    def _a_mapping_of_known_templates(cls, data: object) -> object:
        if isinstance(data, Wording):
            return data
        keys = ", ".join(_TEMPLATE_FIELDS)
        if not isinstance(data, dict):
            raise ValueError(f"give a mapping of templates by name ({keys}), not {type(data).__name__} {data!r:.40}")
        unknown = [k for k in data if k not in _TEMPLATE_FIELDS]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))}: not a template; the templates are {keys}")
        return data

    @model_validator(mode="after")
    def _only_known_fields(self) -> Wording:
        for key, allowed in _TEMPLATE_FIELDS.items():
            template = getattr(self, key)
            if template is None:
                continue
            if not template.strip():
                raise ValueError(f"{key}: empty; leave it out for the English default")
            try:
                parts = list(string.Formatter().parse(template))
            except ValueError as err:
                hint = "write a literal brace as {{ or }}"
                raise ValueError(f"{key}: {err} in {template!r} ({hint})") from None
            for _, field, spec, conversion in parts:
                if field is None:
                    continue
                if field not in allowed or spec or conversion:
                    written = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
                    raise ValueError(
                        f"{key}: {{{written}}} is not a field it fills; it fills "
                        + ", ".join("{" + a + "}" for a in allowed)
                    )
        return self

    def _fill(self, key: str, **fields: object) -> str:
        return " ".join(getattr(self, key).format(**fields).split())

    def missing_reason(self, name: str) -> str:
        return self._fill("missing", name=name, name_lc=name[:1].lower() + name[1:])

    def bound(self, higher_is_better: bool, value: float, whole: bool, unit: str) -> str:
        """The bound `value` of an input (`whole`: an int or bool), in positional notation, never 1.2e+06."""
        if higher_is_better:
            return self._fill("at_least", value=number_text(value, whole), unit=unit)
        if value == 0 and self.at_most_zero is not None:
            return self._fill("at_most_zero", unit=unit)
        return self._fill("at_most", value=number_text(value, whole), unit=unit)

    def hint(self, name: str, bound: str, points: float | None = None) -> str:
        """The hint that the bound stops the input costing points (points None), or wins `points` back."""
        if points is None:
            return self._fill("stops_costing", name=name, bound=bound)
        return self._fill("wins_back", name=name, bound=bound, points=f"{points:.0f}")


def number_text(value: float, whole: bool) -> str:
    """A value as a reader writes it: whole numbers as integers, others to 6 significant digits, never in
    scientific notation."""
    if whole:
        return str(int(value))
    return np.format_float_positional(value, precision=6, unique=False, fractional=False, trim="-")


class Feature(BaseModel):
    """One model input: what it is, where it may range, and how it speaks to a borrower."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: FieldName
    label: str = ""
    type: FeatureType
    unit: str = ""
    min: float | None = None
    max: float | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = True
    dimension: Dimension
    monotone: Literal[-1, 0, 1] = 0
    reason: str = Field(min_length=3)
    missing_reason: str | None = None
    actionable: bool = False
    traditional: bool = False

    @field_validator("min", "max", mode="before")
    @classmethod
    def _whole_bound_held_exactly(cls, value: object, info: ValidationInfo) -> object:
        """A bound beyond ±2^53 on an int feature, checked before a whole one is read as a float and rounded."""
        whole_type = info.data.get("type") is FeatureType.int
        if whole_type and isinstance(value, int | float) and math.isfinite(value) and abs(value) > MAX_EXACT_INT:
            raise ValueError(
                f"feature {info.data.get('name')!r}: {info.field_name} {value} is beyond ±2^53, where whole numbers "
                "lose digits in the model's float64 matrix; a code or identifier this long is not a model input"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.type is FeatureType.category:
            if not self.categories:
                raise ValueError(f"feature {self.name!r}: a category feature needs 'categories'")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError(f"feature {self.name!r}: repeated categories")
            if self.monotone != 0:
                raise ValueError(f"feature {self.name!r}: a category feature must have monotone 0")
            if self.min is not None or self.max is not None:
                raise ValueError(f"feature {self.name!r}: a category feature takes no min/max")
        else:
            if self.categories is not None:
                raise ValueError(f"feature {self.name!r}: only category features take 'categories'")
            if self.type is not FeatureType.bool and (self.min is None or self.max is None):
                raise ValueError(f"feature {self.name!r}: a {self.type.value} feature needs min and max")
            if self.type is FeatureType.bool and (self.min not in (None, 0) or self.max not in (None, 1)):
                raise ValueError(f"feature {self.name!r}: a bool feature's values are 0 and 1: leave out min and max")
            for end in ("min", "max"):
                _check_bound(self, end, getattr(self, end))
            if self.min is not None and self.max is not None and self.min > self.max:
                raise ValueError(f"feature {self.name!r}: min {self.min} is above max {self.max}")
        return self

    @property
    def levels(self) -> tuple[str, ...]:
        """The declared categories of a category feature (empty for numbers)."""
        return self.categories or ()

    @property
    def display_name(self) -> str:
        return self.label or self.name.replace("_", " ")


def _check_bound(feature: Feature, end: str, value: float | None) -> None:
    """A range end must be a finite number, and an int feature's a whole one (±2^53 is checked on the way in)."""
    if value is None:
        return
    where = f"feature {feature.name!r}: {end} {value}"
    if not np.isfinite(value):
        raise ValueError(f"{where} is not a finite number; give the widest value the column may take")
    if feature.type is FeatureType.int and not value.is_integer():
        raise ValueError(f"{where} is not a whole number, and the feature is an int")


MISSING_GROUP = "(missing)"


def protected_values(column: pd.Series, names: Mapping[str, str] | None = None) -> np.ndarray:
    """A protected column as group names: strings (integer-coded floats as "1", not "1.0"), the codes `names` names
    (a `Protected`'s labels) by their names, missing values as MISSING_GROUP."""
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        known = np.isfinite(values)
        if np.array_equal(values[known], np.round(values[known])):
            column = pd.Series(np.where(known, values, 0).astype(np.int64), index=column.index).where(known)
            column = column.astype("Int64")
    text = column.astype("string").fillna(MISSING_GROUP).to_numpy(dtype=object).astype(str)
    if not names:
        return text
    codes, found = pd.factorize(text)
    return np.array([names.get(v, v) for v in found], dtype=object)[codes].astype(str)


class Protected(BaseModel):
    """A protected attribute: kept beside the data for fairness audits, never a model input.

    `labels` names coded groups (`{'1': male, '2': female}`): audits and reports then speak of the names, and
    the table keeps its codes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: FieldName
    categories: tuple[str, ...] = Field(min_length=2)
    labels: tuple[tuple[str, str], ...] = Field(
        (), description="group names for coded values, written as a mapping {code: name}"
    )

    @field_validator("labels", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
            return value  # already pairs (a copy of a validated model)
        if not isinstance(value, dict):
            raise ValueError("labels is a mapping of code to group name, e.g. {'1': male, '2': female}")
        pairs = []
        for code, name in value.items():
            if not isinstance(name, str) or isinstance(code, (dict, list)):
                raise ValueError(f"the label of code {code!r} must be a name (text), got {name!r}")
            pairs.append((str(code), name))
        codes = [code for code, _ in pairs]
        twice = sorted({c for c in codes if codes.count(c) > 1})
        if twice:
            raise ValueError(f"code(s) labelled more than once: {', '.join(twice)} (1 and '1' are the same code)")
        return tuple(pairs)

    @model_validator(mode="after")
    def _labels_name_declared_codes(self) -> Protected:
        unknown = [code for code, _ in self.labels if code not in self.categories]
        if unknown:
            raise ValueError(f"labels of {self.name!r} name code(s) it does not declare: {', '.join(unknown)}")
        if any(not name.strip() for _, name in self.labels):
            raise ValueError(f"labels of {self.name!r}: a group name is empty")
        if any(name == MISSING_GROUP for _, name in self.labels):
            raise ValueError(f"labels of {self.name!r}: {MISSING_GROUP} names the rows with no value; choose another")
        groups = self.groups
        if len(set(groups)) < len(groups):
            twice = sorted({g for g in groups if groups.count(g) > 1})
            raise ValueError(f"labels of {self.name!r} give two groups the same name: {', '.join(twice)}")
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        out = handler(self)
        if self.labels:
            out["labels"] = dict(self.labels)
        else:
            del out["labels"]  # a schema without labels keeps its fingerprint
        return out

    @property
    def names(self) -> dict[str, str]:
        """Code -> group name, for the codes `labels` names."""
        return dict(self.labels)

    @property
    def groups(self) -> tuple[str, ...]:
        """The declared groups by name, in the categories' order."""
        names = self.names
        return tuple(names.get(c, c) for c in self.categories)


class FeatureReading(NamedTuple):
    """A feature's facts as plain attributes (see `Schema.readings`)."""

    feature: Feature
    name: str
    reason: str
    reason_when_missing: str
    type: FeatureType
    levels: tuple[str, ...]


class Schema(BaseModel):
    """A table's contract: id, target, optional oracle, date, booked flag and borrower, protected attributes,
    features."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int = 1
    description: str = ""
    id_column: str
    target: str
    oracle_column: str | None = None
    date_column: str | None = None
    booked_column: str | None = Field(
        None, description="1 where an earlier policy booked the applicant (outcome known), 0 where it rejected them"
    )
    borrower_column: str | None = Field(
        None,
        description="the column naming each row's borrower (a customer id) in a book where one borrower can have "
        "several loans: the random split and cross-validation keep each borrower's loans together, so no model is "
        "tested on a borrower it was trained on",
    )
    protected: tuple[Protected, ...] = ()
    features: tuple[Feature, ...] = Field(min_length=1)
    wording: Wording | None = Field(None, description="reasons' and hints' fixed words (default: English)")

    @model_validator(mode="after")
    def _check(self) -> Schema:
        names = [f.name for f in self.features]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"feature names repeated: {', '.join(repeated)}")
        roles = {
            "id_column": self.id_column,
            "target": self.target,
            "oracle_column": self.oracle_column,
            "date_column": self.date_column,
            "booked_column": self.booked_column,
            "borrower_column": self.borrower_column,
        } | {f"protected {p.name}": p.name for p in self.protected}
        clash = sorted({s for s in roles.values() if s and s in names})
        if clash:
            raise ValueError(
                f"{', '.join(clash)} cannot be a feature: id, target, oracle, date, booked, borrower and protected "
                "columns are never model inputs"
            )
        by_column: dict[str, list[str]] = {}
        for role, column in roles.items():
            if column:
                by_column.setdefault(column, []).append(role)
        shared = [f"{column!r} is {' and '.join(r)}" for column, r in by_column.items() if len(r) > 1]
        if shared:
            raise ValueError(
                f"id, target, oracle, date, booked, borrower and protected columns must all differ: {'; '.join(shared)}"
            )
        return self

    @cached_property
    def protected_groups(self) -> dict[str, list[str]]:
        """Protected attribute -> its declared groups by name (`Protected.groups`)."""
        return {p.name: list(p.groups) for p in self.protected}

    @cached_property
    def group_names(self) -> dict[str, dict[str, str]]:
        """Protected attribute -> code -> group name, for the attributes whose codes are labelled."""
        return {p.name: p.names for p in self.protected if p.labels}

    @cached_property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @cached_property
    def sorted_feature_names(self) -> list[str]:
        return sorted(self.feature_names)

    def present_sorted(self, record: Mapping[str, object]) -> dict[str, object]:
        """The model inputs `record` holds a value for (not None), by name in sorted order."""
        names = self.sorted_feature_names
        values = self.sorted_picker(record) if len(names) > 1 else (record[names[0]],)
        return {name: v for name, v in zip(names, values) if v is not None}

    @cached_property
    def sorted_picker(self) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
        return operator.itemgetter(*self.sorted_feature_names)

    @cached_property
    def readings(self) -> tuple[FeatureReading, ...]:
        """Per feature (schema order), what explanations read of it, taken out once: a pydantic attribute or an
        enum's value costs per read, and a one-row answer reads them dozens of times."""
        return tuple(
            FeatureReading(f, f.name, f.reason, self.reason_when_missing(f), f.type, tuple(f.levels or ()))
            for f in self.features
        )

    @cached_property
    def words(self) -> Wording:
        return self.wording or Wording()

    def reason_when_missing(self, f: Feature) -> str:
        """Reason text when a missing value of `f` lowered the score (the lender has no record of it)."""
        return f.missing_reason or self.words.missing_reason(f.display_name)

    @cached_property
    def level_codes(self) -> tuple[tuple[str, dict[str, float] | None], ...]:
        """Per feature, in matrix order: its name, and for a category feature the matrix code of each level."""
        return tuple(
            (f.name, {c: float(k) for k, c in enumerate(f.levels)} if f.type is FeatureType.category else None)
            for f in self.features
        )

    @cached_property
    def category_codes(self) -> tuple[tuple[int, dict[str, float]], ...]:
        """Per category feature, its matrix column and the matrix code of each level."""
        return tuple((j, codes) for j, (_, codes) in enumerate(self.level_codes) if codes is not None)

    def feature_values(self, record: Mapping[str, object]) -> list[object]:
        """The values of the model inputs in matrix order, from a record holding each of them by name."""
        return list(self.feature_picker(record)) if len(self.features) > 1 else [record[self.features[0].name]]

    @cached_property
    def feature_picker(self) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
        return operator.itemgetter(*self.feature_names)

    @cached_property
    def dimension_matrix(self) -> np.ndarray:
        """(features x 5) read-only indicator of each feature's dimension, in DIMENSIONS order."""
        m = np.zeros((len(self.features), len(DIMENSIONS)))
        for j, f in enumerate(self.features):
            m[j, DIMENSIONS.index(f.dimension.value)] = 1.0
        m.flags.writeable = False
        return m

    @cached_property
    def by_name(self) -> dict[str, Feature]:
        return {f.name: f for f in self.features}

    @cached_property
    def protected_names(self) -> list[str]:
        return [p.name for p in self.protected]

    @cached_property
    def traditional_features(self) -> list[str]:
        return [f.name for f in self.features if f.traditional]

    @cached_property
    def categorical_indices(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.type is FeatureType.category]

    @cached_property
    def monotone_constraints(self) -> list[int]:
        return [f.monotone for f in self.features]

    @cached_property
    def dimension_of(self) -> dict[str, str]:
        return {f.name: f.dimension.value for f in self.features}

    def features_in(self, dimension: str) -> list[str]:
        """The model inputs of one dimension (capacity, behaviour, ...), in schema order."""
        return [f.name for f in self.features if f.dimension.value == dimension]

    @cached_property
    def fingerprint(self) -> str:
        """Stable hash of the schema's content (tags runs and batch manifests)."""
        # a schema written before these fields existed, and not using them, keeps its fingerprint
        unset = {name for name in ("wording", "borrower_column") if getattr(self, name) is None}
        payload = json.dumps(self.model_dump(mode="json", exclude=unset), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def to_matrix(self, frame: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """Model matrix in schema order, read as validation reads it: numbers (and text booleans) as float64,
        categories as level codes (3, 3.0 and "3" alike for a level "3"), missing or unreadable as NaN.
        `rows`: the positions of the rows to take, in this order (default: every row, in table order)."""
        columns = [
            category_codes(f, frame[f.name]) if f.type is FeatureType.category else feature_numbers(f, frame[f.name])
            for f in self.features
        ]
        return _row_major(columns, len(frame) if rows is None else len(rows), rows)

    def to_yaml(self) -> str:
        """The schema as YAML, as a schema file holds it."""
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


TRUE_TEXT = frozenset({"true", "yes", "1", "1.0", "t", "y"})
FALSE_TEXT = frozenset({"false", "no", "0", "0.0", "f", "n"})
_HASHED_ALIKE = frozenset({"string", "empty", "integer", "floating", "boolean"})
_BLOCK_ROWS = 4096


_WHOLE_LEVEL = re.compile(r"-?[0-9]+")


@lru_cache(maxsize=256)
def whole_levels(levels: tuple[str, ...]) -> dict[int, str]:
    """The declared levels written as whole numbers, by the number each writes ("09" under 9, "10" under 10); a
    number two levels write ("9" and "09") under the one written plainly, or none."""
    by_number: dict[int, list[str]] = {}
    for level in levels:
        if _WHOLE_LEVEL.fullmatch(level):
            by_number.setdefault(int(level), []).append(level)
    return {
        n: str(n) if str(n) in written else written[0]
        for n, written in by_number.items()
        if len(written) == 1 or str(n) in written
    }


def _whole_level(number: int, levels: tuple[str, ...]) -> str:
    """The declared level that writes `number` ("09" for 9, as a CSV reader reads that cell), else its plain text."""
    return whole_levels(levels).get(number, str(number))


def _level_named_by(text: str, levels: tuple[str, ...]) -> str | None:
    """The declared integer level that text writing a whole number another way names (' 2', '2.0', '02', '+2' for
    level '2'; '9' for level '09': what a CSV reader makes of them when the rest of the column is numbers), else
    None."""
    if "_" in text or not text.isascii():
        return None
    try:
        x = float(text)
    except ValueError:
        return None
    if not (np.isfinite(x) and x.is_integer() and abs(x) < MAX_EXACT_INT):
        return None
    return whole_levels(levels).get(int(x))


def category_text(value: object, levels: tuple[str, ...]) -> str:
    """A present value as category text: text as given, or the integer level it writes another way (' 2' or
    '2.0' for '2', '9' for '09', whatever else its column holds); integers, and floats that are whole numbers, as
    the integer level they name ("09" for 9 where that is declared) or as integers ("3" for 3 and 3.0) unless the
    float's own text is a declared level."""
    if isinstance(value, str):
        return value if value in levels else _level_named_by(value, levels) or value
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return _whole_level(int(value), levels)
    if isinstance(value, (float, np.floating)):
        text = str(value)
        if text not in levels and np.isfinite(value) and float(value).is_integer():
            return _whole_level(int(value), levels)
        return text
    return str(value)


def category_factors(f: Feature, raw: pd.Series) -> tuple[np.ndarray, list[str]]:
    """A category column as codes (-1 where missing) into the texts of its distinct values."""
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) not in _HASHED_ALIKE:
        # mixed kinds (say 1, True and "1") may hash alike, so read each value before grouping
        present = raw.notna().to_numpy()
        text = np.full(len(raw), None, dtype=object)
        text[present] = [category_text(v, f.levels) for v in raw.to_numpy()[present]]
        codes, uniques = pd.factorize(text)
    else:
        codes, uniques = pd.factorize(raw)
    return np.asarray(codes, dtype=np.int64), [category_text(v, f.levels) for v in uniques]


def category_codes(f: Feature, raw: pd.Series) -> np.ndarray:
    """Level codes as float64; missing values and values outside the declared levels as NaN."""
    codes, texts = category_factors(f, raw)
    position = {level: float(k) for k, level in enumerate(f.levels)}
    return np.array([position.get(t, np.nan) for t in texts] + [np.nan])[codes]


def read_dates(raw: pd.Series) -> pd.Series:
    """A date column as UTC timestamps: ISO 8601 text ('2023-12-31', '2023-12-31 10:00', '20231231'), whatever
    form each row uses, or the table's own date type; NaT where missing or not such a date."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=True)


def feature_numbers(f: Feature, raw: pd.Series) -> np.ndarray:
    """A number or bool column as float64, NaN where missing or unreadable; text booleans ("yes", "f") read."""
    if f.type is FeatureType.bool and raw.dtype == object:
        codes, uniques = pd.factorize(raw)
        words = [str(u).strip().lower() for u in uniques]
        lookup = [1.0 if w in TRUE_TEXT else 0.0 if w in FALSE_TEXT else np.nan for w in words]
        return np.array([*lookup, np.nan])[codes]
    if isinstance(raw.dtype, np.dtype) and raw.dtype.kind in "biuf":
        return raw.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    return _exactly(raw, pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))


def _exactly(raw: pd.Series, read: np.ndarray) -> np.ndarray:
    """`read` (pandas' reading of text numbers, which may be a unit in the last place off: '0.16666666666666666'
    reads 0.1666666666666666) with each number it read parsed again by Arrow, exactly, as a Parquet file or a CSV
    column of numbers holds it; as pandas read it where Arrow cannot parse the text."""
    ok = np.isfinite(read)  # an overflow (1e400) stays as pandas read it, infinite, and is refused as such
    if not ok.any():
        return read
    try:
        text = pa.array(raw.to_numpy(dtype=object)[ok], type=pa.string())
        exact = pc.cast(pc.utf8_trim_whitespace(text), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return read
    out = read.copy() if not read.flags.writeable else read
    out[ok] = np.where(np.isfinite(exact), exact, read[ok])
    return out


def _row_major(columns: list[np.ndarray], rows: int, take: np.ndarray | None = None) -> np.ndarray:
    """Columns interleaved into one C-ordered matrix, a cache-sized block of rows at a time; with `take`, the
    rows at those positions, in that order."""
    out = np.empty((rows, len(columns)), dtype=np.float64)
    for start in range(0, rows, _BLOCK_ROWS):
        block = out[start : start + _BLOCK_ROWS]
        where = slice(start, start + _BLOCK_ROWS) if take is None else take[start : start + _BLOCK_ROWS]
        for j, col in enumerate(columns):
            block[:, j] = col[where]
    return out


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"schema {source} is not valid:"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  - {where}: {msg}")
    return "\n".join(lines)


def parse_schema(data: object, source: str = "<data>", *, stored: bool = False) -> Schema:
    """Validate a schema given as plain data (as read from YAML), or raise SchemaError. `stored`: the schema saved
    with a model, whose names are read as they were saved, whatever rules for names came later."""
    if not isinstance(data, dict):
        raise SchemaError(f"schema {source} must be a mapping with 'features', got {type(data).__name__}")
    try:
        return Schema.model_validate(data, context={"stored": True} if stored else None)
    except ValidationError as err:
        raise SchemaError(_format_validation_error(err, source)) from None


def load_schema(path: str | Path | None = None) -> Schema:
    """Load a schema file (YAML); None or 'synthetic' gives the built-in synthetic schema."""
    if path is None or str(path) == BUILTIN_SCHEMA:
        file: Path | Traversable = files("thinfile.features").joinpath("schemas", "synthetic.yaml")
        source = "built-in 'synthetic'"
    else:
        file = Path(path)
        if not file.is_file():
            what = "is a folder: give the YAML file in it" if file.is_dir() else "does not exist"
            raise SchemaError(f"schema file {file} {what}")
        source = str(file)
    try:
        data = read_yaml(file)
    except YamlFileError as err:
        raise SchemaError(f"schema {source} {err}") from None
    return parse_schema(data, source)
