"""`thinfile schema infer` and `thinfile schema check` from the command line: output, exit codes, messages."""

import re
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.schema import Schema, load_schema

DATA = Path(__file__).resolve().parents[1] / "data"
GERMAN = DATA / "german_credit.csv"
runner = CliRunner()


def infer_to(tmp_path: Path, *args: str) -> Path:
    result = runner.invoke(app, ["schema", "infer", str(GERMAN), *args])
    assert result.exit_code == 0, result.output
    path = tmp_path / "german.yaml"
    path.write_text(result.stdout)
    return path


def test_infer_writes_a_loadable_schema_to_standard_output(tmp_path):
    schema = load_schema(infer_to(tmp_path, "--target", "default", "--protected", "sex,age_band"))
    assert schema.target == "default" and schema.protected_names == ["sex", "age_band"]
    assert set(schema.feature_names) == set(pd.read_csv(GERMAN, nrows=1).columns) - {"id", "default", "sex", "age_band"}


def test_protected_may_be_repeated_instead_of_comma_separated(tmp_path):
    schema = load_schema(infer_to(tmp_path, "--protected", "sex", "--protected", "age_band"))
    assert schema.protected_names == ["sex", "age_band"]


def test_infer_names_a_missing_column_in_one_line_and_exits_2():
    result = runner.invoke(app, ["schema", "infer", str(GERMAN), "--target", "bad_flag"])
    assert result.exit_code == 2
    assert "has no column 'bad_flag'" in result.output and "Traceback" not in result.output


def test_infer_refuses_to_overwrite_an_existing_out_file(tmp_path):
    out = tmp_path / "taken.yaml"
    out.write_text("keep me")
    result = runner.invoke(app, ["schema", "infer", str(GERMAN), "--out", str(out)])
    assert result.exit_code == 2 and out.read_text() == "keep me"


def test_check_passes_the_table_the_schema_was_inferred_from(tmp_path):
    path = infer_to(tmp_path, "--protected", "sex,age_band")
    result = runner.invoke(app, ["schema", "check", str(GERMAN), "--schema", str(path)])
    assert result.exit_code == 0, result.output
    assert "PASS: 1,000 rows" in result.output


def test_check_fails_with_exit_1_and_names_what_does_not_match(tmp_path):
    data = yaml.safe_load(infer_to(tmp_path, "--protected", "sex,age_band").read_text())
    purpose = next(f for f in data["features"] if f["name"] == "purpose")
    purpose["categories"] = [c for c in purpose["categories"] if c != "business"]
    data["protected"][0]["categories"] = ["female", "man"]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data, sort_keys=False))
    result = runner.invoke(app, ["schema", "check", str(GERMAN), "--schema", str(edited)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "category purpose: values the schema does not declare: 'business' (97 rows)" in text
    assert "protected attribute sex: values the schema does not declare: 'male' (690 rows)" in text
    assert "FAIL" in text


def test_check_writes_the_rejected_rows_when_asked(tmp_path):
    data = yaml.safe_load(infer_to(tmp_path).read_text())
    amount = next(f for f in data["features"] if f["name"] == "credit_amount")
    amount["max"] = 10_000
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data, sort_keys=False))
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(app, ["schema", "check", str(GERMAN), "--schema", str(edited), "--rejects", str(rejects)])
    assert result.exit_code == 1
    expected = pd.read_csv(GERMAN).query("credit_amount > 10000")["id"].astype(str).tolist()
    assert pd.read_csv(rejects, dtype={"id": str})["id"].tolist() == expected


