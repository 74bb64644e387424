"""Bring your own data: a lender's table with its own schema trains; data that breaks the schema fails clearly."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.config import Settings
from thinfile.features.infer import check_table
from thinfile.features.schema import Schema, parse_schema
from thinfile.training.data import TrainingDataError, outcome, prepare, set_aside_words
from thinfile.training.pipeline import train, train_frame
from thinfile.training.settings import tracking_uri

pytestmark = pytest.mark.slow


def test_a_foreign_table_with_its_own_schema_trains_out_of_time(
    foreign_files: tuple[Path, Path], quick: Settings, tmp_path: Path
) -> None:
    data, schema_file = foreign_files
    result = train(
        data,
        schema_file,
        quick.model_copy(update={"pipeline": quick.pipeline.model_copy(update={"register_champion": False})}),
    )
    assert result.split_method == "out_of_time"
    assert {m.family for m in result.models} == {"lightgbm", "bureau_scorecard", "all_inputs_scorecard"}
    champion = result.champion.metrics
    assert champion["auc"] > 0.62
    assert "oracle_auc" not in champion
    assert {"auc_region_north", "auc_region_south", "auc_thin_file"} <= set(champion)
    run = mlflow.get_run(result.champion.run_id)
    assert run.data.tags["thinfile.schema_name"] == "acme-microloans"
    assert result.registered_version is None
    card_uri = f"runs:/{result.champion.run_id}/model_card.md"
    card = Path(mlflow.artifacts.download_artifacts(card_uri, dst_path=str(tmp_path))).read_text()
    assert "Synthetic default outcomes" not in card
    assert "not on this table" in card and "gives up at most" not in card
    leaves, depth = (int(card.split(f"- {key}:")[1].split("\n")[0]) for key in ("leaves per tree", "max depth"))
    assert depth <= leaves - 1


def test_cli_trains_on_a_foreign_table(foreign_files: tuple[Path, Path]) -> None:
    data, schema_file = foreign_files
    out = CliRunner().invoke(
        app, ["train", "--data", str(data), "--schema", str(schema_file), "--no-baselines", "--no-register"]
    )
    assert out.exit_code == 0, out.output
    assert "champion" in out.output


def test_cli_train_names_each_model_by_its_mlflow_run(foreign_files: tuple[Path, Path]) -> None:
    data, schema_file = foreign_files
    out = CliRunner().invoke(
        app, ["train", "--data", str(data), "--schema", str(schema_file), "--no-register"], terminal_width=200
    )
    assert out.exit_code == 0, out.output
    client = mlflow.MlflowClient(tracking_uri())
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    rows = {line.split("│")[1].strip(): line.split("│")[-2].strip() for line in out.output.splitlines() if "│" in line}
    named = {r.info.run_name: r.info.run_id[:8] for r in runs if r.info.run_id[:8] in rows.values()}
    assert set(named) == {"champion", "bureau_scorecard", "all_inputs_scorecard"}
    assert all(rows[name] == run for name, run in named.items())


@pytest.mark.parametrize(
    ("cutoff", "said"),
    [
        ("1000", "the approve cut-off 1000 is above the highest score, 950: no applicant could reach it"),
        ("950.5", "the approve cut-off 950.5 is above the highest score, 950: no applicant could reach it"),
        ("-5", "the approve cut-off -5 is below the lowest score, 350: every applicant would be approved"),
        ("nan", "a cut-off must be a finite number, got nan"),
        ("inf", "a cut-off must be a finite number, got inf"),
    ],
)
def test_a_cutoff_outside_the_scores_is_refused_before_training(
    foreign_files: tuple[Path, Path], cutoff: str, said: str
) -> None:
    data, schema_file = foreign_files
    out = CliRunner().invoke(app, ["train", "--data", str(data), "--schema", str(schema_file), f"--cutoff={cutoff}"])
    assert out.exit_code == 2, out.output
    assert said in " ".join(out.output.split())
    assert "fitting" not in out.output and "Traceback" not in out.output


def test_data_that_does_not_match_the_schema_fails_with_the_missing_columns(
    foreign_files: tuple[Path, Path],
    population: pd.DataFrame,
    tmp_path: Path,
) -> None:
    _, schema_file = foreign_files
    wrong = tmp_path / "synthetic.parquet"
    population.head(500).to_parquet(wrong, index=False)
    with pytest.raises(TrainingDataError, match=r"does not match schema 'acme-microloans'") as err:
        train(wrong, schema_file)
    assert "missing required column(s): loan_ref, monthly_income" in str(err.value)
    out = CliRunner().invoke(app, ["train", "--data", str(wrong), "--schema", str(schema_file)])
    assert out.exit_code == 2
    assert "missing required column(s)" in out.output and "Traceback" not in out.output


def test_a_table_without_its_outcome_column_is_told_to_add_it_not_to_change_the_schema(
    population: pd.DataFrame, schema: Schema
) -> None:
    with pytest.raises(TrainingDataError) as err:
        prepare(population.head(500).drop(columns=[schema.target]), schema)
    said = str(err.value)
    assert f"the outcome column {schema.target!r} is missing" in said and "add it" in said
    assert "--schema" not in said


def test_too_many_bad_values_fail_with_examples(make_foreign_table, foreign_schema: Schema) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"late_bills": object})
    table.loc[table.index[:100], "late_bills"] = "many"
    with pytest.raises(TrainingDataError, match=r"100 of 1,000 rows \(10.0%\) break schema") as err:
        prepare(table, foreign_schema)
    assert "late_bills: 'many' is not a number" in str(err.value)


def test_an_outcome_written_y_and_n_is_refused_with_the_recoding_to_do(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(1_000, seed=2)
    table["went_bad"] = np.where(table["went_bad"] == 1, "Y", "N")
    with pytest.raises(TrainingDataError) as err:
        prepare(table, foreign_schema)
    said = str(err.value)
    assert "recode it as 'Y' -> 1 and 'N' -> 0 if 'Y' means defaulted, else the other way round" in said
    assert "check that the schema file describes this table" not in said


def test_a_few_bad_rows_are_left_out_and_listed(make_foreign_table, foreign_schema: Schema) -> None:
    table = make_foreign_table(1_000, seed=2)
    table.loc[5, "monthly_income"] = -3.0
    table.loc[9, "went_bad"] = 7
    prepared = prepare(table, foreign_schema)
    assert len(prepared.frame) == 998 and prepared.rows_read == 1_000
    assert prepared.rejects["row"].tolist() == [5, 9]
    assert "went_bad: '7' is not an outcome" in prepared.rejects.loc[1, "reason"]
    assert set(prepared.frame["went_bad"].unique()) <= {0, 1}


def test_loans_with_no_outcome_yet_are_left_out_without_counting_against_the_schema(
    make_foreign_table, foreign_schema: Schema
) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"went_bad": "Int64", "late_bills": object})
    table.loc[table.index[-300:], "went_bad"] = pd.NA  # 30% not yet matured: well past the 5% of bad rows allowed
    table.loc[3, "late_bills"] = "many"
    prepared = prepare(table, foreign_schema)
    assert len(prepared.frame) == 699 and len(prepared.rejects) == 301
    assert set_aside_words(prepared.rejects, "went_bad") == "1 row that breaks the schema and 300 with no outcome yet"


def test_blank_outcomes_in_a_text_column_are_no_outcome_yet_not_a_value_to_recode(
    make_foreign_table, foreign_schema: Schema
) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"went_bad": object})
    table.loc[table.index[-200:], "went_bad"] = "  "
    prepared = prepare(table, foreign_schema)
    assert set_aside_words(prepared.rejects, "went_bad") == "200 rows with no outcome yet"


def test_the_share_that_breaks_the_schema_is_of_the_rows_with_an_outcome(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"went_bad": "Int64", "late_bills": object})
    table.loc[table.index[300:], "went_bad"] = pd.NA  # 700 loans not yet repaid or defaulted
    table.loc[table.index[:20], "late_bills"] = "many"  # 20 of the 300 with an outcome: 6.7%, over the 5%
    with pytest.raises(TrainingDataError, match=r"20 of 300 rows with an outcome \(6.7%\) break schema"):
        prepare(table, foreign_schema)


def test_rows_with_no_outcome_that_also_break_the_schema_are_not_judged_with_the_rest(
    make_foreign_table, foreign_schema
) -> None:
    table = make_foreign_table(2_000, seed=2).astype({"went_bad": "Int64", "late_bills": object})
    table.loc[table.index[400:], "went_bad"] = pd.NA  # 1,600 loans not yet repaid or defaulted
    table.loc[table.index[400:480], "late_bills"] = "many"  # 80 of them also break the schema; none with an outcome
    prepared = prepare(table, foreign_schema)
    assert len(prepared.frame) == 400 and len(prepared.rejects) == 1_600


def test_a_float32_outcome_with_gaps_is_loans_with_no_outcome_yet(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"went_bad": np.float32})
    table.loc[table.index[-200:], "went_bad"] = np.nan
    prepared = prepare(table, foreign_schema)
    assert set_aside_words(prepared.rejects, "went_bad") == "200 rows with no outcome yet"


def test_a_table_of_loans_with_no_outcome_yet_says_so_when_too_small(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"went_bad": "Int64"})
    table.loc[table.index[50:], "went_bad"] = pd.NA
    with pytest.raises(TrainingDataError, match="950 more have no outcome yet"):
        prepare(table, foreign_schema)


@pytest.mark.parametrize(("copy", "said"), [(lambda y: y, "the outcome"), (lambda y: 1 - y, "the opposite of")])
def test_an_input_holding_the_outcome_itself_is_refused(make_foreign_table, foreign_schema, copy, said) -> None:
    table = make_foreign_table(1_000, seed=2)
    leaky = foreign_schema.feature_names[0]
    table[leaky] = copy(table["went_bad"])
    with pytest.raises(TrainingDataError, match=f"input '{leaky}' holds {said}"):
        prepare(table, foreign_schema)


def test_an_input_that_is_the_outcome_under_other_names_is_refused(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(1_000, seed=2)
    table["wallet_tier"] = np.where(table["went_bad"] == 1, "bronze", "gold")
    with pytest.raises(TrainingDataError, match="input 'wallet_tier' separates defaults from repayments perfectly"):
        prepare(table, foreign_schema)


def test_rows_with_no_outcome_in_words() -> None:
    def rejects(*reasons: str) -> pd.DataFrame:
        return pd.DataFrame({"row": range(len(reasons)), "id": "x", "columns": "y", "reason": list(reasons)})

    unknown = "y: no outcome yet (neither repaid nor defaulted): left out"
    assert set_aside_words(rejects(unknown), "y") == "1 row with no outcome yet"
    assert set_aside_words(rejects("x: too big", "x: too big"), "y") == "2 rows that break the schema"
    assert set_aside_words(rejects(f"x: too big; {unknown}", unknown), "y") == (
        "1 row that breaks the schema and 1 with no outcome yet"
    )


def test_an_outcome_read_as_a_whole_float_is_named_as_written(make_foreign_table, foreign_schema: Schema) -> None:
    table = make_foreign_table(1_000, seed=2).astype({"went_bad": "float64"})
    table.loc[4, "went_bad"] = 2.0
    table.loc[8, "went_bad"] = float("nan")
    prepared = prepare(table, foreign_schema)
    assert prepared.rejects["reason"].tolist() == [
        "went_bad: '2' is not an outcome (0 = repaid, 1 = defaulted)",
        "went_bad: no outcome yet (neither repaid nor defaulted): left out",
    ]


def test_repeated_ids_are_kept_and_counted(make_foreign_table, foreign_schema: Schema) -> None:
    table = make_foreign_table(1_000, seed=2)
    table.loc[[3, 600, 700], "loan_ref"] = table.loc[0, "loan_ref"]
    prepared = prepare(table, foreign_schema)
    counts = table["loan_ref"].value_counts()
    assert len(prepared.frame) == 1_000
    assert prepared.repeated_ids is not None
    assert (prepared.repeated_ids.ids, prepared.repeated_ids.rows) == ((counts > 1).sum(), counts[counts > 1].sum())
    assert prepared.repeated_ids.first == (str(table.loc[0, "loan_ref"]),)
    assert prepare(make_foreign_table(1_000, seed=2), foreign_schema).repeated_ids is None


def test_a_table_with_one_outcome_class_is_refused(make_foreign_table, foreign_schema: Schema) -> None:
    table = make_foreign_table(1_000, seed=2).assign(went_bad=0)
    with pytest.raises(TrainingDataError, match="0 defaults and 1,000 repayments"):
        prepare(table, foreign_schema)


def test_same_data_config_and_seed_give_the_same_metrics_and_model_file(
    population: pd.DataFrame,
    schema: Schema,
    quick: Settings,
    tmp_path: Path,
) -> None:
    settings = quick.model_copy(
        update={
            "pipeline": quick.pipeline.model_copy(update={"register_champion": False, "global_explanations": False})
        }
    )
    small = population.head(6_000)
    runs = [train_frame(small, schema, settings) for _ in range(2)]
    timing = {"predict_rows_per_s", "explain_rows_per_s", "fit_seconds"}
    for a, b in zip(runs[0].models, runs[1].models, strict=True):
        assert {k: v for k, v in a.metrics.items() if k not in timing} == {
            k: v for k, v in b.metrics.items() if k not in timing
        }, a.family
    files = [r.champion.model.save(tmp_path / f"run{i}") for i, r in enumerate(runs)]
    for name in ("model.lgb", "scorer.json"):
        assert (files[0] / name).read_bytes() == (files[1] / name).read_bytes()
    bureau = [r.baseline("bureau_scorecard").model for r in runs]
    np.testing.assert_array_equal(bureau[0].model.coef_, bureau[1].model.coef_)


def _dated(make_foreign_table, tmp_path: Path, schema_file: Path, dates: dict[int, str]) -> Path:
    table = make_foreign_table(3_000, seed=8)
    written = table["applied_on"].dt.strftime("%Y-%m-%d").astype(object)
    written.iloc[::2] = table["applied_on"].iloc[::2].dt.strftime("%Y-%m-%d 10:30")  # two ISO forms in one column
    for row, text in dates.items():
        written.iloc[row] = text
    path = tmp_path / "dated.csv"
    table.assign(applied_on=written).to_csv(path, index=False)
    return path


def test_dates_in_several_iso_forms_split_out_of_time(
    make_foreign_table, foreign_files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, schema_file = foreign_files
    data = _dated(make_foreign_table, tmp_path, schema_file, {})
    checked = CliRunner().invoke(app, ["schema", "check", str(data), "--schema", str(schema_file)])
    assert checked.exit_code == 0, checked.output
    quick = ["--no-baselines", "--no-register", "--no-tune"]
    out = CliRunner().invoke(app, ["train", "--data", str(data), "--schema", str(schema_file), *quick])
    assert out.exit_code == 0, out.output


def test_rows_without_a_readable_date_fail_schema_check_and_are_left_out_by_train(
    make_foreign_table, foreign_files: tuple[Path, Path], tmp_path: Path
) -> None:
    _, schema_file = foreign_files
    data = _dated(make_foreign_table, tmp_path, schema_file, {100: "31/12/2023", 101: "not a date", 102: ""})
    expected = "date column 'applied_on': 3 rows have no date or one that is not ISO 8601"
    examples = "id L000100: '31/12/2023', id L000101: 'not a date', id L000102: (missing)"
    checked = CliRunner().invoke(app, ["schema", "check", str(data), "--schema", str(schema_file)], terminal_width=400)
    text = " ".join(checked.output.split())
    assert checked.exit_code == 1 and expected in text and examples in text, checked.output
    assert "training leaves them out, with the other rows that break the schema" in text
    args = ["train", "--no-baselines", "--no-register", "--no-tune", "--data", str(data), "--schema", str(schema_file)]
    trained = CliRunner().invoke(app, args, terminal_width=400)
    assert trained.exit_code == 0, trained.output
    assert "3 rows that break the schema were left out (rejects.csv in the champion run)" in trained.output
    client = mlflow.MlflowClient(tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    (run,) = client.search_runs(experiments, order_by=["attributes.start_time DESC"], max_results=1)  # this train's
    rejects = pd.read_csv(client.download_artifacts(run.info.run_id, "rejects.csv", str(tmp_path)))
    assert sorted(rejects["id"]) == ["L000100", "L000101", "L000102"]
    assert rejects["reason"].str.startswith("applied_on: no date or one that is not ISO 8601").all()


def test_an_input_missing_in_too_few_training_rows_is_named_on_the_console_and_the_card(
    make_foreign_table, foreign_schema: Schema, quick: Settings, tmp_path: Path
) -> None:
    table = make_foreign_table(4_000, seed=9)
    table["bank_defaults"] = table["bank_defaults"].fillna(0)
    table.loc[[5, 50, 500, 3_000], "bank_defaults"] = pd.NA
    settings = quick.model_copy(update={"pipeline": quick.pipeline.model_copy(update={"register_champion": False})})
    result = train_frame(table, foreign_schema, settings)
    missing = int(result.split.train["bank_defaults"].isna().sum())
    assert 0 < missing < result.train_config.min_child_samples
    expected = f"bank_defaults is missing in only {missing} training row{'s' if missing > 1 else ''} of "
    assert [s for s in result.unlearnt if s.startswith(expected)], result.unlearnt
    card_uri = f"runs:/{result.champion.run_id}/model_card.md"
    card = Path(mlflow.artifacts.download_artifacts(card_uri, dst_path=str(tmp_path))).read_text()
    assert expected in card


def test_cli_train_takes_baselines_and_registration_from_the_settings(
    foreign_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, schema_file = foreign_files
    monkeypatch.setenv("THINFILE_PIPELINE__BASELINES", "false")
    monkeypatch.setenv("THINFILE_PIPELINE__REGISTER_CHAMPION", "false")
    out = CliRunner().invoke(app, ["train", "--data", str(data), "--schema", str(schema_file)])
    assert out.exit_code == 0, out.output
    assert "champion" in out.output
    assert "scorecard" not in out.output and "registered" not in out.output


def test_train_warns_of_an_input_that_alone_nearly_gives_the_outcome_away_and_its_card_keeps_it(
    make_foreign_table, foreign_schema: Schema, quick: Settings, tmp_path: Path
) -> None:
    table = make_foreign_table(3_000, seed=4)
    flipped = (table["went_bad"] == 1) ^ (np.random.default_rng(4).random(len(table)) < 0.03)
    table["late_bills"] = np.where(flipped, 30, 0)  # bills late only once the loan went bad, but for a few rows
    settings = quick.model_copy(
        update={"pipeline": quick.pipeline.model_copy(update={"register_champion": False, "baselines": False})}
    )
    said: list[str] = []
    result = train_frame(table, foreign_schema, settings, progress=said.append)
    (warning,) = [s for s in said if "separates defaults from repayments" in s]
    assert warning.startswith("warning: input 'late_bills' alone separates defaults from repayments with an AUC of")
    assert "on 3,000 rows with an outcome in 'went_bad'" in warning
    card_uri = f"runs:/{result.champion.run_id}/model_card.md"
    card = Path(mlflow.artifacts.download_artifacts(card_uri, dst_path=str(tmp_path))).read_text()
    assert card.split("## Data")[0].endswith(f"## Warnings\n\n- **{warning.removeprefix('warning: ')}**\n\n")


def test_cli_train_repeats_the_leak_warning_after_the_test_metrics(foreign_files: tuple[Path, Path]) -> None:
    data, schema_file = foreign_files
    table = pd.read_parquet(data)
    flipped = (table["went_bad"] == 1) ^ (np.random.default_rng(5).random(len(table)) < 0.03)
    table.assign(late_bills=np.where(flipped, 30, 0)).to_parquet(data, index=False)
    out = CliRunner().invoke(
        app, ["train", "--data", str(data), "--schema", str(schema_file), "--no-baselines", "--no-register"]
    )
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    before, after = text.split("test metrics", 1)
    assert "warning: input 'late_bills' alone separates defaults" in before
    assert "warning (above): input 'late_bills' alone separates defaults" in after


def test_schema_check_and_train_judge_a_leak_on_the_same_rows(make_foreign_table, foreign_schema) -> None:
    table = make_foreign_table(3_000, seed=6)
    table["late_bills"] = table["went_bad"] * 30  # the outcome under another name ...
    broken = table.index[table["went_bad"] == 0][:12]
    table.loc[broken, "late_bills"] = 30  # ... but for 12 repaid rows, which break the schema elsewhere
    table.loc[broken, "monthly_income"] = -1.0
    kept = len(table) - len(broken)
    problems = check_table(table, foreign_schema, target_reader=outcome).problems
    assert f"input 'late_bills' separates defaults from repayments perfectly on {kept:,} rows" in " ".join(problems)
    with pytest.raises(TrainingDataError, match=f"perfectly on {kept:,} rows"):
        prepare(table, foreign_schema)


def test_a_rejected_applicants_placeholder_outcome_does_not_hide_a_leak(make_foreign_table, foreign_schema) -> None:
    booked_schema = parse_schema(
        {**foreign_schema.model_dump(mode="json", exclude_none=True), "booked_column": "booked"}, "acme, booked"
    )
    table = make_foreign_table(3_000, seed=7)
    booked = np.random.default_rng(7).random(len(table)) < 0.6
    table["booked"] = booked.astype(int)
    table["late_bills"] = np.where(booked, table["went_bad"] * 30, 30)  # perfect on the booked rows
    table.loc[~booked, "went_bad"] = 0  # the rejected applicants' outcome cells hold a placeholder
    with pytest.raises(TrainingDataError, match="input 'late_bills' separates defaults from repayments perfectly"):
        prepare(table, booked_schema)


def test_cli_train_warns_of_a_protected_value_the_schema_does_not_declare_not_of_a_small_group(
    foreign_files: tuple[Path, Path],
) -> None:
    data, schema_file = foreign_files
    table = pd.read_parquet(data)
    table.loc[table.index[0], "region"] = "east"
    table.to_parquet(data, index=False)
    args = ["train", "--data", str(data), "--schema", str(schema_file), "--no-baselines", "--no-register"]
    out = CliRunner().invoke(app, [*args, "--no-tune"], terminal_width=400)
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())
    assert "warning: protected attribute region: values the schema does not declare: 'east' (1 row)" in said
    assert "protected region = 'east'" not in said


def test_a_table_whose_ids_repeat_trains_with_a_warning_in_its_result_and_first_on_its_card(
    make_foreign_table, foreign_files: tuple[Path, Path], quick: Settings, tmp_path: Path
) -> None:
    table = make_foreign_table(3_000, seed=9)
    table["loan_ref"] = table["loan_ref"].where(table.index >= 4, table["loan_ref"].iloc[0])
    settings = quick.model_copy(update={"pipeline": quick.pipeline.model_copy(update={"register_champion": False})})
    result = train_frame(table, foreign_files[1], settings)  # the schema by its file, as `train` takes it
    (said,) = [w for w in result.warnings if "held by more than one row" in w]
    assert said.startswith(f"id loan_ref: 1 id is held by more than one row (4 rows): {table['loan_ref'].iloc[0]!r}")
    card_uri = f"runs:/{result.champion.run_id}/model_card.md"
    card = Path(mlflow.artifacts.download_artifacts(card_uri, dst_path=str(tmp_path))).read_text()
    warnings = card.index("## Warnings")
    assert warnings == card.index("## ") < card.index(f"- **{said}**") < card.index("## ", warnings + 3)
