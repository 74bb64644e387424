"""A lender's path from a raw table to a served model, on real public credit tables (German credit, UCI sample).

Each step runs once per table through the command line (conftest.py); each test checks one thing about it
against an independent side: scikit-learn and plain LightGBM for the AUC, MLflow for what was logged, the
library for batch scores, HTTP for the service.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import DATA, RealTable, Step, cli, strict_json
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score

from thinfile.config import Settings
from thinfile.features.schema import DIMENSIONS, Schema, load_schema
from thinfile.features.validate import validate_table
from thinfile.serving.contract import integer_coded, request_body
from thinfile.training.data import prepare
from thinfile.training.registry import load_scorer
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import CHAMPION_ALIAS, model_name_for, tracking_uri
from thinfile.training.split import Split, split_frame

pytestmark = pytest.mark.slow
AUC_BOUND = 0.005  # issue 9: no lower than plain LGBMClassifier() on the same split, less this
EXIT_CODES = {"pass": 0, "fail": 1, "incomplete": 4}  # docs/fairness.md
WAITING: dict[tuple[str, str], str] = {}  # (step, table) failing in another area: xfailed (strict) until fixed


def waiting_for(request: pytest.FixtureRequest, step: str, table: RealTable) -> None:
    reason = WAITING.get((step, table.stem))
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


@pytest.fixture(scope="module")
def champion(trained: Step, committed: Schema, home: Path) -> Scorer:
    assert trained.exit_code == 0, trained.output
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        return load_scorer(CHAMPION_ALIAS, model_name_for(committed))


@pytest.fixture(scope="module")
def run(champion: Scorer, home: Path):  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(home))
        return MlflowClient(tracking_uri()).get_run(str(champion.meta["run_id"]))


@pytest.fixture(scope="module")
def split(frame: pd.DataFrame, committed: Schema) -> Split:
    """The split `thinfile train` made: the same checked rows and the default seed."""
    return split_frame(prepare(frame, committed).frame, committed, Settings().train)


def test_the_committed_schema_keeps_what_infer_read_of_every_column_it_uses(inferred: Schema, committed: Schema):
    assert (committed.id_column, committed.target) == (inferred.id_column, inferred.target)
    assert [(p.name, p.categories) for p in committed.protected] == [(p.name, p.categories) for p in inferred.protected]
    for f in committed.features:
        g = inferred.by_name[f.name]
        assert (f.type, f.categories, f.min, f.max, f.nullable) == (g.type, g.categories, g.min, g.max, g.nullable)


def test_schema_check_passes_the_table(table: RealTable, home: Path):
    step = cli(home, "schema", "check", str(table.csv), "--schema", str(table.schema_file))
    assert step.exit_code == 0, step.output
    assert "PASS" in step.output


def test_neither_check_nor_train_takes_a_real_input_for_a_leak_of_the_outcome(
    table: RealTable, home: Path, trained: Step
):
    checked = cli(home, "schema", "check", str(table.csv), "--schema", str(table.schema_file))
    assert "alone separates defaults from repayments" not in checked.output + trained.output


def test_train_registers_the_champion_under_the_schemas_name(trained: Step, committed: Schema):
    assert trained.exit_code == 0, trained.output
    assert f"registered {model_name_for(committed)} version 1 as 'champion'" in " ".join(trained.output.split())
    assert "Successfully registered model" not in trained.output and "Created version" not in trained.output


def test_the_champion_run_says_how_its_hyper_parameters_were_chosen(run):  # type: ignore[no-untyped-def]
    params = run.data.params
    assert params["train.chosen_by"].startswith("cross-validated search")
    assert int(params["train.num_leaves"]) <= 64


def test_the_logged_test_auc_is_the_champions_auc_on_the_test_rows(run, champion: Scorer, split: Split):  # type: ignore[no-untyped-def]
    auc = roc_auc_score(split.y("test"), champion.predict_pd(split.X_test))
    assert run.data.metrics["auc"] == pytest.approx(auc, abs=1e-9)


def test_champion_auc_is_no_lower_than_plain_lightgbm_on_the_same_split_less_the_bound(
    champion: Scorer, split: Split, table: RealTable
):
    plain = lgb.LGBMClassifier(verbosity=-1, n_jobs=1)
    plain.fit(split.X_train, split.y("train"), categorical_feature=split.schema.categorical_indices or "auto")
    reference = roc_auc_score(split.y("test"), plain.predict_proba(split.X_test)[:, 1])
    auc = roc_auc_score(split.y("test"), champion.predict_pd(split.X_test))
    assert auc >= reference - AUC_BOUND
    assert auc >= table.auc_floor


def test_fairness_writes_strict_json_and_its_verdict_is_the_exit_code(audited: tuple[Step, Path], committed: Schema):
    step, out = audited
    reports = sorted(out.glob(f"fairness_{model_name_for(committed)}_v*.json"))
    assert len(reports) == 1, step.output
    verdict = strict_json(reports[0])["verdict"]
    assert step.exit_code == EXIT_CODES[verdict], step.output
    assert reports[0].with_suffix(".html").is_file()


def test_the_fairness_report_names_labelled_groups_with_the_rows_of_their_codes(
    audited: tuple[Step, Path], committed: Schema, split: Split
):
    step, out = audited
    report = strict_json(next(out.glob(f"fairness_{model_name_for(committed)}_v*.json")))
    for p in committed.protected:
        expected = split.test[p.name].astype(str).map(lambda code, names=p.names: names.get(code, code))
        groups = next(a for a in report["attributes"] if a["name"] == p.name)["groups"]
        assert {g["group"]: g["rows"] for g in groups if g["rows"]} == expected.value_counts().to_dict()
        if p.labels:
            assert set(p.names.values()) <= {g["group"] for g in groups}
            assert not {g["group"] for g in groups} & set(p.names)


def test_fairness_names_groups_by_labels_added_to_the_schema_after_training(
    trained: Step, table: RealTable, committed: Schema, home: Path, split: Split, tmp_path: Path
):
    first = committed.protected[0]
    renamed = {code: f"group {k}" for k, code in enumerate(first.categories)}
    declared = yaml.safe_load(table.schema_file.read_text())
    declared["protected"][0]["labels"] = renamed
    schema_file = tmp_path / "labelled.yaml"
    schema_file.write_text(yaml.safe_dump(declared, sort_keys=False))
    out = tmp_path / "fairness"
    step = cli(home, "fairness", "--data", str(table.csv), "--schema", str(schema_file), "--out", str(out))
    assert step.exit_code in EXIT_CODES.values(), step.output
    report = strict_json(next(out.glob("fairness_*.json")))
    groups = next(a for a in report["attributes"] if a["name"] == first.name)["groups"]
    expected = split.test[first.name].astype(str).map(renamed).value_counts().to_dict()
    assert {g["group"]: g["rows"] for g in groups if g["rows"]} == expected


def test_the_population_report_names_labelled_groups_as_the_fairness_report_does(
    batch: tuple[Step, Path], committed: Schema, frame: pd.DataFrame, table: RealTable, request: pytest.FixtureRequest
):
    waiting_for(request, "batch-score", table)
    step, out = batch
    assert step.exit_code == 0, step.output
    scored = frame[frame[committed.id_column].astype(str).isin(pd.read_parquet(out / "scores")[committed.id_column])]
    report = strict_json(out / "population_report.json")
    for p in committed.protected:
        expected = scored[p.name].astype(str).map(lambda code, names=p.names: names.get(code, code)).value_counts()
        groups = report["fairness"][p.name]["groups"]
        assert {g["group"]: g["rows"] for g in groups if g["rows"]} == expected.to_dict()


def test_batch_scores_or_rejects_every_row(
    batch: tuple[Step, Path], frame: pd.DataFrame, committed: Schema, table: RealTable, request: pytest.FixtureRequest
):
    waiting_for(request, "batch-score", table)
    step, out = batch
    assert step.exit_code == 0, step.output
    scores = pd.read_parquet(out / "scores")
    parts = sorted((out / "rejects").glob("*.parquet"))
    rejects = pd.concat([pd.read_parquet(p) for p in parts]) if parts else pd.DataFrame({"id": []})
    ids = pd.concat([scores[committed.id_column].astype(str), rejects["id"].astype(str)])
    assert sorted(ids) == sorted(frame[committed.id_column].astype(str))


def test_batch_scores_equal_the_librarys(
    batch: tuple[Step, Path], frame: pd.DataFrame, champion: Scorer, table: RealTable, request: pytest.FixtureRequest
):
    waiting_for(request, "batch-score", table)
    assert batch[0].exit_code == 0, batch[0].output
    schema = champion.schema
    scores = pd.read_parquet(batch[1] / "scores").set_index(schema.id_column)
    report = validate_table(frame, schema)
    clean = report.clean.loc[report.valid_mask]
    library = pd.Series(champion.explain(clean).score, index=clean[schema.id_column].astype(str))
    assert np.allclose(scores.loc[library.index, "score"].to_numpy(), library.to_numpy(), atol=1e-6)


@pytest.mark.slow
def test_spark_scores_and_rejects_the_real_table_as_the_embedded_engine_does(
    batch: tuple[Step, Path], spark_batch: tuple[Step, Path], committed: Schema, table: RealTable, request
) -> None:
    waiting_for(request, "batch-score", table)
    assert spark_batch[0].exit_code == 0, spark_batch[0].output
    (_, embedded), (_, spark) = batch, spark_batch
    key = committed.id_column
    pd.testing.assert_frame_equal(
        pd.read_parquet(spark / "scores").sort_values(key, ignore_index=True),
        pd.read_parquet(embedded / "scores").sort_values(key, ignore_index=True),
        check_exact=True,
    )
    rejects = [
        pd.concat([pd.read_parquet(p) for p in sorted((out / "rejects").glob("*.parquet"))] or [pd.DataFrame()])
        for out in (spark, embedded)
    ]
    pd.testing.assert_frame_equal(*(r.reset_index(drop=True) for r in rejects))


def test_the_service_scores_one_applicant_as_the_library_does(
    served: str, frame: pd.DataFrame, champion: Scorer, committed: Schema
):
    row = frame.iloc[[-1]].to_dict("records")[0]  # as a client reads one CSV row: whole numbers stay ints
    answer = httpx.post(f"{served}/score", json=request_body(committed, row), timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    library = champion.explain(validate_table(frame.iloc[[-1]], committed).clean)
    assert body["score"] == pytest.approx(float(library.score[0]), abs=0.01)
    assert body["decision"] == str(library.decision[0])
    assert set(body["dimensions"]) == set(DIMENSIONS)
    texts = {f.reason for f in committed.features} | {committed.reason_when_missing(f) for f in committed.features}
    assert {r["text"] for r in body["reasons"]} <= texts


def test_the_service_takes_an_integer_coded_category_as_the_integer_its_table_holds(
    served: str, frame: pd.DataFrame, committed: Schema
):
    coded = [f.name for f in committed.features if integer_coded(f)]
    if not coded:
        pytest.skip(f"{committed.name} has no integer-coded category")
    body = request_body(committed, frame.iloc[[-1]].to_dict("records")[0])
    as_integers = body | {name: int(body[name]) for name in coded if name in body}
    answers = [httpx.post(f"{served}/score", json=b, timeout=30) for b in (body, as_integers)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    assert answers[1].json()["score"] == answers[0].json()["score"]


def test_a_request_body_from_a_row_of_an_all_number_table_keeps_integer_codes():
    uci = load_schema(DATA / "uci_credit_card.yaml")
    row = pd.read_csv(DATA / "uci_credit_card.csv").iloc[-1]
    assert request_body(uci, row)["EDUCATION"] in uci.by_name["EDUCATION"].levels
