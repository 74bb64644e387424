from pathlib import Path

import pytest
import yaml

from thinfile.features.schema import DIMENSIONS, SchemaError, load_schema, parse_schema


def builtin_data() -> dict:
    return yaml.safe_load(load_schema().to_yaml())


def test_builtin_schema_has_35_to_60_features_in_all_five_zhima_dimensions(schema):
    assert 35 <= len(schema.features) <= 60
    assert {f.dimension.value for f in schema.features} == set(DIMENSIONS) - {"other"}


def test_protected_attributes_id_target_and_oracle_are_never_features(schema):
    specials = {schema.id_column, schema.target, schema.oracle_column, *schema.protected_names}
    assert specials.isdisjoint(schema.feature_names)
    assert set(schema.protected_names) == {"residence", "gender", "age_band"}


def test_schema_round_trips_through_yaml(schema):
    assert parse_schema(yaml.safe_load(schema.to_yaml())) == schema


def test_traditional_features_are_the_bureau_record(schema):
    assert schema.traditional_features and all(n.startswith("bureau_") for n in schema.traditional_features)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["features"].append(dict(d["features"][0])), "feature names repeated: bureau_accounts_open"),
        (lambda d: d["features"][0].update(dimension="luck"), "features.0.dimension"),
        (lambda d: d["features"][0].update(monotone=2), "features.0.monotone"),
        (lambda d: d["features"][0].update(min=10, max=1), "min 10.0 is above max 1.0"),
        (lambda d: d["features"][0].pop("max"), "needs min and max"),
        (lambda d: d["features"][0].update(name="residence"), "residence cannot be a feature"),
        (lambda d: d["features"][0].update(colour="red"), "features.0.colour: Extra inputs are not permitted"),
        (lambda d: d.pop("target"), "target: Field required"),
        (
            lambda d: next(f for f in d["features"] if f["type"] == "category").update(monotone=1),
            "a category feature must have monotone 0",
        ),
        (lambda d: d["features"][0].update(max=float("inf")), "max inf is not a finite number"),
        (lambda d: d["features"][3].update(min=float("nan")), "min nan is not a finite number"),
        (lambda d: d["features"][0].update(min=0.5), "min 0.5 is not a whole number"),
        (lambda d: d["features"][0].update(max=1e19), "max 1e+19 is beyond ±2^53"),
        (lambda d: d["features"][0].update(max=2**53 + 1), "max 9007199254740993 is beyond ±2^53"),
        (
            lambda d: next(f for f in d["features"] if f["type"] == "bool").update(min=5, max=10),
            "a bool feature's values are 0 and 1: leave out min and max",
        ),
        (
            lambda d: d["protected"][0].update(labels={"martian": "from Mars"}),
            "labels of 'residence' name code(s) it does not declare: martian",
        ),
        (
            lambda d: d["protected"][0].update(labels={"rural": "urban"}),
            "labels of 'residence' give two groups the same name: urban",
        ),
        (lambda d: d["protected"][0].update(labels={"rural": None}), "the label of code 'rural' must be a name"),
        (lambda d: d["protected"][0].update(labels={"rural": "(missing)"}), "(missing) names the rows with no value"),
        (lambda d: d["protected"][0].update(labels=["rural", "countryside"]), "labels is a mapping of code to group"),
    ],
)
def test_bad_schema_is_refused_with_a_message_naming_the_problem(mutate, message):
    data = builtin_data()
    mutate(data)
    with pytest.raises(SchemaError, match="is not valid") as err:
        parse_schema(data, "lender.yaml")
    assert message in str(err.value)


def test_schema_file_that_is_not_yaml_is_refused(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("features: [unclosed")
    with pytest.raises(SchemaError, match="is not valid YAML"):
        load_schema(bad)


def test_missing_schema_file_is_refused(tmp_path: Path):
    with pytest.raises(SchemaError, match="does not exist"):
        load_schema(tmp_path / "nope.yaml")


@pytest.mark.parametrize("name", ["月收入", "贷款期限_月", "Einkommen_ä", "x_1_"])
def test_a_feature_may_be_named_in_any_script(name):
    data = builtin_data()
    data["features"][0]["name"] = name
    assert parse_schema(data).features[0].name == name


@pytest.mark.parametrize("name", ["1月收入", "月-收入", "月 收入", "a.b", ""])
def test_a_feature_name_must_be_letters_digits_and_underscores_not_starting_with_a_digit(name):
    data = builtin_data()
    data["features"][0]["name"] = name
    with pytest.raises(SchemaError, match="features.0.name"):
        parse_schema(data, "lender.yaml")


def test_labelled_protected_groups_round_trip_through_yaml_and_name_the_groups():
    data = builtin_data()
    data["protected"][0].update(categories=["1", "2"], labels={"1": "rural", "2": "urban"})
    schema = parse_schema(data)
    assert schema.protected_groups["residence"] == ["rural", "urban"]
    assert yaml.safe_load(schema.to_yaml())["protected"][0]["labels"] == {"1": "rural", "2": "urban"}
    assert parse_schema(yaml.safe_load(schema.to_yaml())) == schema


def test_a_schema_without_labels_writes_no_labels_key():
    assert all("labels" not in p for p in builtin_data()["protected"])


def test_a_code_labelled_twice_as_number_and_text_is_refused():
    data = builtin_data()
    data["protected"][0].update(categories=["1", "2"], labels={1: "rural", "1": "village"})
    with pytest.raises(SchemaError, match=r"code\(s\) labelled more than once: 1"):
        parse_schema(data, "lender.yaml")
