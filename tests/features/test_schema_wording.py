"""A schema's `wording`: the fixed words of reasons and hints, for a lender who writes them in another language."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from thinfile.features.infer import infer_schema
from thinfile.features.schema import SchemaError, load_schema, parse_schema

CHINESE = {
    "missing": "无记录：{name}",
    "stops_costing": "{name}：{bound}即不再扣分",
    "wins_back": "{name}：{bound}可挽回{points}分",
    "at_least": "至少{value}{unit}",
    "at_most": "不超过{value}{unit}",
    "at_most_zero": "降为0{unit}",
}


def builtin_data() -> dict:
    return yaml.safe_load(load_schema().to_yaml())


@pytest.mark.parametrize(
    "template",
    ["{name.__class__}", "{name[0]}", "{points:>99999}", "{name!r}", "{pd}", "{}", "{0}", "{name"],
)
def test_a_template_may_only_fill_its_own_fields_as_they_are(template: str) -> None:
    with pytest.raises(SchemaError, match="wording: wins_back: "):
        parse_schema({**builtin_data(), "wording": {"wins_back": template}})


def test_the_refusal_names_the_fields_a_template_fills() -> None:
    with pytest.raises(SchemaError) as err:
        parse_schema({**builtin_data(), "wording": {"at_most": "{name} {value}"}})
    assert "{name} is not a field it fills; it fills {value}, {unit}" in str(err.value)


@pytest.mark.parametrize(
    ("wording", "message"),
    [
        ({"missing": "  "}, "missing: empty; leave it out for the English default"),
        ({"mising": "无记录"}, "'mising': not a template; the templates are missing, stops_costing, wins_back"),
        ("中文", "give a mapping of templates by name (missing, stops_costing"),
    ],
)
def test_a_wording_block_that_cannot_be_used_is_refused_saying_what_to_write(wording: object, message: str) -> None:
    with pytest.raises(SchemaError) as err:
        parse_schema({**builtin_data(), "wording": wording})
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("higher", "value", "whole", "english", "chinese"),
    [
        (True, 1_235_000.0, False, "at least 1235000 RMB", "至少1235000RMB"),
        (True, 0.00001234, False, "at least 0.00001234 RMB", "至少0.00001234RMB"),
        (False, 0.25, False, "at most 0.25 RMB", "不超过0.25RMB"),
        (False, 0.0, True, "at most 0 RMB", "降为0RMB"),
        (True, 3.0, True, "at least 3 RMB", "至少3RMB"),
    ],
)
def test_a_bound_reads_in_positional_notation_and_zero_has_its_own_words(
    higher: bool, value: float, whole: bool, english: str, chinese: str
) -> None:
    assert load_schema().words.bound(higher, value, whole, "RMB") == english
    assert parse_schema({**builtin_data(), "wording": CHINESE}).words.bound(higher, value, whole, "RMB") == chinese


def test_a_missing_value_is_explained_in_the_schemas_wording_unless_the_feature_has_its_own() -> None:
    data = builtin_data()
    data["features"][1]["missing_reason"] = "没有这个人的征信记录"
    schema = parse_schema({**data, "wording": CHINESE})
    first, second = schema.features[0], schema.features[1]
    assert schema.reason_when_missing(first) == f"无记录：{first.display_name}"
    assert schema.reason_when_missing(second) == "没有这个人的征信记录"
    assert schema.readings[0].reason_when_missing == f"无记录：{first.display_name}"


def test_english_is_the_default_wording() -> None:
    schema = load_schema()
    f = next(f for f in schema.features if not f.missing_reason)
    name = f.display_name
    assert schema.reason_when_missing(f) == "No record of: " + name[0].lower() + name[1:]


def test_a_schema_without_wording_or_borrowers_keeps_the_fingerprint_it_had_before_they_existed() -> None:
    schema = load_schema()
    before = json.dumps(schema.model_dump(mode="json", exclude={"wording", "borrower_column"}), sort_keys=True)
    assert schema.fingerprint == hashlib.sha256(before.encode()).hexdigest()[:16]
    assert parse_schema({**builtin_data(), "wording": CHINESE}).fingerprint != schema.fingerprint
    assert parse_schema({**builtin_data(), "borrower_column": "customer"}).fingerprint != schema.fingerprint


def test_the_wording_survives_the_schema_file() -> None:
    schema = parse_schema({**builtin_data(), "wording": CHINESE})
    assert parse_schema(yaml.safe_load(schema.to_yaml())) == schema


def _table(names: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    columns = {"id": np.arange(400), "bad": rng.integers(0, 2, 400)}
    columns.update({name: rng.integers(0, 9, 400) * 100 for name in names})
    return pd.DataFrame(columns)


def test_infer_writes_chinese_wording_for_a_table_named_in_chinese() -> None:
    inferred = infer_schema(_table(["月收入", "近6月逾期次数", "age"]), name="借款人", target="bad", id_column="id")
    written = parse_schema(yaml.safe_load(inferred.to_yaml()))
    assert written.wording is not None
    assert written.words.missing_reason("月收入") == "无记录：月收入"
    bound = written.words.bound(True, 3000.0, True, "元")
    assert written.words.hint("月收入", bound, 12.4) == "月收入：至少3000元可挽回12分"
    assert written.words.bound(False, 0.0, True, "次") == "降为0次"


def test_infer_leaves_the_wording_english_for_a_table_named_in_english() -> None:
    inferred = infer_schema(_table(["income", "late_6m", "月收入"]), name="borrowers", target="bad", id_column="id")
    assert inferred.schema.wording is None and "wording:" not in inferred.to_yaml()
