"""What `schema infer` and `schema check` say about a real lender's table: protected groups, repeated ids,
values read as missing, range bounds, target values, plurals and exit codes."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.infer import check_table, error_summary, infer_schema, repeated_ids
from thinfile.features.schema import Schema, load_schema, parse_schema
from thinfile.features.validate import validate_table

DATA = Path(__file__).resolve().parents[1] / "data"
runner = CliRunner()


def _feature(name: str, **kw: object) -> dict[str, object]:
    return {"name": name, "type": "float", "min": 0, "max": 1, "dimension": "capacity", "reason": "Low", **kw}


def tiny_schema(*features: dict[str, object]) -> Schema:
    return parse_schema(
        {
            "name": "tiny",
            "version": 1,
            "id_column": "id",
            "target": "bad",
            "protected": [],
            "features": list(features) or [_feature("x")],
        },
        "tiny.yaml",
    )


def _outcome(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    values = pd.to_numeric(raw, errors="coerce")
    return values, ~values.isin([0, 1]).to_numpy()


@pytest.fixture(scope="module")
def book() -> pd.DataFrame:
    """The UCI table with SEX and age_band added, so table order (SEX, ..., MARRIAGE, ..., age_band) is not the
    --protected order below."""
    frame = pd.read_csv(DATA / "uci_credit_card.csv")
    rng = np.random.default_rng(11)
    frame.insert(1, "SEX", rng.choice([1, 2], len(frame), p=[0.4, 0.6]))
    frame["age_band"] = rng.choice(["18-29", "30-44", "45-59", "60+"], len(frame), p=[0.3, 0.4, 0.2, 0.1])
    return frame


def _comment_counts(yaml_text: str, name: str) -> dict[str, int]:
    line = next(x for x in yaml_text.splitlines() if x.startswith(f"  - name: {name}  #"))
    groups = re.search(r"groups: (.*?);", line)
    assert groups is not None, line
    return {k: int(v.replace(",", "")) for k, v in re.findall(r"(\S+) \(([\d,]+)\)", groups.group(1))}


@pytest.mark.parametrize("name", ["age_band", "SEX", "MARRIAGE"])
def test_each_protected_comment_counts_its_own_groups_whatever_the_protected_order(book, name):
    text = infer_schema(
        book, name="book", target="default", id_column="id", protected=["age_band", "SEX", "MARRIAGE"]
    ).to_yaml()
    expected = {str(k): int(v) for k, v in book[name].value_counts().items()}
    assert _comment_counts(text, name) == expected


def test_repeated_ids_are_counted_as_pandas_counts_them():
    rng = np.random.default_rng(5)
    ids = pd.Series(rng.integers(0, 5_000, 20_000))
    counts = ids.value_counts()
    found = repeated_ids(ids)
    assert (found.ids, found.rows) == (int((counts > 1).sum()), int(counts[counts > 1].sum()))
    first = ids[ids.map(counts) > 1].drop_duplicates().head(5)
    assert found.first == tuple(str(v) for v in first)


def test_repeated_ids_ignore_missing_ids_and_show_whole_float_ids_without_a_fraction():
    found = repeated_ids(pd.Series([1.0, 2.0, np.nan, 2.0, np.nan, 3.0]))
    assert (found.ids, found.rows, found.first) == (1, 2, ("2",))


def test_check_fails_a_table_with_an_id_held_by_two_rows():
    frame = pd.DataFrame({"id": ["a", "b", "c", "b"], "x": [0.1, 0.2, 0.3, 0.4], "bad": [0, 1, 0, 1]})
    result = check_table(frame, tiny_schema(), target_reader=_outcome)
    assert not result.ok
    assert result.problems[0].startswith("id id: 1 id is held by more than one row (2 rows): 'b'; ")
    assert result.headline(tiny_schema()).startswith("FAIL: 4 rows")


def test_check_names_at_most_five_repeated_ids_however_many_repeat():
    ids = [f"L{i % 50}" for i in range(100)]
    frame = pd.DataFrame({"id": ids, "x": 0.5, "bad": 0})
    problem = check_table(frame, tiny_schema(), target_reader=_outcome).problems[0]
    assert "50 ids are held by more than one row (100 rows): 'L0', 'L1', 'L2', 'L3', 'L4' ...;" in problem


def test_repeated_ids_reject_no_row():
    frame = pd.DataFrame({"id": [7, 7], "x": [0.1, 0.2], "bad": [0, 1]})
    assert check_table(frame, tiny_schema(), target_reader=_outcome).report.errors.empty


def test_schema_check_command_fails_with_exit_1_on_a_repeated_id(tmp_path):
    table, schema = tmp_path / "book.csv", tmp_path / "tiny.yaml"
    pd.DataFrame({"id": [1, 2, 2], "x": [0.1, 0.2, 0.3], "bad": [0, 1, 0]}).to_csv(table, index=False)
    schema.write_text(yaml.safe_dump(tiny_schema().model_dump(mode="json")))
    result = runner.invoke(app, ["schema", "check", str(table), "--schema", str(schema)])
    assert result.exit_code == 1, result.output
    assert "1 id is held by more than one row (2 rows): '2'" in result.output and "PASS" not in result.output


def test_range_message_writes_large_bounds_out_in_full():
    schema = tiny_schema(_feature("limit", type="int", min=0, max=1_200_000, unit="NT$"))
    frame = pd.DataFrame({"id": ["a"], "limit": [5_000_000]})
    assert validate_table(frame, schema).errors["reason"].tolist() == ["is outside the valid range 0 to 1200000 NT$"]


def test_range_message_writes_small_float_bounds_without_an_exponent():
    schema = tiny_schema(_feature("share", min=0.000015, max=0.25))
    frame = pd.DataFrame({"id": ["a"], "share": [0.5]})
    assert validate_table(frame, schema).errors["reason"].tolist() == ["is outside the valid range 0.000015 to 0.25"]


def _check_csv(tmp_path: Path, text: str) -> str:
    table, schema = tmp_path / "book.csv", tmp_path / "tiny.yaml"
    table.write_text(text)
    schema.write_text(yaml.safe_dump(tiny_schema(_feature("x", nullable=False, max=10)).model_dump(mode="json")))
    result = runner.invoke(app, ["schema", "check", str(table), "--schema", str(schema)], terminal_width=400)
    assert result.exit_code == 1, result.output
    return result.output


def test_check_shows_a_required_cell_holding_n_a_as_written(tmp_path):
    output = _check_csv(tmp_path, "id,x,bad\n1,3,0\n2,n/a,1\n3,4,0\n")
    assert "row 1 (id 2): 'n/a', read as missing" in output


def test_check_notes_which_texts_the_csv_reader_reads_as_missing(tmp_path):
    output = " ".join(_check_csv(tmp_path, "id,x,bad\n1,3,0\n2,NULL,1\n3,4,0\n").split())
    assert "x: 'NULL' (1 row) read as missing: the CSV reader reads an empty cell and the texts" in output
    assert all(t in output for t in (" NA,", " N/A,", " n/a,", " null ", " NaN,"))


def test_check_shows_an_empty_required_cell_as_empty(tmp_path):
    output = _check_csv(tmp_path, "id,x,bad\n1,3,0\n2,,1\n3,4,0\n")
    assert "row 1 (id 2): (empty)" in output and "read as missing:" not in output


def test_a_missing_value_not_read_from_csv_is_shown_as_missing():
    schema = tiny_schema(_feature("x", nullable=False))
    report = validate_table(pd.DataFrame({"id": ["a", "b"], "x": [0.5, np.nan]}), schema)
    assert error_summary(report)["examples"].tolist() == ["row 1 (id b): (missing)"]


def test_a_target_of_2_in_a_column_with_gaps_is_shown_as_2():
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "x": 0.5, "bad": [0.0, 2.0, np.nan, 1.0]})
    result = check_table(frame, tiny_schema(), target_reader=_outcome)
    assert result.problems == [
        "1 of 4 rows (25.0%) breaks the schema",
        "target bad: 1 row is not 0 (repaid) or 1 (defaulted): '2' (1 row)",
    ]
    assert result.report.rejects()["reason"].tolist() == ["bad: '2' is not an outcome (0 = repaid, 1 = defaulted)"]
    assert "target bad: 1 row has no outcome yet (25.0%): training leaves it out" in result.notes


def test_a_one_row_table_is_one_row_in_the_headline():
    frame = pd.DataFrame({"id": ["a"], "x": [0.5], "bad": [1]})
    result = check_table(frame, tiny_schema(), target_reader=_outcome)
    assert result.headline(tiny_schema()) == "PASS: 1 row against schema 'tiny' matches"
    assert "target bad: 1 of 1 row defaulted (100.0%)" in result.notes


def test_one_broken_row_of_one_breaks_the_schema_in_the_singular():
    frame = pd.DataFrame({"id": ["a"], "x": [5.0], "bad": [1]})
    assert "1 of 1 row (100.0%) breaks the schema" in check_table(frame, tiny_schema()).problems


def test_check_help_says_exit_2_is_an_unreadable_table_or_schema():
    result = runner.invoke(app, ["schema", "check", "--help"], terminal_width=400)
    assert "2 when the table or the schema cannot be read" in " ".join(result.output.split())
    assert "bad usage" not in result.output


def test_check_exits_2_when_the_schema_cannot_be_read(tmp_path):
    schema = tmp_path / "broken.yaml"
    schema.write_text("name: [unclosed\n")
    result = runner.invoke(app, ["schema", "check", str(DATA / "uci_credit_card.csv"), "--schema", str(schema)])
    assert result.exit_code == 2


def test_docs_give_exit_2_the_meaning_the_help_gives():
    docs = " ".join((Path(__file__).resolve().parents[2] / "docs" / "schema.md").read_text().split())
    assert "2 when the table or the schema cannot be read" in docs


def test_infer_writes_the_values_it_saw_without_an_exponent(book):
    frame = book.copy()
    frame.loc[7, "LIMIT_BAL"] = 9_999_999_999
    text = infer_schema(frame, name="book", target="default", id_column="id").to_yaml()
    line = next(x for x in text.splitlines() if x.startswith("  # seen") and "9,999,999,999" in x)
    assert "e+" not in line


def test_a_few_broken_rows_of_many_are_not_rounded_to_no_share():
    schema = tiny_schema()
    frame = pd.DataFrame({"id": [str(i) for i in range(6_000)], "x": 0.5, "bad": 0})
    frame.loc[[3, 4], "x"] = 7.0
    result = check_table(frame, schema, target_reader=_outcome)
    assert "2 of 6,000 rows (under 0.1%) break the schema" in result.problems


def test_check_says_a_blank_id_is_white_space_and_asks_for_the_id(tmp_path):
    output = " ".join(_check_csv(tmp_path, "id,x,bad\n1,3,0\n   ,4,1\n3,4,0\n").split())
    assert "id: 1 cell of only white space, read as missing; write each row's id there" in output
    assert "make id nullable" not in output and "the CSV reader reads an empty cell" not in output
    assert "row 1 (no id): ' ', read as missing" in output  # white space joined to one blank above


def test_a_table_to_score_is_not_failed_for_protected_values_scoring_does_not_read(tmp_path):
    spec = tiny_schema().model_dump(mode="json")
    spec["protected"] = [{"name": "sex", "categories": ["1", "2"]}]
    table, schema = tmp_path / "new.csv", tmp_path / "tiny.yaml"
    table.write_text("id,x,sex\n1,0.5,1\n2,0.5,3\n")
    schema.write_text(yaml.safe_dump(spec))
    scoring = runner.invoke(app, ["schema", "check", str(table), "--schema", str(schema), "--scoring"])
    assert scoring.exit_code == 0, scoring.output
    training = runner.invoke(app, ["schema", "check", str(table), "--schema", str(schema)], terminal_width=400)
    assert training.exit_code == 1 and "protected attribute sex: values the schema does not declare" in training.output


def test_rows_with_no_outcome_yet_are_a_note_and_the_table_passes():
    frame = pd.DataFrame({"id": list("abcde"), "x": 0.5, "bad": [0.0, 1.0, np.nan, 1.0, np.nan]})
    result = check_table(frame, tiny_schema(), target_reader=_outcome)
    assert result.problems == []
    assert "target bad: 2 rows have no outcome yet (40.0%): training leaves them out" in result.notes
    assert "target bad: 2 of 3 rows with an outcome defaulted (66.7%)" in result.notes


def test_a_table_where_no_row_has_an_outcome_fails():
    frame = pd.DataFrame({"id": ["a", "b"], "x": 0.5, "bad": [np.nan, np.nan]})
    problems = check_table(frame, tiny_schema(), target_reader=_outcome).problems
    assert problems == [
        "target bad: 2 rows have no outcome yet (100.0%): training leaves them out; no row has an outcome to train on"
    ]


def test_an_outcome_written_y_and_n_gets_the_recoding_in_its_own_values():
    frame = pd.DataFrame({"id": list("abcd"), "x": 0.5, "bad": ["N", "Y", "N", "N"]})
    broken, problem = check_table(frame, tiny_schema(), target_reader=_outcome).problems
    assert broken == "4 of 4 rows (100.0%) break the schema"
    assert problem.endswith("recode it as 'Y' -> 1 and 'N' -> 0 if 'Y' means defaulted, else the other way round")


def test_an_outcome_coded_1_and_2_gets_the_recoding_though_most_rows_read_as_1():
    frame = pd.DataFrame({"id": list("abcd"), "x": 0.5, "bad": [1, 2, 1, 1]})
    _, problem = check_table(frame, tiny_schema(), target_reader=_outcome).problems
    assert problem.endswith("recode it as '2' -> 1 and '1' -> 0 if '2' means defaulted, else the other way round")


def test_a_table_whose_outcomes_are_all_defaults_is_told_training_needs_both():
    frame = pd.DataFrame({"id": list("abc"), "x": 0.5, "bad": [1, 1, np.nan]})
    notes = check_table(frame, tiny_schema(), target_reader=_outcome).notes
    assert "target bad: every row with an outcome is 1 (defaulted): training needs both outcomes" in notes


def test_an_input_holding_the_outcome_fails_the_check():
    outcomes = np.arange(40) % 2
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(40)], "x": outcomes.astype(float), "bad": outcomes})
    problems = check_table(frame, tiny_schema(), target_reader=_outcome).problems
    assert problems == [
        "input x: holds the outcome bad in every row: a model would read the answer from it; remove it from the "
        "schema's features"
    ]


def test_a_flag_matching_a_handful_of_known_outcomes_is_not_called_a_copy():
    frame = pd.DataFrame({"id": list("abcdef"), "x": [0.0, 1.0, 1.0, 0.0, 1.0, 0.0], "bad": [0, 1, 1, 0, None, None]})
    assert check_table(frame, tiny_schema(), target_reader=_outcome).problems == []


def test_the_table_of_broken_rows_says_what_scoring_does_with_them(tmp_path):
    table, schema = tmp_path / "book.csv", tmp_path / "tiny.yaml"
    table.write_text("id,x,bad\n1,0.5,0\n2,7,1\n3,0.5,2\n")
    schema.write_text(yaml.safe_dump(tiny_schema().model_dump(mode="json")))
    command = ["schema", "check", str(table), "--schema", str(schema)]
    training = runner.invoke(app, command, terminal_width=400)
    scoring = runner.invoke(app, [*command, "--scoring"], terminal_width=400)
    assert "rows that break the schema (left out of training; rejected when scoring, but for the outcome)" in (
        training.output
    )
    assert "rows that break the schema (rejected when scoring)" in scoring.output
    assert "row 2 (id 3)" in training.output and "row 2 (id 3)" not in scoring.output


def test_a_table_that_matches_but_is_too_small_to_train_on_passes_with_trains_refusal_as_a_warning(tmp_path):
    table = tmp_path / "small.csv"
    pd.read_csv(DATA / "german_credit.csv").head(40).to_csv(table, index=False)
    result = runner.invoke(
        app, ["schema", "check", str(table), "--schema", str(DATA / "german_credit.yaml")], terminal_width=400
    )
    assert result.exit_code == 0, result.output
    assert "warning: train would refuse it: small.csv: 40 usable rows; at least 200 are needed" in result.output
    assert "PASS: 40 rows against schema 'german-credit' match," in result.output


def test_check_table_from_python_reads_the_outcome_as_training_does_and_fails_one_it_would_refuse():
    schema = load_schema(DATA / "german_credit.yaml")
    table = pd.read_csv(DATA / "german_credit.csv")
    worded = check_table(table.assign(**{schema.target: "good"}), schema)
    assert not worded.ok and worded.not_checked == []
    assert any(p.startswith(f"target {schema.target}: 1,000 rows are not 0 (repaid) or 1") for p in worded.problems)
    assert check_table(table, schema).ok


def test_check_table_of_a_table_with_no_rows_takes_no_column_for_a_copy_of_another():
    schema = load_schema(DATA / "german_credit.yaml")
    empty = pd.read_csv(DATA / "german_credit.csv").head(0)
    found = check_table(empty, schema)
    assert not any("in every row" in n for n in [*found.notes, *found.warnings, *found.problems]), found
