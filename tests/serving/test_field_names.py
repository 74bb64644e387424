"""A schema takes exactly the input and protected names the service's request model (pydantic) can hold as fields:
what it refuses is named with a rename, what it takes builds the model without a warning and reads a request."""

from __future__ import annotations

import json
import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, create_model

from thinfile.features.schema import NAME_PATTERN, SchemaError, parse_schema
from thinfile.serving.contract import BadRequest, RequestReader, applicant_model, canonical_input

PYDANTIC_OWN = sorted(n for n in dir(BaseModel) if not n.startswith("__"))
NAMES = st.one_of(
    st.sampled_from([*PYDANTIC_OWN, "register", "mro", "model_x", "fields", "amount", "refuse_protected"]),
    st.from_regex(r"_{0,2}[a-z][a-z0-9_]{0,8}", fullmatch=True),
)


def lender(feature: str, protected: str = "gender") -> dict:
    return {
        "name": "lender",
        "version": 1,
        "id_column": "ID",
        "target": "bad",
        "protected": [{"name": protected, "categories": ["1", "2"]}],
        "features": [
            {"name": feature, "type": "float", "min": 0, "max": 1, "dimension": "capacity", "reason": "Low value"}
        ],
    }


@settings(max_examples=150, deadline=None)
@given(NAMES)
def test_a_name_the_schema_takes_builds_the_request_model_quietly_and_is_read(name: str) -> None:
    try:
        schema = parse_schema(lender(name), "lender.yaml")
    except SchemaError as err:
        assert f"{name!r}" in str(err) and "rename the column" in str(err)
        assert name.startswith("_") or hasattr(BaseModel, name)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        applicant_model.cache_clear()
        reader = RequestReader(schema, 1)
        applicant = reader.applicant(json.dumps({name: 0.5}).encode())
    assert canonical_input(schema, applicant) == json.dumps({name: 0.5}, separators=(",", ":")).encode()
    with pytest.raises(BadRequest, match="protected"):  # the input never takes the protected attribute's refusal away
        reader.applicant(json.dumps({name: 0.5, "gender": "1"}).encode())


@pytest.mark.parametrize("name", ["_flag", "model_config", "json", "copy", "schema"])
def test_pydantic_cannot_hold_the_names_the_schema_refuses(name: str) -> None:
    assert re.fullmatch(NAME_PATTERN, name)
    with pytest.raises(SchemaError, match="rename the column"):
        parse_schema(lender(name), "lender.yaml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = create_model("M", **{name: (float, ...)})
        except Exception:
            return
    lost = name not in model.model_fields
    assert lost or any("shadows an attribute" in str(w.message) for w in caught)


def test_a_protected_attribute_named_as_pydantic_refuses_is_named_too() -> None:
    with pytest.raises(SchemaError, match=r"protected\.0\.name: '_sex' starts with '_'.*\(e\.g\. 'sex'\)"):
        parse_schema(lender("amount", protected="_sex"), "lender.yaml")


def test_a_stored_models_schema_is_read_with_the_names_it_was_saved_with() -> None:
    with pytest.raises(SchemaError, match="rename the column"):
        parse_schema(lender("json"), "lender.yaml")
    assert parse_schema(lender("json"), "scorer.json", stored=True).feature_names == ["json"]
