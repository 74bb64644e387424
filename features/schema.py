"""The feature schema: one declaration of every column, read by every stage."""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# the five Zhima dimensions, and `other` for an input that fits none of them (a lender is never forced to mislabel)
DIMENSIONS: tuple[str, ...] = ("credit_history", "capacity", "behaviour", "identity", "connections", "other")
BUILTIN_SCHEMA = "synthetic"


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


class Feature(BaseModel):
    """One model input: what it is, where it may range, and how it speaks to a borrower."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
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

    @property
    def reason_when_missing(self) -> str:
        """Reason text when a missing value lowered the score (the lender has no record of it)."""
        name = self.display_name
        return self.missing_reason or f"No record of: {name[0].lower()}{name[1:]}"


class Protected(BaseModel):
    """A protected attribute: kept beside the data for fairness audits, never a model input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    categories: tuple[str, ...] = Field(min_length=2)


class Schema(BaseModel):
    """A table's contract: id, target, optional oracle, date and booked flag, protected attributes, features."""

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
    protected: tuple[Protected, ...] = ()
    features: tuple[Feature, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Schema:
        names = [f.name for f in self.features]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"feature names repeated: {', '.join(repeated)}")
        special = [self.id_column, self.target, self.oracle_column, self.date_column, self.booked_column]
        special += [p.name for p in self.protected]
        clash = sorted({s for s in special if s and s in names})
        if clash:
            raise ValueError(
                f"{', '.join(clash)} cannot be a feature: id, target, oracle, date, booked and protected "
                "columns are never model inputs"
            )
        specials = [s for s in special if s]
        if len(set(specials)) != len(specials):
            raise ValueError("id, target, oracle, date, booked and protected columns must all differ")
        return self

    @cached_property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

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
        return [f.name for f in self.features if f.dimension.value == dimension]

    @cached_property
    def fingerprint(self) -> str:
        """Stable hash of the schema's content (tags runs and batch manifests)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def to_matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Model matrix in schema order: numbers as float64, categories as codes, missing as NaN."""
        out = np.empty((len(frame), len(self.features)), dtype=np.float64)
        for j, f in enumerate(self.features):
            col = frame[f.name]
            if f.type is FeatureType.category:
                codes = pd.Categorical(col, categories=list(f.levels)).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                out[:, j] = codes
            else:
                out[:, j] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"schema {source} is not valid:"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  - {where}: {msg}")
    return "\n".join(lines)


def parse_schema(data: object, source: str = "<data>") -> Schema:
    """Validate a schema given as plain data (as read from YAML), or raise SchemaError."""
    if not isinstance(data, dict):
        raise SchemaError(f"schema {source} must be a mapping with 'features', got {type(data).__name__}")
    try:
        return Schema.model_validate(data)
    except ValidationError as err:
        raise SchemaError(_format_validation_error(err, source)) from None


def load_schema(path: str | Path | None = None) -> Schema:
    """Load a schema file (YAML); None or 'synthetic' gives the built-in synthetic schema."""
    if path is None or str(path) == BUILTIN_SCHEMA:
        text = files("thinfile.features").joinpath("schemas", "synthetic.yaml").read_text()
        source = "built-in 'synthetic'"
    else:
        p = Path(path)
        if not p.is_file():
            raise SchemaError(f"schema file {p} does not exist")
        text = p.read_text()
        source = str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise SchemaError(f"schema {source} is not valid YAML: {err}") from None
    return parse_schema(data, source)
