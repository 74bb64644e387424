"""The request contract is the feature schema: same fields, ranges, categories; same matrix as the batch path."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from thinfile.features.schema import FeatureType, Schema, load_schema, parse_schema
from thinfile.serving.audit import key_id
from thinfile.serving.contract import (
    PROTECTED_MESSAGE,
    BadRequest,
    RequestReader,
    applicant_model,
    applicants_to_matrix,
    batch_model,
    canonical_input,
    input_hmac,
)


def errors_by_field(model: type, body: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    return {".".join(map(str, e["loc"])): e["type"] for e in err.value.errors()}


def test_fields_are_the_schemas_features_and_required_means_not_nullable(schema: Schema) -> None:
    json_schema = applicant_model(schema).model_json_schema()
    assert list(json_schema["properties"]) == schema.feature_names
    assert sorted(json_schema["required"]) == sorted(f.name for f in schema.features if not f.nullable)
    assert json_schema["additionalProperties"] is False


def test_ranges_and_categories_come_from_the_schema(schema: Schema) -> None:
    props = applicant_model(schema).model_json_schema()["properties"]
    for f in schema.features:
        spec = props[f.name]
        spec = next(s for s in spec["anyOf"] if s.get("type") != "null") if "anyOf" in spec else spec
        if f.type is FeatureType.category:
            assert spec["enum"] == list(f.categories)
        elif f.type is FeatureType.bool:
            assert spec["type"] == "boolean"
        else:
            assert (spec["type"], spec["minimum"], spec["maximum"]) == (
                "integer" if f.type is FeatureType.int else "number",
                f.min,
                f.max,
            )


def test_protected_attributes_are_refused_by_name_and_hidden_from_the_docs(schema: Schema, thin_body: dict) -> None:
    model = applicant_model(schema)
    body = {**thin_body, **{p: "x" for p in schema.protected_names}}
    with pytest.raises(ValidationError) as err:
        model.model_validate(body)
    refused = {e["loc"][0]: e["msg"] for e in err.value.errors()}
    assert refused == {p: PROTECTED_MESSAGE for p in schema.protected_names}
    assert not set(schema.protected_names) & set(model.model_json_schema()["properties"])


@pytest.mark.parametrize(
    "field,value,kind",
    [
        ("bureau_accounts_open", "3", "int_type"),
        ("bureau_accounts_open", 2.5, "int_type"),
        ("bureau_accounts_open", float("1e300"), "less_than_equal"),
        ("bureau_accounts_open", 31, "less_than_equal"),
        ("microloan_ontime_share", -0.1, "greater_than_equal"),
        ("microloan_ontime_share", True, "float_type"),
        ("salary_inflow", "yes", "bool_type"),
        ("occupation_sector", "astronaut", "literal_error"),
        ("shoe_size", 42, "extra_forbidden"),
        ("default_12m", 0, "extra_forbidden"),
    ],
)
def test_each_bad_value_is_named_with_why(
    schema: Schema, thin_body: dict, field: str, value: object, kind: str
) -> None:
    body = {**thin_body, field: value}
    assert errors_by_field(applicant_model(schema), body) == {field: kind}


def test_missing_required_field_is_named(schema: Schema, thin_body: dict) -> None:
    required = next(f.name for f in schema.features if not f.nullable)
    body = {k: v for k, v in thin_body.items() if k != required}
    assert errors_by_field(applicant_model(schema), body) == {required: "missing"}


def test_non_finite_numbers_are_refused(schema: Schema, thin_body: dict) -> None:
    body = dict(thin_body)
    raw = "{" + ",".join(f'"{k}":{str(v).lower()}' for k, v in body.items()) + ',"bureau_utilisation":NaN}'
    with pytest.raises(ValidationError) as err:
        applicant_model(schema).model_validate_json(raw)
    assert [e["loc"] for e in err.value.errors()] == [("bureau_utilisation",)]


def test_batch_is_bounded_and_names_the_row(schema: Schema, thin_body: dict) -> None:
    batch = batch_model(schema, 3)
    good = thin_body
    assert errors_by_field(batch, {"applicants": []}) == {"applicants": "too_short"}
    assert errors_by_field(batch, {"applicants": [good] * 4}) == {"applicants": "too_long"}
    bad = {**good, "bureau_inquiries_6m": 99}
    assert errors_by_field(batch, {"applicants": [good, bad]}) == {
        "applicants.1.bureau_inquiries_6m": "less_than_equal"
    }


def test_matrix_equals_the_batch_paths_matrix(schema: Schema, population: pd.DataFrame, to_body) -> None:
    rows = population.iloc[:300]
    model = applicant_model(schema)
    applicants = [model.model_validate(to_body(row)) for _, row in rows.iterrows()]
    ours = applicants_to_matrix(schema, applicants)
    np.testing.assert_array_equal(ours, schema.to_matrix(rows))


def test_input_hmac_ignores_key_order_and_explicit_nulls_but_not_values(schema: Schema, thin_body: dict) -> None:
    model = applicant_model(schema)
    key = b"k" * 32
    body = {**thin_body, "bureau_utilisation": 0.25}
    reordered = dict(reversed(list(body.items())))
    with_nulls = {**body, "store_revenue_rmb": None}
    changed = {**body, "bureau_utilisation": 0.26}
    h = input_hmac(key, schema, model.model_validate(body))
    assert h == input_hmac(key, schema, model.model_validate(reordered))
    assert h == input_hmac(key, schema, model.model_validate(with_nulls))
    assert h != input_hmac(key, schema, model.model_validate(changed))
    assert b"store_revenue_rmb" not in canonical_input(schema, model.model_validate(with_nulls))


def test_input_hmac_is_one_for_zero_and_negative_zero(schema: Schema, thin_body: dict) -> None:
    model = applicant_model(schema)
    key = b"k" * 32
    zero, negative = ({**thin_body, "bureau_utilisation": v} for v in (0, -0.0))
    assert json.dumps(negative) != json.dumps(zero)
    hashed = [input_hmac(key, schema, model.model_validate(body)) for body in (zero, negative)]
    assert hashed[0] == hashed[1]
    sent = json.dumps({**thin_body, "bureau_utilisation": -0.0, "phone_tenure_months": 40}).encode()
    canonical = json.loads(canonical_input(schema, RequestReader(schema, 1).applicant(sent)))
    assert canonical["bureau_utilisation"] == 0.0 and str(canonical["bureau_utilisation"]) == "0.0"


def test_input_hmac_is_hmac_sha256_of_the_canonical_input_and_depends_on_the_key(
    schema: Schema, thin_body: dict
) -> None:
    applicant = applicant_model(schema).model_validate(thin_body)
    canonical = json.dumps(thin_body, sort_keys=True, separators=(",", ":")).encode()
    assert input_hmac(b"a" * 32, schema, applicant) == hmac.new(b"a" * 32, canonical, hashlib.sha256).hexdigest()
    assert input_hmac(b"a" * 32, schema, applicant) != hashlib.sha256(canonical).hexdigest()
    assert input_hmac(b"b" * 32, schema, applicant) != input_hmac(b"a" * 32, schema, applicant)
    assert key_id(b"a" * 32) != key_id(b"b" * 32) and len(key_id(b"a" * 32)) == 12


def test_an_integer_coded_category_takes_the_json_integer_as_its_text() -> None:
    uci = load_schema(Path(__file__).resolve().parents[1] / "data" / "uci_credit_card.yaml")
    reader = RequestReader(uci, 10)
    body = {"EDUCATION": "2", "LIMIT_BAL": 50_000, "BILL_AMT1": 1_200}
    as_text = reader.applicant(json.dumps(body).encode())
    for code in (2, 2.0, "2.0", " 2"):  # a float column's code, and text a book's CSV may hold, as batch reads them
        as_integer = reader.applicant(json.dumps(body | {"EDUCATION": code}).encode())
        assert canonical_input(uci, as_integer) == canonical_input(uci, as_text)  # one input, one audit HMAC
        np.testing.assert_array_equal(applicants_to_matrix(uci, [as_integer]), applicants_to_matrix(uci, [as_text]))


def _uci_refusal(body: dict) -> list[dict]:
    uci = load_schema(Path(__file__).resolve().parents[1] / "data" / "uci_credit_card.yaml")
    with pytest.raises(BadRequest) as err:
        RequestReader(uci, 10).applicant(
            json.dumps({"EDUCATION": "2", "LIMIT_BAL": 50_000, "BILL_AMT1": 1_200} | body).encode()
        )
    return err.value.detail


def test_a_number_sent_as_text_is_told_to_be_sent_as_a_json_number_without_echoing_it() -> None:
    [entry] = _uci_refusal({"LIMIT_BAL": "80000"})
    assert entry["loc"] == ["LIMIT_BAL"] and entry["msg"].endswith("send it as a JSON number, not as text in quotes")
    assert "80000" not in entry["msg"]


def test_a_wrong_integer_code_is_told_that_codes_go_as_text_or_as_json_integers() -> None:
    [entry] = _uci_refusal({"EDUCATION": True})
    assert entry["loc"] == ["EDUCATION"] and entry["msg"].endswith(", as text or as a JSON integer")


def test_a_whole_number_written_with_a_fraction_is_the_int_it_means(schema: Schema, thin_body: dict) -> None:
    whole = next(f.name for f in schema.features if f.type is FeatureType.int and f.name in thin_body)
    reader = RequestReader(schema, 10)
    as_int = reader.applicant(json.dumps(thin_body | {whole: 3}).encode())
    as_float = reader.applicant(json.dumps(thin_body | {whole: 3.0}).encode())
    assert getattr(as_float, whole) == 3 and type(getattr(as_float, whole)) is int
    assert canonical_input(schema, as_float) == canonical_input(schema, as_int)


@pytest.mark.parametrize("value", [9, -1, True, 2.5, "two"])
def test_an_integer_code_outside_the_levels_or_not_an_integer_is_refused_naming_the_field(value: object) -> None:
    uci = load_schema(Path(__file__).resolve().parents[1] / "data" / "uci_credit_card.yaml")
    body = {"EDUCATION": value, "LIMIT_BAL": 50_000, "BILL_AMT1": 1_200}
    with pytest.raises(BadRequest) as err:
        RequestReader(uci, 10).applicant(json.dumps(body).encode())
    assert [d["loc"] for d in err.value.detail] == [["EDUCATION"]]


@pytest.mark.parametrize("names", [["only"], ["zeta", "alpha", "mid"]])
def test_the_canonical_input_is_the_json_modules_sorted_compact_text_for_one_feature_or_several(
    names: list[str],
) -> None:
    lender = parse_schema(
        {
            "name": "lender",
            "version": 1,
            "id_column": "id",
            "target": "bad",
            "protected": [],
            "features": [
                {"name": n, "type": "float", "min": 0, "max": 1, "dimension": "capacity", "reason": "Low"}
                for n in names
            ],
        },
        "lender.yaml",
    )
    body = {n: 0.25 + k / 10 for k, n in enumerate(names) if k != 1}  # the second of several left out
    applicant = applicant_model(lender).model_validate(body)
    assert canonical_input(lender, applicant) == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
