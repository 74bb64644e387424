"""Whatever ranges a lender's schema declares, the schema check and the service's request contract agree:
a schema that loads builds the request model, whose JSON schema is plain JSON (pydantic is the independent side)."""

from __future__ import annotations

import json

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.features.schema import Schema, SchemaError, parse_schema
from thinfile.serving.contract import applicant_model

BOUNDS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**64), 2**64).map(float),
    st.integers(-(2**64), 2**64),
    st.integers(2**53 - 2, 2**53 + 2),
    st.integers(-1000, 1000).map(float),
)


@settings(max_examples=150, deadline=None)
@given(int_bounds=st.tuples(BOUNDS, BOUNDS), float_bounds=st.tuples(BOUNDS, BOUNDS))
def test_a_schema_that_loads_builds_the_request_contract_with_a_plain_json_schema(
    schema: Schema, thin_body: dict, int_bounds: tuple[float, float], float_bounds: tuple[float, float]
) -> None:
    data = yaml.safe_load(schema.to_yaml())
    int_feature = next(f for f in data["features"] if f["type"] == "int")
    float_feature = next(f for f in data["features"] if f["type"] == "float")
    int_feature["min"], int_feature["max"] = int_bounds
    float_feature["min"], float_feature["max"] = float_bounds
    try:
        lender = parse_schema(data, "lender.yaml")
    except SchemaError as err:
        assert int_feature["name"] in str(err) or float_feature["name"] in str(err)
        return
    model = applicant_model(lender)
    json.dumps(model.model_json_schema(), allow_nan=False)
    body = {name: value for name, value in thin_body.items() if name != float_feature["name"]}
    for end in int_bounds:
        model.model_validate(body | {int_feature["name"]: int(end)})
