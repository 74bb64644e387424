"""A lender's table with Chinese column and group names (German credit, renamed) through every stage.

Infer guesses the id, the outcome and the dimensions from the Chinese names; check, train, batch-score and the
service take the names as they are, and the answers and audit lines carry them. Checked against the renamed
table itself, pandas and HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import DATA, Step, cli, service
from mlflow.tracking import MlflowClient
from ports import free_port

from thinfile.features.schema import Schema, load_schema
from thinfile.serving.contract import request_body
from thinfile.training.registry import resolve
from thinfile.training.reporting.figures import sans_serif_fonts
from thinfile.training.settings import CHAMPION_ALIAS, tracking_uri

pytestmark = pytest.mark.slow

NAMES = {
    "id": "编号",
    "status_of_existing_checking_account": "支票账户状态",
    "duration_in_month": "贷款期限_月",
    "credit_history": "信用历史",
    "purpose": "用途",
    "credit_amount": "贷款金额",
    "savings_account_and_bonds": "储蓄",
    "present_employment_since": "在职年限",
    "installment_rate_in_percentage_of_disposable_income": "还款收入比",
    "other_debtors_or_guarantors": "担保人",
    "present_residence_since": "居住年限",
    "property": "财产",
    "age_in_years": "年龄",
    "other_installment_plans": "其他分期",
    "housing": "住房",
    "number_of_existing_credits_at_this_bank": "本行贷款数",
    "job": "职业",
    "number_of_people_being_liable_to_provide_maintenance_for": "抚养人数",
    "telephone": "电话",
    "foreign_worker": "外籍",
    "sex": "性别",
    "age_band": "年龄段",
    "default": "违约",
}
PROTECTED = ("性别", "年龄段")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chinese_names")


@pytest.fixture(scope="module")
def table(home: Path) -> Path:
    """German credit with every column named in Chinese and its sex groups written 男 / 女."""
    frame = pd.read_csv(DATA / "german_credit.csv").drop(columns="personal_status_and_sex").rename(columns=NAMES)
    frame["性别"] = frame["性别"].map({"male": "男", "female": "女"})
    path = home / "借款人.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def inferred(table: Path, home: Path) -> tuple[Step, Path]:
    """`thinfile schema infer` told only the protected columns: the id and the outcome are guessed."""
    out = home / "借款人.yaml"
    step = cli(home, "schema", "infer", str(table), "--protected", ",".join(PROTECTED), "--out", str(out))
    return step, out


@pytest.fixture(scope="module")
def schema(inferred: tuple[Step, Path]) -> Schema:
    step, out = inferred
    assert step.exit_code == 0, step.output
    return load_schema(out)


@pytest.fixture(scope="module")
def trained(schema: Schema, inferred: tuple[Step, Path], table: Path, home: Path) -> Step:
    return cli(home, "train", "--data", str(table), "--schema", str(inferred[1]), "--no-tune", "--no-baselines")


@pytest.fixture(scope="module")
def batch(trained: Step, inferred: tuple[Step, Path], table: Path, home: Path) -> tuple[Step, Path, list]:
    """`thinfile batch-score` of the table, and the warnings it gave in this process (its report is drawn here)."""
    assert trained.exit_code == 0, trained.output
    out = home / "输出"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        step = cli(home, "batch-score", str(table), str(out), "--schema", str(inferred[1]), "--workers", "2")
    return step, out, list(caught)


def test_infer_guesses_the_id_and_the_outcome_from_chinese_names(schema: Schema):
    assert (schema.id_column, schema.target) == ("编号", "违约")
    assert [p.name for p in schema.protected] == list(PROTECTED)
    assert set(schema.feature_names) == set(NAMES.values()) - {"编号", "违约", *PROTECTED}


def test_infer_guesses_dimensions_from_chinese_words(schema: Schema):
    dimension = {f.name: f.dimension.value for f in schema.features}
    assert dimension["贷款金额"] == "credit_history"  # 贷款, loan, as "credit_amount" would be "amount": capacity
    assert dimension["储蓄"] == "capacity"
    assert dimension["用途"] == "behaviour"
    assert dimension["担保人"] == "connections"
    assert dimension["电话"] == "identity"


def test_schema_check_passes_the_chinese_table(schema: Schema, inferred: tuple[Step, Path], table: Path, home: Path):
    step = cli(home, "schema", "check", str(table), "--schema", str(inferred[1]))
    assert step.exit_code == 0, step.output


def test_train_registers_the_champion_under_the_chinese_name_infer_took_from_the_file(trained: Step, schema: Schema):
    assert trained.exit_code == 0, trained.output
    assert schema.name == "借款人"
    assert "registered 借款人 version 1" in " ".join(trained.output.split())


def test_train_names_missing_fonts_once(trained: Step):
    assert trained.exit_code == 0, trained.output
    if sans_serif_fonts() == ["DejaVu Sans"]:
        assert trained.output.count("PNG plots: no installed font") == 1, trained.output


def test_the_champion_run_has_an_auc_for_each_chinese_group(trained: Step, home: Path):
    assert trained.exit_code == 0, trained.output
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        version = resolve(CHAMPION_ALIAS, "借款人")
        metrics = MlflowClient(tracking_uri()).get_run(version.run_id).data.metrics
    sex = {k for k in metrics if k.startswith("auc_性别_")}
    assert sex == {"auc_性别_男", "auc_性别_女"}
    assert metrics["auc_性别_男"] != metrics["auc_性别_女"]


def test_batch_scores_every_row_with_chinese_reason_codes_and_no_glyph_warnings(
    batch: tuple[Step, Path, list], table: Path, schema: Schema
):
    step, out, caught = batch
    assert step.exit_code == 0, step.output
    assert "reason text(s) still say TODO" in " ".join(step.output.split())  # what applicants would read
    scores = pd.read_parquet(out / "scores")
    assert sorted(scores["编号"].astype(str)) == sorted(pd.read_csv(table)["编号"].astype(str))
    codes = set(scores["reason_1_code"].dropna())
    assert codes and codes <= set(schema.feature_names)
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    report = json.dumps(json.loads((out / "population_report.json").read_text()), ensure_ascii=False)
    assert "男" in report and "女" in report  # approval by group


def test_the_service_answers_and_refuses_by_chinese_field_names(
    trained: Step, inferred: tuple[Step, Path], table: Path, schema: Schema, home: Path
):
    assert trained.exit_code == 0, trained.output
    row = pd.read_csv(table).iloc[0].to_dict()
    body = request_body(schema, row)
    with service(home, inferred[1]) as url:
        answer = httpx.post(f"{url}/score", json=body, timeout=30)
        protected = httpx.post(f"{url}/score", json=body | {"性别": "男"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert {r["code"] for r in answer.json()["reasons"]} <= set(schema.feature_names)
    assert protected.status_code == 400
    assert protected.json()["detail"][0]["loc"] == ["性别"]
    audit = [json.loads(line) for p in sorted((home / "audit").glob("*.jsonl")) for line in p.read_text().splitlines()]
    assert [r["code"] for r in audit[-1]["reasons"]] == [r["code"] for r in answer.json()["reasons"]]


def test_serving_the_model_without_its_schema_is_refused_in_one_line_before_the_server_starts(
    trained: Step, home: Path
):
    assert trained.exit_code == 0, trained.output
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINFILE_", "MLFLOW_TRACKING_URI"))}
    done = subprocess.run(  # a process of its own: were the check to pass, it would become the server
        [sys.executable, "-m", "thinfile.cli", "serve", "--name", "借款人", "--port", str(free_port())],
        env=env | {"THINFILE_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, said
    assert "Traceback" not in said
    assert "was trained on schema '借款人'" in said and "thinfile serve --schema FILE" in said
    assert "serving" not in said.split("error:")[0]
