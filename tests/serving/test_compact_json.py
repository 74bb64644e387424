"""compact_json writes what the json module writes: the canonical input the audit's HMAC is computed over must not
depend on which encoder wrote it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinfile.serving.contract import compact_json

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
