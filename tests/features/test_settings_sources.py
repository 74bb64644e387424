"""Settings a lender sets without code: THINFILE_<SECTION>__<FIELD> variables and a YAML file (THINFILE_SETTINGS_FILE
or `thinfile --settings FILE`), each bad value named in one line, and `thinfile settings` writing every field."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.config import SETTINGS_FILE_VARIABLE, Settings, SettingsError, load_settings
from thinfile.training.settings import FairnessLimits

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_settings_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """None named; and what `--settings` sets in this process is undone after the test."""
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, "")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_field_set_by_its_variable_changes_that_field_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN", "0.9")
    fairness = load_settings().fairness
    assert fairness.disparate_impact_min == 0.9
    assert fairness.equal_opportunity_max == FairnessLimits().equal_opportunity_max


def test_a_settings_file_sets_the_fields_it_names_and_leaves_the_rest_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "s.yaml", "batch:\n  chunk_rows: 1234\n")))
    settings = load_settings()
    assert settings.batch.chunk_rows == 1234
    assert settings.batch.workers == Settings.model_construct().batch.workers
    assert settings.fairness == FairnessLimits()


def test_a_variable_wins_over_the_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = "fairness:\n  disparate_impact_min: 0.85\n  equal_opportunity_max: 0.1\n"
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "s.yaml", text)))
    monkeypatch.setenv("THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN", "0.95")
    fairness = load_settings().fairness
    assert (fairness.disparate_impact_min, fairness.equal_opportunity_max) == (0.95, 0.1)


def test_the_service_variables_sharing_the_prefix_are_not_taken_for_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_AUDIT_KEY", "a-key-of-sixteen-chars")
    monkeypatch.setenv("THINFILE_WORKERS", "3")
    assert load_settings() == Settings.model_construct()


def test_a_bad_value_in_the_file_is_named_by_its_key_and_file_never_by_its_value(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = write(tmp_path / "s.yaml", "fairness:\n  disparate_impact_min: 7.25\n")
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(file))
    with pytest.raises(SettingsError) as err:
        load_settings()
    said = str(err.value)
    assert f"fairness.disparate_impact_min in {file}" in said and "7.25" not in said and "\n" not in said


def test_a_bad_variable_is_named_by_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_BATCH__CHUNK_ROWS", "-5")
    with pytest.raises(SettingsError, match=r"THINFILE_BATCH__CHUNK_ROWS: Input should be greater than 0"):
        load_settings()


def test_a_misspelt_field_is_refused_as_not_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "s.yaml", "batch:\n  chunk_row: 10\n")))
    with pytest.raises(SettingsError, match=r"batch\.chunk_row in .*: not a setting; did you mean batch\.chunk_rows\?"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("fairnes:\n  disparate_impact_min: 0.9\n", "fairnes in {file}: not a setting; did you mean fairness?"),
        (
            "disparate_impact_min: 0.9\n",
            "disparate_impact_min in {file}: not a setting; a field is given under its section: "
            "fairness.disparate_impact_min",
        ),
        ("zzz: 1\n", "zzz in {file}: not a setting (see `thinfile settings` for every name)"),
    ],
    ids=["a-misspelt-section", "a-field-without-its-section", "nothing-close"],
)
def test_a_file_key_that_is_not_a_setting_says_what_was_likely_meant(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, said: str
) -> None:
    file = write(tmp_path / "s.yaml", text)
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(file))
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert said.format(file=file) in str(err.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [("- 1\n- 2\n", "holds a list; it must map sections to their fields"), ("a: [\n", "is not valid YAML")],
)
def test_a_file_that_is_not_a_mapping_of_sections_is_one_line_and_exit_2(tmp_path: Path, text: str, said: str) -> None:
    file = write(tmp_path / "s.yaml", text)
    out = runner.invoke(app, ["--settings", str(file), "settings"])
    assert out.exit_code == 2
    assert said in out.output and out.output.count("\n") == 1 and "Traceback" not in out.output


def test_a_missing_settings_file_says_how_to_write_one(tmp_path: Path) -> None:
    out = runner.invoke(app, ["--settings", str(tmp_path / "nowhere.yaml"), "settings"])
    assert out.exit_code == 2
    assert "which is not a file; write one with `thinfile settings --defaults > FILE`" in out.output


def test_the_written_defaults_are_every_field_commented_out_with_its_description(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN", "0.9")  # --defaults leaves it out
    out = runner.invoke(app, ["settings", "--defaults"])
    assert out.exit_code == 0, out.output
    assert yaml.safe_load(out.stdout) is None
    limit = FairnessLimits.model_fields["disparate_impact_min"]
    assert f"  # {limit.description}\n  # disparate_impact_min: {limit.default}\n" in out.stdout
    uncommented = out.stdout.replace("# fairness:", "fairness:").replace(
        "# disparate_impact_min: 0.8", "disparate_impact_min: 0.85"
    )
    monkeypatch.delenv("THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN")
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "edited.yaml", uncommented)))
    edited = load_settings()
    assert edited.fairness.disparate_impact_min == 0.85
    assert edited.model_dump(exclude_unset=True) == {"fairness": {"disparate_impact_min": 0.85}}


def test_the_written_comments_call_an_unset_value_null_as_yaml_writes_it() -> None:
    out = runner.invoke(app, ["settings", "--defaults"]).stdout
    assert "# registered model name; null: derived from the schema's name\n" in out
    assert "model_name: null" in out and "None" not in out


def test_the_settings_shown_read_back_as_the_same_values_and_the_same_given_fields(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = write(tmp_path / "s.yaml", "batch:\n  chunk_rows: 1234\npolicy:\n  refer_gap: 20\n")
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(file))
    monkeypatch.setenv("THINFILE_TRAIN__LEARNING_RATE", "0.1")
    before = load_settings()
    shown = runner.invoke(app, ["settings"]).stdout
    monkeypatch.delenv("THINFILE_TRAIN__LEARNING_RATE")
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "shown.yaml", shown)))
    after = load_settings()
    assert after == before
    assert after.model_dump(exclude_unset=True) == before.model_dump(exclude_unset=True)
    assert before.train.model_fields_set == {"learning_rate"}  # the rest stays fitted to the table


def test_settings_without_defaults_show_what_commands_will_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_AUDIT__MIN_GROUP_ROWS", "30")
    out = runner.invoke(app, ["settings"])
    assert out.exit_code == 0, out.output
    assert yaml.safe_load(out.stdout)["audit"]["min_group_rows"] == 30


@pytest.mark.parametrize(
    ("variable", "said"),
    [
        (
            "THINFILE_FAIRNES__DISPARATE_IMPACT_MIN",
            "THINFILE_FAIRNES__DISPARATE_IMPACT_MIN: not a setting (no such section",
        ),
        (
            "THINFILE_FAIRNESS_DISPARATE_IMPACT_MIN",
            "a section's field takes two underscores: THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN",
        ),
        ("THINFILE_SETTINGS", "the settings file is named by THINFILE_SETTINGS_FILE"),
        ("THINFILE_CHUNK_ROWS", "a field is named with its section: THINFILE_GENERATOR__CHUNK_ROWS or "),
        ("THINFILE_DISPARATE_IMPACT_MIN", "a field is named with its section: THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN"),
        ("THINFILE_BATCH__CHUNK_ROW", "not a setting; did you mean THINFILE_BATCH__CHUNK_ROWS?"),
        ("THINFILE_APROVE_CUTOFF", "not a thinfile variable; did you mean THINFILE_APPROVE_CUTOFF?"),
        ("THINFILE_HOEM", "not a thinfile variable; did you mean THINFILE_HOME?"),
        ("THINFILE_SOMETHING_ELSE", "not a thinfile variable (see `thinfile settings`"),
    ],
)
def test_a_variable_meant_for_a_setting_that_sets_none_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, said: str
) -> None:
    monkeypatch.setenv(variable, "0.9")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert said in str(err.value) and "0.9" not in str(err.value)


def test_a_list_that_is_not_json_is_one_line_naming_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_LOOP__METHODS", "none,parcel")
    with pytest.raises(SettingsError, match=r"THINFILE_LOOP__METHODS: cannot be read; a list or a whole section"):
        load_settings()


def test_a_section_given_as_json_is_read_and_its_bad_field_named_in_that_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THINFILE_FAIRNESS", '{"disparate_impact_min": 0.9}')
    assert load_settings().fairness.disparate_impact_min == 0.9
    monkeypatch.setenv("THINFILE_FAIRNESS", '{"disparate_impact_min": "high"}')
    with pytest.raises(SettingsError, match=r"fairness\.disparate_impact_min in THINFILE_FAIRNESS: "):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("THINFILE_TRAIN__SEED", "-1"),
        ("THINFILE_TRAIN__LEARNING_RATE", "nan"),
        ("THINFILE_BATCH__APPROVAL_GRID_STEP", "inf"),
    ],
)
def test_values_the_libraries_would_refuse_later_are_refused_up_front(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


@pytest.mark.parametrize("again", ["fairness", "Fairness"])
def test_a_section_given_twice_in_the_file_is_refused_with_its_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, again: str
) -> None:
    text = f"fairness:\n  disparate_impact_min: 0.9\nbatch:\n  chunk_rows: 10\n{again}:\n  calibration_gap_max: 0.1\n"
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "s.yaml", text)))
    with pytest.raises(SettingsError, match=rf"gives '{again}' twice \(line 5"):
        load_settings()


def test_the_files_keys_are_read_in_any_case_as_the_variables_names_are(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = "Fairness:\n  Disparate_Impact_Min: 0.9\nPOLICY:\n  approve: {BY: approval_rate, Value: 0.4}\n"
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "s.yaml", text)))
    settings = load_settings()
    assert settings.fairness.disparate_impact_min == 0.9
    assert (settings.policy.approve.by, settings.policy.approve.value) == ("approval_rate", 0.4)


def test_settings_name_where_their_values_came_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", "batch:\n  chunk_rows: 10\n")
    monkeypatch.setenv("THINFILE_AUDIT__MIN_GROUP_ROWS", "30")
    out = runner.invoke(app, ["--settings", str(file), "settings"])
    first = out.stdout.splitlines()[0]
    assert f"then the file {file}" in first and "then the variables THINFILE_AUDIT__MIN_GROUP_ROWS" in first


def test_each_given_field_names_the_file_or_variable_it_came_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = write(tmp_path / "s.yaml", "batch:\n  chunk_rows: 10\npolicy:\n  approve: {by: score, value: 610}\n")
    monkeypatch.setenv("THINFILE_POLICY__APPROVE__VALUE", "620")
    out = runner.invoke(app, ["--settings", str(file), "settings"]).stdout
    assert f"\n  chunk_rows: 10  # from {file}\n" in out
    assert f"\n    by: score  # from {file}\n" in out
    assert "\n    value: 620.0  # from THINFILE_POLICY__APPROVE__VALUE\n" in out
    assert yaml.safe_load(out)["policy"]["approve"] == {"by": "score", "value": 620.0}


def test_generate_takes_the_generator_section_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("THINFILE_GENERATOR__CHUNK_ROWS", "500")
    out = runner.invoke(app, ["generate", "--rows", "1200", "--seed", "3", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert len(list((tmp_path / "population").glob("*.parquet"))) == 3


def test_a_bad_setting_under_a_command_group_is_one_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_FAIRNES__DISPARATE_IMPACT_MIN", "0.9")
    table = Path(__file__).parents[1] / "data" / "german_credit.csv"
    out = runner.invoke(app, ["schema", "infer", str(table)])
    assert out.exit_code == 2 and out.output.startswith("error: bad settings: THINFILE_FAIRNES__"), out.output
    assert out.output.count("\n") == 1


def test_a_file_keyed_by_other_than_section_names_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(write(tmp_path / "s.yaml", "1: x\n")))
    with pytest.raises(SettingsError, match="holds keys that are not section names"):
        load_settings()


def test_an_unknown_key_in_the_file_is_blamed_on_the_file_not_on_a_service_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = write(tmp_path / "s.yaml", "workers: 3\n")
    monkeypatch.setenv(SETTINGS_FILE_VARIABLE, str(file))
    monkeypatch.setenv("THINFILE_WORKERS", "2")
    with pytest.raises(SettingsError, match=f"workers in {file}: not a setting"):
        load_settings()


def test_a_policy_that_refers_above_its_approve_cutoff_is_refused_before_any_command_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THINFILE_POLICY__REFER__BY", "score")
    monkeypatch.setenv("THINFILE_POLICY__REFER__VALUE", "700")
    with pytest.raises(SettingsError, match="policy: the refer cut-off 700 is above the approve cut-off 600"):
        load_settings()


def test_a_watch_level_at_or_above_the_shift_level_is_refused_in_one_line(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_text("stability:\n  shift: 0.05\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--settings", str(file), "settings"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: bad settings: stability in {file}: watch must be below shift "
        "(a distribution is worth watching before it has shifted)"
    ]


def test_one_setting_spelt_in_two_cases_with_two_values_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_BATCH__CHUNK_ROWS", "20000")
    monkeypatch.setenv("thinfile_batch__chunk_rows", "30000")
    with pytest.raises(SettingsError, match="THINFILE_BATCH__CHUNK_ROWS and thinfile_batch__chunk_rows: one setting"):
        load_settings()


def test_variables_thinfile_reads_outside_the_settings_are_not_taken_for_strays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("THINFILE_HOME", "THINFILE_CSV_ENCODING", "THINFILE_PORT", "THINFILE_MODEL_NAME"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("thinfile_home", "y")
    assert load_settings().batch.chunk_rows == Settings.model_fields["batch"].default.chunk_rows


@pytest.mark.parametrize("command", [["schema", "check", "book.csv", "--schema", "s.yaml"], ["serve"]])
def test_a_misspelt_variable_stops_every_command_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("THINFILE_APPROVE_CUTOF", "700")
    out = runner.invoke(app, command)
    assert out.exit_code == 2
    assert "THINFILE_APPROVE_CUTOF: not a thinfile variable; did you mean THINFILE_APPROVE_CUTOFF?" in out.output


def test_a_number_of_5000_digits_in_the_file_is_one_line_naming_its_line_and_exit_2(tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", f"batch: {{chunk_rows: {'1' * 5000}}}\n")
    out = runner.invoke(app, ["--settings", str(file), "settings"])
    assert out.exit_code == 2
    said = f"settings file {file} gives a number of 5,000 digits (line 1)"
    assert said in out.output and out.output.count("\n") == 1 and "Traceback" not in out.output


def test_a_file_nested_100000_deep_is_one_line_and_exit_2(tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", "[" * 100_000)
    out = runner.invoke(app, ["--settings", str(file), "settings"])
    assert out.exit_code == 2
    said = f"settings file {file} nests lists or mappings too deeply to read"
    assert said in out.output and out.output.count("\n") == 1 and "Traceback" not in out.output


def test_a_file_in_latin1_is_refused_saying_to_save_it_as_utf8(tmp_path: Path) -> None:
    file = tmp_path / "s.yaml"
    file.write_bytes("# café\nbatch:\n  chunk_rows: 10\n".encode("latin-1"))
    out = runner.invoke(app, ["--settings", str(file), "settings"])
    assert out.exit_code == 2
    said = f"settings file {file} is not UTF-8 text (byte #xe9 on line 1); save it as UTF-8"
    assert said in out.output and out.output.count("\n") == 1


def _envvars(command: str) -> set[str]:
    """The environment variables a command's options read, as click declares them."""
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    return {p.envvar for p in params if isinstance(p.envvar, str)}


