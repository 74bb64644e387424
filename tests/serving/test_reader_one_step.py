"""The reader's one-step path (parse and validate in one call) accepts exactly what Python's json module and the
applicant model accept, with the same values of the same types; everything else is refused with the usual message."""

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from thinfile.features.schema import FeatureType, Schema
from thinfile.serving.contract import BadRequest, RequestReader, applicant_model


def variants(schema: Schema, body: dict, rng: np.random.Generator) -> list[dict]:
    """The body as it is, and with one field retyped, nulled, dropped, out of range or unknown."""
    f = schema.features[int(rng.integers(len(schema.features)))]
    v = body.get(f.name)
    retyped: object
    if f.type is FeatureType.category:
        retyped = f.levels.index(v) if v is not None else 1
    elif f.type is FeatureType.bool:
        retyped = int(bool(v))
    elif f.type is FeatureType.int:
        retyped = float(v) if v is not None else 2.0
    else:
        retyped = int(v) if v is not None else 1
    return [
        body,
        {**body, f.name: retyped},
        {**body, f.name: None},
        {k: x for k, x in body.items() if k != f.name},
        {**body, f.name: str(v)},
        {**body, f.name: (f.max or 1) + 1e6 if f.type in (FeatureType.int, FeatureType.float) else v},
        {**body, "shoe_size": 42},
        {**body, **{p: "x" for p in schema.protected_names[:1]}},
    ]


def test_the_reader_accepts_what_json_and_the_model_accept_with_the_same_values(
    schema: Schema, population: pd.DataFrame, to_body
) -> None:
    reader, model = RequestReader(schema, 10), applicant_model(schema)
    rng = np.random.default_rng(13)
    accepted = refused = 0
    for _, row in population.iloc[:400].iterrows():
        for body in variants(schema, to_body(row), rng):
            raw = json.dumps(body).encode()
            try:
                expected = model.model_validate(json.loads(raw))
            except ValidationError:
                with pytest.raises(BadRequest):
                    reader.applicant(raw)
                refused += 1
                continue
            got = reader.applicant(raw)
            assert [(k, type(v), v) for k, v in got.__dict__.items()] == [
                (k, type(v), v) for k, v in expected.__dict__.items()
            ]
            accepted += 1
    assert accepted > 800 and refused > 1200