def test_train_on_an_unedited_inferred_schema_warns_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    schema = infer_to(tmp_path, "--target", "default", "--id", "id", "--protected", "sex,age_band")
    args = ["train", "--data", str(GERMAN), "--schema", str(schema), "--no-tune", "--no-baselines", "--no-register"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"warning: {len(load_schema(schema).features)} reason text(s) still say TODO" in said
    assert "age_in_years (age)" in said and said.index("warning:") < said.index("test metrics")


def _with_three_women(tmp_path: Path) -> Path:
    """German credit with all but three women recorded as men: a protected group too small to audit."""
    frame = pd.read_csv(GERMAN)
    women = frame.index[frame["sex"] == "female"]
    frame.loc[women[3:], "sex"] = "male"
    path = tmp_path / "german_three_women.csv"
    frame.to_csv(path, index=False)
    return path


SMALL_WOMEN = "warning: protected sex = 'female': 3 rows, fewer than the"


def test_check_warns_of_a_protected_group_too_small_to_audit_and_still_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_AUDIT__MIN_GROUP_ROWS", "30")  # every other group is audited, held out too
    table = _with_three_women(tmp_path)
    result = runner.invoke(app, ["schema", "check", str(table), "--schema", str(DATA / "german_credit.yaml")])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert SMALL_WOMEN in said and "PASS: 1,000 rows against schema" in said and "match, 2 warnings above" in said
    assert "protected sex & age_band: " in said  # the women's crossed groups, under 30 rows too


def test_check_warns_of_no_group_when_every_group_can_be_audited(tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_AUDIT__MIN_GROUP_ROWS", "10")
    result = runner.invoke(app, ["schema", "check", str(GERMAN), "--schema", str(DATA / "german_credit.yaml")])
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_check_warns_of_a_group_too_small_in_the_held_out_part_the_audit_judges(tmp_path):
    result = runner.invoke(app, ["schema", "check", str(GERMAN), "--schema", str(DATA / "german_credit.yaml")])
    said = " ".join(result.output.split())
    held_out = re.search(r"protected age_band = '45-75': (\d+) rows in the held-out test part, which", said)
    assert result.exit_code == 0 and held_out is not None, result.output
    assert 0 < int(held_out.group(1)) < 50 and "--all-rows" in said
    assert "age_band = '45-75': 201 rows" not in said  # 201 in the whole table: enough there


def test_check_of_a_table_to_score_does_not_count_protected_groups(tmp_path):
    table = _with_three_women(tmp_path)
    args = ["schema", "check", str(table), "--schema", str(DATA / "german_credit.yaml"), "--scoring"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "warning" not in result.output, result.output


def test_train_warns_of_a_protected_group_too_small_to_audit_before_fitting(tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    table = _with_three_women(tmp_path)
    args = ["train", "--data", str(table), "--schema", str(DATA / "german_credit.yaml")]
    result = runner.invoke(app, [*args, "--no-tune", "--no-baselines", "--no-register"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert SMALL_WOMEN in said and said.index(SMALL_WOMEN) < said.index("fitting the champion")


def test_train_says_what_share_its_cut_off_approves_as_mlflow_records_it(tmp_path, monkeypatch):
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["train", "--data", str(GERMAN), "--schema", str(DATA / "german_credit.yaml"), "--no-tune"]
    result = runner.invoke(app, [*args, "--no-baselines", "--no-register"])
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.`thinfile.role` = 'champion'")
    approved, cutoff = run["metrics.approval_rate_at_policy"].iloc[0], run["metrics.policy_cutoff"].iloc[0]
    assert f"at its approve cut-off {cutoff:g} the champion approves {approved:.1%} of the test rows" in said


def test_check_reads_a_binary_id_that_is_not_utf8_and_passes_the_table(
    tmp_path: Path, population: pd.DataFrame, schema: Schema
) -> None:
    table = pa.Table.from_pandas(population.head(300), preserve_index=False).replace_schema_metadata(None)
    ids = [i.encode() for i in table.column(schema.id_column).to_pylist()]
    ids[5] = b"\xff\xfe"
    table = table.set_column(0, schema.id_column, pa.array(ids, pa.binary()))
    pq.write_table(table, tmp_path / "book.parquet")
    assert table.column_names[0] == schema.id_column and pq.read_table(tmp_path / "book.parquet").num_rows == 300

    result = runner.invoke(app, ["schema", "check", str(tmp_path / "book.parquet"), "--schema", "synthetic"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output
    assert "PASS: 300 rows" in result.output
