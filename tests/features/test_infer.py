"""`infer_schema` and `check_table`: a first schema from a table, and a table checked against a schema."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from thinfile.features.infer import (
    InferError,
    check_table,
    guess_dimension,
    infer_schema,
    nice_ceil,
    protected_hint,
    recode_hint,
    schema_warnings,
)
from thinfile.features.schema import Dimension, load_schema, parse_schema
from thinfile.features.validate import validate_table

DATA = Path(__file__).resolve().parents[1] / "data"


def lender_table(rows: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.5, rows)
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:05d}" for i in range(rows)],
            "monthly_income": income.round(2),
            "bureau_delinquencies_24m": rng.poisson(0.4, rows),
            "late_payments_count": rng.integers(0, 6, rows),
            "education_code": rng.integers(1, 5, rows),
            "region": rng.choice(["north", "south", "east"], rows),
            "balance_change": rng.normal(0, 1_000, rows).round(2),
            "has_phone": rng.integers(0, 2, rows),
            "wallet_tier": pd.Series(rng.choice(["gold", "silver", None], rows), dtype=object),
            "favourite_colour_shade": rng.normal(size=rows),
            "note": [f"free text {i}" for i in range(rows)],
            "sex": rng.choice(["female", "male"], rows),
            "bad": rng.integers(0, 2, rows),
        }
    )


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return lender_table()


@pytest.fixture(scope="module")
def inferred(table):
    return infer_schema(table, name="acme", target="bad", protected=["sex"], source="acme.csv")


def test_few_distinct_integers_become_a_category_labelled_as_text(inferred, table):
    f = inferred.schema.by_name["education_code"]
    assert f.type.value == "category"
    assert f.categories == tuple(str(v) for v in sorted(table["education_code"].unique()))


def test_whole_numbers_whose_name_says_count_stay_numbers(inferred):
    assert inferred.schema.by_name["late_payments_count"].type.value == "int"


def test_range_starts_at_zero_for_non_negative_numbers_and_ends_past_the_largest_value_with_a_margin(inferred, table):
    f = inferred.schema.by_name["monthly_income"]
    seen = table["monthly_income"]
    assert f.min == 0
    assert f.max >= seen.max() + 0.5 * (seen.max() - seen.min())
    assert f.max < seen.max() + 0.6 * (seen.max() - seen.min())


def test_negative_values_widen_the_lower_bound_by_the_same_margin(inferred, table):
    f = inferred.schema.by_name["balance_change"]
    seen = table["balance_change"]
    assert f.min <= seen.min() - 0.5 * (seen.max() - seen.min()) < 0


def test_limits_are_rounded_to_two_significant_digits():
    assert [nice_ceil(x) for x in (108, 0.372, -15.3, 18_424 * 1.0)] == [110, 0.38, -15, 19_000]


def test_only_columns_with_missing_values_are_nullable(inferred):
    nullable = {f.name for f in inferred.schema.features if f.nullable}
    assert nullable == {"wallet_tier"}


def test_zero_one_numbers_become_bool(inferred):
    assert inferred.schema.by_name["has_phone"].type.value == "bool"


def test_bureau_and_delinquency_names_are_marked_traditional(inferred):
    assert inferred.schema.traditional_features == ["bureau_delinquencies_24m"]


def test_dimension_is_guessed_from_the_name_else_other(inferred):
    dims = inferred.schema.dimension_of
    assert dims["bureau_delinquencies_24m"] == "credit_history"
    assert dims["monthly_income"] == "capacity"
    assert dims["education_code"] == "identity"
    assert dims["favourite_colour_shade"] == "other"


def test_every_feature_has_monotone_zero_and_a_reason_marked_todo(inferred):
    assert {f.monotone for f in inferred.schema.features} == {0}
    assert all(f.reason.startswith("TODO") for f in inferred.schema.features)


def test_protected_attributes_are_declared_with_their_groups_and_never_inputs(inferred):
    assert inferred.schema.protected_names == ["sex"]
    assert inferred.schema.protected[0].categories == ("female", "male")
    assert "sex" not in inferred.schema.feature_names


def test_a_feature_whose_name_suggests_a_protected_attribute_is_flagged_todo():
    frame = lender_table().assign(age_in_years=np.arange(400) % 50 + 20)
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    assert any(t.startswith("age_in_years: the name suggests a protected attribute") for t in found.todo)


def test_until_edited_an_inferred_schema_warns_of_todo_reasons_and_protected_looking_inputs():
    frame = lender_table().assign(age_in_years=np.arange(400) % 50 + 20)
    schema = infer_schema(frame, name="acme", target="bad", protected=["sex"]).schema
    todo, protected = schema_warnings(schema)
    assert todo.startswith(f"{len(schema.features)} reason text(s) still say TODO")
    assert "age_in_years (age)" in protected and "monthly_income" not in protected


def test_an_edited_schema_carries_no_warnings():
    assert schema_warnings(load_schema(DATA / "german_credit.yaml")) == []


def test_free_text_and_identifiers_are_left_out_with_the_reason(inferred):
    left = {c.name: c.notes[0] for c in inferred.columns if c.role == "left_out"}
    assert set(left) == {"note"} and "free text" in left["note"]


def test_a_number_column_with_a_few_cells_that_are_not_numbers_stays_a_number_with_those_cells_named(table):
    messy = table.assign(
        monthly_income=table["monthly_income"].astype(object), balance_change=table["balance_change"].astype(object)
    )
    messy.loc[7, "monthly_income"] = "unknown"
    messy.loc[[3, 9], "balance_change"] = "11,285"
    result = infer_schema(messy, name="acme", target="bad", protected=["sex"], source="acme.csv")
    spec = {f.name: f for f in result.schema.features}
    assert spec["monthly_income"].type.value == "float" and spec["balance_change"].type.value == "float"
    assert spec["monthly_income"].max >= table["monthly_income"].drop(index=7).max()
    notes = {c.name: " ".join(c.notes) for c in result.columns}
    assert "1 cell is not a number ('unknown'" in notes["monthly_income"]
    assert "2 cells are not numbers ('11,285'" in notes["balance_change"]
    checked = validate_table(messy, result.schema)
    assert sorted(checked.errors["row"]) == [3, 7, 9]


def test_free_text_with_a_few_numbers_is_still_left_out(table):
    text = table.assign(note=[str(i) if i % 50 == 0 else f"free text {i}" for i in range(len(table))])
    result = infer_schema(text, name="acme", target="bad", protected=["sex"], source="acme.csv")
    assert "note" not in {f.name for f in result.schema.features}


def test_id_and_target_are_guessed_from_names_and_marked_to_check(table):
    found = infer_schema(table.drop(columns=["sex"]), name="acme")
    assert (found.schema.id_column, found.schema.target) == ("loan_id", "bad")
    assert {t.split(":")[0] for t in found.todo} >= {"loan_id", "bad"}


def test_a_table_without_an_id_is_refused_with_what_to_do(table):
    with pytest.raises(InferError, match="name it with --id, or add one"):
        infer_schema(table.drop(columns=["loan_id"]), name="acme", target="bad")


def test_an_id_column_with_a_blank_and_a_repeat_is_named_with_both_counts(table):
    frame = table.astype({"loan_id": object})
    frame.loc[0, "loan_id"] = None
    frame.loc[2, "loan_id"] = frame.loc[1, "loan_id"]
    with pytest.raises(InferError) as err:
        infer_schema(frame, name="acme", target="bad")
    assert "loan_id is named like one, but 1 row has no value and 2 rows share a value" in str(err.value)
    assert "name it with --id" in str(err.value)


def test_an_outcome_column_with_a_third_value_is_named_with_its_values_when_the_outcome_cannot_be_guessed(table):
    frame = table.astype({"bad": object})
    frame.loc[5, "bad"] = 2
    ones = int((frame["bad"] == 1).sum())
    with pytest.raises(InferError) as err:
        infer_schema(frame, name="acme")
    said = str(err.value)
    assert "no column looks like it" in said and "name it with --target" in said
    assert "bad is named like one, but holds " in said
    assert all(f"{v} ({n})" in said for v, n in (("'0'", f"{len(frame) - ones - 1:,} rows"), ("'1'", f"{ones:,} rows")))
    assert "'2' (1 row)" in said


def test_an_empty_column_named_like_the_outcome_is_said_to_hold_no_values(table):
    with pytest.raises(InferError) as err:
        infer_schema(table.assign(bad=""), name="acme")
    assert "bad is named like one, but holds no values (every row is empty)" in str(err.value)


def test_a_given_id_with_blanks_and_a_repeat_is_kept_with_a_todo_saying_how_many(table):
    frame = table.astype({"loan_id": object})
    frame.loc[[3, 4], "loan_id"] = None
    frame.loc[9, "loan_id"] = frame.loc[8, "loan_id"]
    found = infer_schema(frame, name="acme", target="bad", id_column="loan_id")
    assert found.schema.id_column == "loan_id"
    (note,) = [t for t in found.todo if t.startswith("loan_id:")]
    assert "2 rows have no value and 2 rows share a value with another: an id must name one row" in note


def test_rows_without_an_outcome_are_noted_with_what_check_and_training_do_and_the_booked_column(table):
    frame = table.astype({"bad": "Float64"})
    frame.loc[[5, 6], "bad"] = None
    found = infer_schema(frame, name="acme", target="bad")
    (target,) = [c for c in found.columns if c.role == "target"]
    assert any(
        n.startswith("2 rows have no outcome: training leaves them out as loans not yet repaid or defaulted")
        for n in target.notes
    )
    line = next(x for x in found.to_yaml().splitlines() if x.startswith("target:"))
    assert "schema check counts them" in line and "booked_column" in line
    assert parse_schema(yaml.safe_load(found.to_yaml()), "inferred").target == "bad"


def test_a_numeric_protected_attribute_with_many_values_asks_for_groups(table):
    with pytest.raises(InferError, match="add a column of groups"):
        infer_schema(table, name="acme", target="bad", protected=["monthly_income"])


def test_a_target_that_is_not_zero_one_gets_a_recode_note(table):
    frame = table.assign(bad=np.where(table["bad"] == 1, "bad", "good"))
    found = infer_schema(frame, name="acme", target="bad")
    assert any(t.startswith("bad: thinfile reads the outcome as 1 = defaulted") for t in found.todo)


def test_an_outcome_written_y_and_n_gets_a_recode_example_in_its_own_values(table):
    frame = table.assign(bad=np.where(np.arange(len(table)) % 4 == 0, "Y", "N"))  # a quarter defaulted
    found = infer_schema(frame, name="acme", target="bad")
    (note,) = [t for t in found.todo if t.startswith("bad: ")]
    assert "recode this column as 'Y' -> 1 and 'N' -> 0 if 'Y' means defaulted, else the other way round" in note


@pytest.mark.parametrize(
    ("counts", "target", "hint"),
    [
        ({"good": 700, "bad": 300}, "default", "as 'bad' -> 1 and 'good' -> 0"),
        ({"Good": 300, "Bad": 700}, "default", "as 'Bad' -> 1 and 'Good' -> 0"),
        ({"Y": 700, "N": 300}, "default", "as 'Y' -> 1 and 'N' -> 0 if 'Y' means defaulted, else the other way round"),
        ({"Y": 700, "N": 300}, "repaid", "as 'N' -> 1 and 'Y' -> 0 if 'N' means defaulted, else the other way round"),
        ({"1": 700, "2": 300}, "default", "as '2' -> 1 and '1' -> 0 if '2' means defaulted, else the other way round"),
        ({"Y": 300, "N": 700}, "unpaid", "as 'Y' -> 1 and 'N' -> 0 if 'Y' means defaulted, else the other way round"),
        (
            {"good": 6, "bad": 3, "unknown": 1},
            "default",
            "to 1 (defaulted) and 0 (repaid), leaving a loan with no outcome yet empty",
        ),
        ({"a": 5, None: 2}, "default", "to 1 (defaulted) and 0 (repaid), leaving a loan with no outcome yet empty"),
    ],
    ids=[
        "good and bad",
        "Good and Bad, bad the commoner",
        "Y/N of a default",
        "Y/N of a repayment",
        "1 and 2",
        "Y/N of a non-payment",
        "three values",
        "one value",
    ],
)
def test_the_recoding_of_an_outcome_follows_its_words_then_its_name_then_the_rarer_value(counts, target, hint):
    assert recode_hint(counts, target) == hint


def test_the_commented_yaml_parses_back_to_the_same_schema(inferred):
    text = inferred.to_yaml()
    assert text.lstrip().startswith("#") and "TODO" in text
    assert parse_schema(yaml.safe_load(text)) == inferred.schema


@pytest.mark.parametrize(
    ("csv", "target", "protected"),
    [("german_credit.csv", "default", ["sex", "age_band"]), ("uci_credit_card.csv", "default", ["MARRIAGE"])],
)
def test_round_trip_infer_load_validate_on_a_real_table_rejects_nothing(tmp_path, csv, target, protected):
    frame = pd.read_csv(DATA / csv)
    path = tmp_path / "schema.yaml"
    path.write_text(infer_schema(frame, name="real", target=target, protected=protected).to_yaml())
    report = validate_table(frame, load_schema(path), require_target=True)
    assert report.table_errors == [] and report.errors.empty


def test_an_integer_coded_protected_attribute_gets_a_todo_to_name_its_groups_and_a_named_one_does_not():
    uci = infer_schema(pd.read_csv(DATA / "uci_credit_card.csv"), name="u", target="default", protected=["MARRIAGE"])
    german = infer_schema(pd.read_csv(DATA / "german_credit.csv"), name="g", target="default", protected=["sex"])
    todo = "TODO integer codes: name the groups for the fairness reports, labels: {'0': ..., '1': ..., "
    assert todo in uci.to_yaml()
    assert "labels:" not in german.to_yaml()


def test_round_trip_keeps_integer_codes_with_missing_values():
    frame = pd.DataFrame({"id": range(90), "tier": [1.0, 2.0, np.nan] * 30, "bad": [0, 1, 1] * 30})
    schema = infer_schema(frame, name="t", target="bad").schema
    assert validate_table(frame, schema).errors.empty


def test_check_passes_a_table_that_matches(inferred, table):
    assert check_table(table, inferred.schema, target_reader=_outcome).ok


def test_check_lists_undeclared_category_values_with_their_counts(inferred, table):
    frame = table.assign(region=table["region"].replace({"east": "west"}))
    result = check_table(frame, inferred.schema, target_reader=_outcome)
    gap = next(g for g in result.gaps if g.column == "region")
    assert gap.undeclared == {"west": int((table["region"] == "east").sum())} and gap.unseen == ("east",)
    assert not result.ok


def test_check_lists_undeclared_values_of_a_protected_attribute(inferred, table):
    frame = table.assign(sex=table["sex"].where(table.index % 10 != 0, "unknown"))
    result = check_table(frame, inferred.schema, target_reader=_outcome)
    expected = "protected attribute sex: values the schema does not declare: 'unknown'"
    assert any(p.startswith(expected) for p in result.problems)


def test_check_cuts_a_long_undeclared_value_in_its_message(inferred, table):
    frame = table.assign(sex=table["sex"].where(table.index % 10 != 0, "x" * 10_000))
    result = check_table(frame, inferred.schema, target_reader=_outcome)
    line = next(p for p in result.problems if p.startswith("protected attribute sex:"))
    assert "'" + "x" * 36 + "..." in line and len(line) < 200


def test_check_refuses_a_target_that_is_not_zero_one(inferred, table):
    frame = table.assign(bad=table["bad"].replace({1: 2}))
    result = check_table(frame, inferred.schema, target_reader=_outcome)
    assert any(p.startswith("target bad:") and "'2'" in p for p in result.problems)


def test_check_of_a_table_to_score_needs_neither_target_nor_protected(inferred, table):
    assert check_table(table.drop(columns=["bad", "sex"]), inferred.schema, for_training=False).ok


def test_check_counts_rows_out_of_range(inferred, table):
    f = inferred.schema.by_name["monthly_income"]
    frame = table.assign(monthly_income=np.where(table.index < 7, f.max * 2, table["monthly_income"]))
    result = check_table(frame, inferred.schema, target_reader=_outcome)
    assert "7 of 400 rows (1.8%) break the schema" in result.problems


def _outcome(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    values = pd.to_numeric(raw, errors="coerce")
    return values, ~values.isin([0, 1]).to_numpy()


def test_infinite_values_leave_the_range_finite_and_their_rows_are_rejected_by_the_check(table):
    frame = table.assign(monthly_income=np.where(table.index < 3, np.inf, table["monthly_income"]))
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    f = found.schema.by_name["monthly_income"]
    assert f.max >= table["monthly_income"].iloc[3:].max() and np.isfinite(f.max)
    assert "infinite values in 3 rows" in " ".join(c for col in found.columns for c in col.notes)
    assert "3 of 400 rows (0.8%) break the schema" in check_table(frame, found.schema, target_reader=_outcome).problems


@pytest.mark.parametrize("distinct", [4, 400])
def test_whole_numbers_too_long_for_a_float_matrix_are_left_out_as_codes(table, distinct):
    frame = table.assign(account_number=[10**18 + 7919 * (i % distinct) for i in range(len(table))])
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    left = {c.name: c.notes[0] for c in found.columns if c.role == "left_out"}
    assert "account_number" in left and "2^53" in left["account_number"]


def test_columns_named_as_the_service_model_cannot_hold_are_left_out_asking_for_a_rename(table):
    frame = table.assign(json=table["monthly_income"], _flag=table["has_phone"], _gender=table["sex"])
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    left = {c.name: c.notes[0] for c in found.columns if c.role == "left_out"}
    assert "rename the column" in left["json"] and "rename the column" in left["_flag"]
    assert "rename it and name it with --protected" in left["_gender"]
    assert {"json: ", "_flag: "} <= {todo[: todo.index(" ") + 1] for todo in found.todo}
    assert "monthly_income" in found.schema.feature_names


def test_a_protected_attribute_named_as_the_service_model_cannot_hold_is_refused_asking_for_a_rename(table):
    with pytest.raises(InferError, match="protected attribute '_sex' starts with '_'.*rename the column"):
        infer_schema(table.rename(columns={"sex": "_sex"}), name="acme", target="bad", protected=["_sex"])


def test_a_text_column_holding_a_value_of_a_megabyte_is_left_out_and_the_schema_stays_small(table):
    huge = "x" * 1_000_000
    frame = table.assign(region=table["region"].where(table.index != 7, huge))
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    left = {c.name: c.notes[0] for c in found.columns if c.role == "left_out"}
    assert "region" not in found.schema.feature_names and "1,000,000 characters" in left["region"]
    assert len(found.to_yaml()) < len(infer_schema(table, name="acme", target="bad", protected=["sex"]).to_yaml()) + 500


def test_an_infinite_value_in_an_integer_code_is_not_declared_and_the_check_rejects_its_row(table):
    frame = table.assign(education_code=np.where(table.index == 5, np.inf, table["education_code"]))
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    assert found.schema.by_name["education_code"].levels == ("1", "2", "3", "4")
    result = check_table(frame, found.schema, target_reader=_outcome)
    assert "1 of 400 rows (0.2%) breaks the schema" in result.problems


@pytest.mark.parametrize("column", ["balance_change", "monthly_income", "late_payments_count", "education_code"])
@pytest.mark.parametrize("placeholder", [np.finfo(np.float64).max, -np.finfo(np.float64).max, 1e300])
def test_a_placeholder_for_no_value_stays_out_of_the_range_gets_a_note_and_its_rows_are_rejected(
    table, column, placeholder
):
    frame = table.assign(**{column: np.where(table.index < 2, placeholder, table[column])})
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    clean = found.schema.by_name[column]
    expected = infer_schema(table, name="acme", target="bad", protected=["sex"]).schema.by_name[column]
    assert (clean.type, clean.levels) == (expected.type, expected.levels)
    assert abs(clean.max or 0) < 1e12 and abs(clean.min or 0) < 1e12
    notes = next(c.notes for c in found.columns if c.name == column)
    assert any("stand-in for 'no value'" in n and "2 rows" in n for n in notes)
    assert "2 of 400 rows (0.5%) break the schema" in check_table(frame, found.schema, target_reader=_outcome).problems


@pytest.mark.parametrize("other", [np.inf, -np.inf, np.finfo(np.float64).max])
def test_one_value_beside_infinities_or_placeholders_carries_nothing(table, other):
    frame = table.assign(flat=np.where(table.index == 0, other, 5.0))
    found = infer_schema(frame, name="acme", target="bad", protected=["sex"])
    left = {c.name: c.notes[0] for c in found.columns if c.role == "left_out"}
    assert "flat" in left and "one other value ('5')" in left["flat"]


def test_numbers_never_positive_get_zero_as_the_upper_bound(table):
    frame = table.assign(balance_change=-table["balance_change"].abs() - 1)
    f = infer_schema(frame, name="acme", target="bad", protected=["sex"]).schema.by_name["balance_change"]
    assert f.max == 0 and f.min <= frame["balance_change"].min()


def _history(inferred, table) -> tuple[pd.DataFrame, object]:
    data = yaml.safe_load(inferred.schema.to_yaml()) | {"booked_column": "was_booked"}
    booked = (table.index % 3 != 0).astype(int)
    frame = table.assign(was_booked=booked, bad=table["bad"].where(booked == 1))
    return frame, parse_schema(data, "history.yaml")


def test_check_of_a_history_reads_the_target_on_booked_rows_only(inferred, table):
    frame, schema = _history(inferred, table)
    result = check_table(frame, schema, target_reader=_outcome)
    booked = frame[frame["was_booked"] == 1]
    assert result.ok
    assert f"{int(booked['bad'].sum()):,} of {len(booked):,} rows defaulted" in " ".join(result.notes)


def test_check_of_a_history_names_rows_marked_neither_booked_nor_rejected(inferred, table):
    frame, schema = _history(inferred, table)
    frame["was_booked"] = frame["was_booked"].where(frame.index != 5, 7)
    result = check_table(frame, schema, target_reader=_outcome)
    assert "booked column was_booked: 1 row is not 1 (booked) or 0 (rejected): '7' (1 row)" in result.problems


def test_check_of_a_history_without_its_booked_column_says_what_to_do_and_leaves_the_target_unchecked(inferred, table):
    frame, schema = _history(inferred, table)
    result = check_table(frame.drop(columns=["was_booked"]), schema, target_reader=_outcome)
    assert [p for p in result.problems if "was_booked" in p] == [
        "table: no booked column 'was_booked', which the schema names (1 = booked, 0 = rejected; training reads "
        "outcomes of booked rows only): add it, or remove booked_column from the schema"
    ]
    assert not any(p.startswith("target") for p in result.problems)
    assert any("rejected applicants cannot be told apart" in n for n in result.not_checked)


def test_check_of_a_history_to_score_reads_neither_booked_flags_nor_outcomes(inferred, table):
    frame, schema = _history(inferred, table)
    frame["was_booked"] = frame["was_booked"].where(frame.index != 5, 7)
    frame["bad"] = frame["bad"].where(frame.index != 4, 5)
    result = check_table(frame.drop(columns=["sex"]), schema, for_training=False, target_reader=_outcome)
    assert result.ok and not result.not_checked


@pytest.mark.parametrize(
    ("name", "dimension"),
    [
        ("近6月逾期次数", Dimension.credit_history),
        ("月收入", Dimension.capacity),
        ("网购消费金额", Dimension.behaviour),  # 金额, an amount of anything, says no dimension
        ("存款金额", Dimension.capacity),
        ("贷款金额", Dimension.credit_history),
        ("水电缴费", Dimension.behaviour),
        ("紧急联系人数", Dimension.connections),
        ("学历", Dimension.identity),
        ("星座", None),
    ],
)
def test_chinese_words_anywhere_in_a_name_guess_its_dimension(name, dimension):
    assert guess_dimension(name) is dimension


def test_chinese_names_of_protected_characteristics_are_recognised():
    assert [protected_hint(n) for n in ("性别", "户籍所在地", "月收入")] == ["性别", "户籍", None]


def test_a_code_seen_in_one_row_is_declared_with_a_todo_to_check_it(table):
    coded = table.assign(education_code=table["education_code"].where(table.index != 11, 9))
    result = infer_schema(coded, name="acme", target="bad", protected=["sex"], source="acme.csv")
    notes = {c.name: " ".join(c.notes) for c in result.columns}
    assert "TODO: rare values '9' (1 row): check they are real codes and not typos" in notes["education_code"]
    assert "rare values" not in notes["region"]


def test_an_empty_or_white_space_id_counts_as_no_value_as_the_check_reads_it(table):
    frame = table.astype({"loan_id": object})
    frame.loc[[3, 4], "loan_id"] = ["", "   "]
    found = infer_schema(frame, name="acme", target="bad", id_column="loan_id")
    (note,) = [t for t in found.todo if t.startswith("loan_id:")]
    assert "2 rows have no value" in note and "share a value" not in note
    assert sorted(validate_table(frame, found.schema).errors["row"]) == [3, 4]


def test_a_semicolon_separated_table_is_refused_naming_its_delimiter(table, tmp_path: Path):
    table.to_csv(tmp_path / "book.csv", sep=";", index=False)
    frame = pd.read_csv(tmp_path / "book.csv")  # as a comma reader sees it: one column
    with pytest.raises(InferError, match="the file looks separated by semicolons, and thinfile reads comma-separated"):
        infer_schema(frame, name="acme", target="bad")
    report = validate_table(frame, load_schema())
    assert any("looks separated by semicolons" in e for e in report.table_errors), report.table_errors


def test_numbers_written_as_text_0_and_1_with_stray_spaces_are_a_yes_no_input(table):
    frame = table.assign(flag=pd.Series(np.where(np.arange(len(table)) % 3 == 0, " 1", "0"), dtype=object))
    frame.loc[1, "flag"] = "1"
    found = infer_schema(frame, name="acme", target="bad")
    assert found.schema.by_name["flag"].type.value == "bool"


def test_a_column_named_like_the_true_default_probability_is_left_out_with_a_todo(table):
    rng = np.random.default_rng(5)
    with_oracle = table.assign(true_pd=rng.uniform(0.01, 0.4, len(table)), pd_bucket=rng.integers(1, 4, len(table)))
    inferred = infer_schema(with_oracle, name="acme", target="bad", protected=["sex"], source="acme.csv")
    assert "true_pd" not in inferred.schema.feature_names
    assert "true_pd: named like the true default probability, which only a simulation knows" in inferred.to_yaml()
    assert "pd_bucket" in inferred.schema.feature_names  # named otherwise: an input like any other


def test_check_table_warns_of_rows_with_no_protected_value_counted_as_pandas_counts_them(table, inferred):
    frame = table.assign(sex=table["sex"].where(table.index % 9 != 0))
    missing = int(frame["sex"].isna().sum())
    warned = check_table(frame, inferred.schema).warnings
    assert any(w.startswith(f"sex: {missing:,} of {len(frame):,} rows have no value") for w in warned), warned
    assert not any("have no value" in w for w in check_table(table, inferred.schema).warnings)


def test_a_date_column_written_partly_otherwise_than_iso_is_left_out_asking_to_rewrite_it(table):
    days = pd.date_range("2023-01-01", periods=len(table), freq="D")
    written = pd.Series(days.strftime("%Y-%m-%d"), index=table.index)
    written.iloc[::4] = days[::4].strftime("%d/%m/%Y")  # a quarter as dd/mm/yyyy
    found = infer_schema(table.assign(apply_date=written), name="acme", target="bad", protected=["sex"])
    left = {c.name: c.notes[0] for c in found.columns if c.role == "left_out"}
    unread = int(pd.to_datetime(written, errors="coerce", format="ISO8601").isna().sum())  # pandas' own reading
    assert found.schema.date_column is None
    assert f"{unread:,} of {len(table):,} are not ISO 8601 ({written.iloc[0]!r})" in left["apply_date"]
    assert any(t.startswith("apply_date: dates, but") for t in found.todo)