def test_settings_defaults_list_every_variable_batch_score_reads() -> None:
    out = runner.invoke(app, ["settings", "--defaults"]).stdout
    listed = {line.split(":")[0].removeprefix("# ") for line in out.splitlines() if line.startswith("# THINFILE_")}
    assert _envvars("batch-score") <= listed


def test_settings_show_a_service_variable_with_the_value_and_variable_it_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THINFILE_TOP_REASONS", "6")
    out = runner.invoke(app, ["settings"]).stdout
    assert "\n# THINFILE_TOP_REASONS: 6  # from THINFILE_TOP_REASONS\n" in out


def test_settings_never_show_a_key_given_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_API_KEY", "a-key-of-twenty-chars")
    out = runner.invoke(app, ["settings"]).stdout
    assert "a-key-of-twenty-chars" not in out and "# THINFILE_API_KEY: (set, not shown)" in out


@pytest.mark.parametrize(
    "variable, value", [("THINFILE_APPROVE_CUTOFF", "abc"), ("THINFILE_TOP_REASONS", "11")], ids=["text", "range"]
)
def test_an_environment_only_value_a_command_would_refuse_is_refused_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    out = runner.invoke(app, ["settings"])
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines()[-1].startswith(f"error: {variable}: ")


def test_the_parquet_footer_limit_is_listed_with_where_its_value_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THINFILE_PARQUET_MAX_FOOTER_MB", "8")
    shown = runner.invoke(app, ["settings"]).stdout
    assert "# THINFILE_PARQUET_MAX_FOOTER_MB: 8  # from THINFILE_PARQUET_MAX_FOOTER_MB" in shown
