"""compact_json writes what the json module writes: the canonical input the audit's HMAC is computed over must not
depend on which encoder wrote it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.features.schema import parse_schema
from thinfile.serving.contract import applicant_model, canonical_input, compact_json

VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.integers(),
    st.booleans(),
    st.text(),
    st.text(alphabet=st.characters(max_codepoint=127)),
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), VALUES, max_size=12))
def test_compact_json_is_byte_for_byte_the_json_modules_compact_output(obj: dict) -> None:
    assert compact_json(obj) == json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


@pytest.mark.parametrize("value", [1e-05, 2.5e-07, -3e-5, 1e16, "é", "中文", "\x7f", "\x08\x0c"])
def test_compact_json_agrees_where_pydantic_core_writes_otherwise(value: object) -> None:
    assert compact_json({"x": value}) == json.dumps({"x": value}, separators=(",", ":")).encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_compact_json_refuses_what_json_refuses(value: float) -> None:
    with pytest.raises(ValueError):
        compact_json({"x": value})


LENDER = parse_schema(
    {
        "name": "lender",
        "version": 1,
        "id_column": "ID",
        "target": "bad",
        "protected": [{"name": "SEX", "categories": ["1", "2"]}],
        "features": [
            {"name": "b_small", "type": "float", "min": -1e308, "max": 1e308, "dimension": "capacity", "reason": "Low"},
            {
                "name": "Zone",
                "type": "category",
                "categories": ["é", "中文", "a\x7fb"],
                "dimension": "behaviour",
                "reason": "Zone",
                "nullable": True,
            },
            {
                "name": "a_count",
                "type": "int",
                "min": -(2**53),
                "max": 2**53,
                "dimension": "credit_history",
                "reason": "Few",
                "nullable": True,
            },
            {"name": "ok_flag", "type": "bool", "dimension": "identity", "reason": "Flag", "nullable": True},
            {
                "name": "Amount",
                "type": "float",
                "min": -1e308,
                "max": 1e308,
                "dimension": "capacity",
                "reason": "Amount",
                "nullable": True,
            },
        ],
    },
    "lender.yaml",
)
FLOATS = st.one_of(st.floats(min_value=-1e308, max_value=1e308), st.floats(min_value=-1e-3, max_value=1e-3))


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"b_small": FLOATS},
        optional={
            "Zone": st.sampled_from(["é", "中文", "a\x7fb"]),
            "a_count": st.integers(min_value=-(2**53), max_value=2**53),
            "ok_flag": st.booleans(),
            "Amount": FLOATS,
        },
    )
)
def test_the_canonical_input_is_the_json_modules_sorted_compact_output_with_negative_zero_as_zero(body: dict) -> None:
    applicant = applicant_model(LENDER).model_validate(body)
    expected = {k: 0.0 if isinstance(v, float) and v == 0.0 else v for k, v in body.items()}
    assert canonical_input(LENDER, applicant) == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()
