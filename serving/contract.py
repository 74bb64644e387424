"""The service's request and response models, derived from the feature schema (never a second feature list)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    create_model,
    field_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from thinfile.features.schema import DIMENSIONS, Feature, FeatureType, Schema
from thinfile.training.scorer.explain import DEFAULT_TOP_REASONS

PROTECTED_MESSAGE = "is a protected attribute: it is never used for scoring and must not be sent"
REQUEST_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, hide_input_in_errors=True, frozen=True)


def _field(f: Feature) -> tuple[Any, Any]:
    """(annotation, FieldInfo) for one feature: strict type, schema range or categories, optional if nullable."""
    extra: dict[str, Any] = {"dimension": f.dimension.value}
    if f.unit:
        extra["unit"] = f.unit
    common: dict[str, Any] = {"title": f.display_name, "description": f.reason, "json_schema_extra": extra}
    if f.type is FeatureType.category:
        annotation: Any = Literal.__getitem__(tuple(f.levels))
    elif f.type is FeatureType.bool:
        annotation = StrictBool
    else:
        annotation = int if f.type is FeatureType.int else float
        common.update(strict=True, ge=f.min, le=f.max)
    if f.nullable:
        return annotation | None, Field(None, **common)
    return annotation, Field(..., **common)


def _refuse_protected(cls: type[BaseModel], value: object) -> None:
    raise PydanticCustomError("protected_attribute", PROTECTED_MESSAGE)


@lru_cache(maxsize=8)
def applicant_model(schema: Schema) -> type[BaseModel]:
    """One applicant: every model input of the schema; protected attributes and unknown fields refused."""
    fields: dict[str, Any] = {f.name: _field(f) for f in schema.features}
    for name in schema.protected_names:
        fields[name] = (SkipJsonSchema.__class_getitem__(Any), Field(None, exclude=True))
    validators: dict[str, Any] = {}
    if schema.protected_names:
        validators["refuse_protected"] = field_validator(*schema.protected_names, mode="before")(
            classmethod(_refuse_protected)
        )
    return create_model(
        "Applicant",
        __config__=REQUEST_CONFIG,
        __doc__=(
            f"One applicant's model inputs ({schema.name} schema v{schema.version}). Missing optional fields "
            "are normal for thin files; protected attributes and unknown fields are refused."
        ),
        __validators__=validators,
        **fields,
    )


@lru_cache(maxsize=8)
def batch_model(schema: Schema, max_rows: int) -> type[BaseModel]:
    """A list of applicants, at least one and at most `max_rows`."""
    applicant = applicant_model(schema)
    return create_model(
        "ApplicantBatch",
        __config__=REQUEST_CONFIG,
        __doc__=f"Up to {max_rows} applicants, scored together.",
        applicants=(list[applicant], Field(..., min_length=1, max_length=max_rows)),  # type: ignore[valid-type]
    )


Decision = Literal["approve", "refer", "decline"]


class Reason(BaseModel):
    """One thing that lowered the score, in the lender's words."""

    code: str = Field(description="the feature behind the reason")
    text: str
    value: float | int | bool | str | None = Field(description="the applicant's value (null when missing)")
    points_lost: float = Field(ge=0)
    hint: str | None = Field(None, description="what would stop this costing points, when the applicant can act")


Dimensions: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Dimensions",
    __doc__="Score points from each dimension of the score (relative to the base score).",
    **{d: (float, ...) for d in DIMENSIONS},
)


class ModelRef(BaseModel):
    """Which registered model answered."""

    name: str
    version: str
    run_id: str | None = None


@lru_cache(maxsize=16)
def response_model(top_reasons: int = DEFAULT_TOP_REASONS) -> type[BaseModel]:
    """A scored applicant: score, band, probability of default, decision, up to `top_reasons` reasons, dimensions."""
    return create_model(
        "ScoreResponse",
        __doc__="A scored applicant: score, band, probability of default, decision, reasons and dimensions.",
        request_id=(str, ...),
        score=(float, Field(description="350 (worst) to 950 (best)")),
        band=(str, ...),
        pd=(float, Field(ge=0, le=1, description="probability of default in 12 months")),
        decision=(Decision, ...),
        reasons=(
            list[Reason],
            Field(max_length=top_reasons, description=f"up to {top_reasons}, the largest loss of points first"),
        ),
        dimensions=(Dimensions, ...),
        base_points=(float, Field(description="score of an average applicant; base + dimensions = unclipped score")),
        model=(ModelRef, ...),
    )


ScoreResponse = response_model(DEFAULT_TOP_REASONS)


def applicants_to_matrix(schema: Schema, applicants: list[BaseModel]) -> np.ndarray:
    """Model matrix of validated applicants, identical to `schema.to_matrix` of the same rows."""
    out = np.full((len(applicants), len(schema.features)), np.nan)
    codes = {
        j: {c: float(k) for k, c in enumerate(f.levels)}
        for j, f in enumerate(schema.features)
        if f.type is FeatureType.category
    }
    names = schema.feature_names
    for i, applicant in enumerate(applicants):
        values = applicant.__dict__
        for j, name in enumerate(names):
            v = values[name]
            if v is not None:
                out[i, j] = codes[j][v] if j in codes else float(v)
    return out


def request_body(schema: Schema, row: Mapping[str, Any]) -> dict[str, object]:
    """One table row as a /score request body: model inputs only, missing values left out, JSON types."""
    body: dict[str, object] = {}
    for f in schema.features:
        v = row[f.name]
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            continue
        if f.type is FeatureType.category:
            body[f.name] = str(v)
        elif f.type is FeatureType.bool:
            body[f.name] = bool(v)
        elif f.type is FeatureType.int:
            body[f.name] = int(v)
        else:
            body[f.name] = float(v)
    return body


def canonical_input(schema: Schema, applicant: BaseModel) -> bytes:
    """The applicant's model inputs as canonical JSON: present fields only, sorted keys, compact."""
    values = applicant.__dict__
    present = {name: values[name] for name in schema.feature_names if values[name] is not None}
    return json.dumps(present, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def input_hash(schema: Schema, applicant: BaseModel) -> str:
    """sha256 of the canonical input: ties a decision to its input without storing the input."""
    return hashlib.sha256(canonical_input(schema, applicant)).hexdigest()
