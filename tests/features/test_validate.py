import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from thinfile.features.schema import Schema
from thinfile.features.validate import validate_arrow, validate_table
from thinfile.features.validate_reference import reference_validate_table


@pytest.fixture
def sample(population):
    return population.head(200).copy()


def test_generated_population_is_valid_against_its_schema(population, schema):
    report = validate_table(population, schema, require_target=True)
    assert report.ok, report.errors.head()


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("bureau_utilisation", 9.0, "is outside the valid range 0 to 1.5"),
        ("bill_days_to_pay", np.inf, "is outside the valid range 0 to 90"),
        ("occupation_sector", "astronaut", "is not one of: agriculture"),
        ("phone_tenure_months", None, "is missing but required"),
        ("bureau_delinquencies_24m", "abc", "is not a number"),
        ("phone_tenure_months", "abc", "is not a number"),  # required: unreadable, not also missing
        ("microloan_count_24m", 2.5, "must be a whole number"),
        ("salary_inflow", "maybe", "is not true or false"),
    ],
)
def test_validator_names_row_column_and_reason_of_each_kind_of_bad_value(sample, schema, column, value, reason):
    bad = sample.astype({column: object})
    bad.loc[7, column] = value
    report = validate_table(bad, schema)
    assert len(report.errors) == 1
    error = report.errors.iloc[0]
    assert (error["row"], error["id"], error["column"]) == (7, sample.loc[7, schema.id_column], column)
    assert reason in error["reason"]
    assert report.valid_mask.sum() == len(sample) - 1 and not report.valid_mask[7]


def test_rejects_gather_every_reason_of_a_row(sample, schema):
    bad = sample.astype({"occupation_sector": object})
    bad.loc[3, "bureau_utilisation"] = -1.0
    bad.loc[3, "occupation_sector"] = "pirate"
    rejects = validate_table(bad, schema).rejects()
    assert rejects["row"].tolist() == [3]
    assert rejects.loc[0, "columns"] == "bureau_utilisation,occupation_sector"


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("bureau_utilisation", 9.0, "bureau_utilisation: 9 is outside the valid range 0 to 1.5"),
        ("bureau_utilisation", 1.75, "bureau_utilisation: 1.75 is outside the valid range 0 to 1.5"),
        ("bill_days_to_pay", 1e9, "bill_days_to_pay: 1000000000 is outside the valid range 0 to 90 days"),
        ("occupation_sector", "astronaut", "occupation_sector: 'astronaut' is not one of: agriculture"),
        ("bureau_delinquencies_24m", "about 5", "bureau_delinquencies_24m: 'about 5' is not a number"),
        ("phone_tenure_months", None, "phone_tenure_months: is missing but required"),
        ("occupation_sector", "x" * 10_000, "occupation_sector: '" + "x" * 36 + "... is not one of"),
        ("bureau_utilisation", 1.5000001, "bureau_utilisation: 1.5000001 is outside the valid range 0 to 1.5"),
        ("microloan_count_24m", 2.5, "microloan_count_24m: 2.5 must be a whole number"),
        ("bureau_delinquencies_24m", "1_000", "bureau_delinquencies_24m: '1_000' is not a number"),
        ("occupation_sector", " farm", "occupation_sector: ' farm' is not one of"),
    ],
)
def test_a_reject_reason_shows_the_value_text_quoted_and_cut(sample, schema, column, value, said):
    bad = sample.astype({column: object})
    bad.loc[4, column] = value
    reason = validate_table(bad, schema).rejects().loc[0, "reason"]
    assert reason.startswith(said)
    assert len(reason) < 400


def test_missing_required_column_is_a_table_error(sample, schema):
    report = validate_table(sample.drop(columns=["phone_tenure_months"]), schema)
    assert report.table_errors == ["missing required column(s): phone_tenure_months"]
    assert not report.ok


def test_missing_columns_the_table_has_in_another_case_are_named_with_what_to_do(sample, schema):
    renamed = sample.rename(columns={"phone_tenure_months": "PHONE_TENURE_MONTHS", "applicant_id": " Applicant_ID"})
    (said,) = validate_table(renamed, schema).table_errors
    assert said.startswith("missing required column(s): applicant_id, phone_tenure_months; the table has 2 of them")
    assert "(' Applicant_ID' for applicant_id, 'PHONE_TENURE_MONTHS' for phone_tenure_months)" in said
    assert "column names are matched exactly" in said


def test_unknown_columns_are_reported(sample, schema):
    report = validate_table(sample.assign(favourite_colour="red"), schema)
    assert report.unknown_columns == ["favourite_colour"]


def test_a_blank_or_white_space_id_is_a_missing_id_in_every_validator(sample, schema):
    table = sample.head(20).copy()
    table[schema.id_column] = [f"A{i}" for i in range(20)]
    table.loc[[2, 5, 9], schema.id_column] = ["", "   ", "\t"]
    expected = [2, 5, 9]
    for report in (
        validate_table(table, schema),
        reference_validate_table(table, schema),
        validate_arrow(pa.Table.from_pandas(table, preserve_index=False), schema),
    ):
        bad = report.errors[report.errors["column"] == schema.id_column]
        assert sorted(bad["row"]) == expected and set(bad["reason"]) == {"is missing but required"}


def test_a_reject_whose_id_is_missing_shows_no_id_whatever_else_is_wrong_in_every_validator(sample, schema):
    table = sample.head(20).astype({schema.id_column: object, "account_tenure_months": object})
    table.loc[4, schema.id_column] = None
    table.loc[4, "account_tenure_months"] = None  # its error sorts before the id's (errors are named in name order)
    for report in (
        validate_table(table, schema),
        reference_validate_table(table, schema),
        validate_arrow(pa.Table.from_pandas(table, preserve_index=False), schema),
    ):
        (reject,) = report.rejects().itertuples()
        assert (reject.row, reject.id) == (4, "") and reject.columns.startswith("account_tenure_months,")


def test_a_whole_number_id_column_with_a_gap_shows_ids_as_written(sample, schema):
    bad = sample.assign(**{schema.id_column: np.arange(1, len(sample) + 1, dtype=float)})
    bad.loc[3, schema.id_column] = np.nan
    bad.loc[5, "bureau_utilisation"] = 9.0
    report = validate_table(bad, schema)
    assert report.rejects()["id"].tolist() == ["", "6"]
    assert report.clean[schema.id_column].iloc[10] == "11"


def test_validate_table_reads_bytes_ids_as_text_with_a_byte_that_is_not_utf8_escaped(
    sample: pd.DataFrame, schema: Schema
) -> None:
    held = [str(i).encode() for i in sample[schema.id_column]]
    held[4] = b"\xff\xfe"
    report = validate_table(sample.assign(**{schema.id_column: held}), schema)
    assert report.ok
    assert report.clean[schema.id_column].tolist() == [b.decode("utf-8", "backslashreplace") for b in held]
    assert report.clean[schema.id_column][4] == "\\xff\\xfe"
