"""Promotion gates: the champion is the model that passes every fairness check at the smallest AUC cost."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.schema import Schema
from thinfile.training.champion import fit_champion
from thinfile.training.fairness.audit import rows_fingerprint
from thinfile.training.pipeline import TrainResult
from thinfile.training.promotion import (
    REPORT_ARTIFACT,
    Candidate,
    apply,
    choose,
    json_candidate,
    true_risk_checks,
)
from thinfile.training.registry import log_scorer, set_alias
from thinfile.training.settings import CHALLENGER_ALIAS, CHAMPION_ALIAS, PromotionGate, TrainConfig, model_name_for
from thinfile.training.tracking import experiment_id

GATE = PromotionGate(max_auc_cost=0.005)


def test_a_passing_challenger_within_the_tolerance_replaces_a_failing_champion() -> None:
    champion = Candidate("4", "champion", 0.816, "fail", 2)
    challenger = Candidate("5", "challenger", 0.815, "pass")
    decision = choose([champion, challenger], GATE)
    assert decision.chosen == challenger
    assert "v5 (challenger) passes every fairness check at 0.0010 AUC below v4 (champion)" in decision.reason
    assert "fails 2 fairness check(s)" in decision.reason


def test_a_passing_model_that_costs_more_than_the_tolerance_is_not_promoted() -> None:
    decision = choose([Candidate("4", "champion", 0.82, "fail"), Candidate("5", "challenger", 0.80, "pass")], GATE)
    assert decision.chosen is None
    assert "give up 0.0200 AUC" in decision.reason and "more than the 0.005 allowed" in decision.reason


def test_an_incomplete_audit_never_qualifies() -> None:
    decision = choose(
        [Candidate("4", "champion", 0.82, "incomplete"), Candidate("5", "challenger", 0.82, "fail")], GATE
    )
    assert decision.chosen is None
    assert "incomplete fairness audit" in decision.reason


def test_when_both_pass_the_better_auc_wins() -> None:
    decision = choose([Candidate("4", "champion", 0.80, "pass"), Candidate("5", "challenger", 0.81, "pass")], GATE)
    assert decision.chosen is not None and decision.chosen.version == "5"


def report_json(verdict: str, auc: float, eo: float, oracle_eo: float | None) -> dict[str, object]:
    """The parts of a fairness report's JSON the gate reads."""
    return {
        "verdict": verdict,
        "overall": {"auc": auc},
        "checks": [
            {
                "attribute": "age_band",
                "metric": "equal_opportunity_difference",
                "value": eo,
                "limit": 0.05,
                "passed": eo <= 0.05,
            }
        ],
        "attributes": [{"name": "age_band", "oracle_eo_diff": oracle_eo}],
    }


def test_a_check_the_true_risk_fails_too_does_not_block() -> None:
    report = report_json("fail", 0.815, eo=0.116, oracle_eo=0.120)
    assert true_risk_checks(report, 0.01) == ("age_band equal opportunity: true risk 0.120",)
    c = Candidate("5", "challenger", 0.815, "fail", 1, true_risk_checks(report, 0.01))
    decision = choose([Candidate("4", "champion", 0.816, "fail", 3), c], GATE)
    assert decision.chosen == c and "fails only checks the true risk fails too" in decision.reason


def test_a_model_worse_than_the_true_risk_on_a_failed_check_is_blocked() -> None:
    assert true_risk_checks(report_json("fail", 0.8, eo=0.15, oracle_eo=0.12), 0.01) == ()


def test_without_an_oracle_every_failed_check_blocks() -> None:
    assert true_risk_checks(report_json("fail", 0.8, eo=0.06, oracle_eo=None), 0.01) == ()


def test_the_best_auc_qualifying_by_the_true_risk_is_not_said_to_pass_every_check() -> None:
    report = report_json("fail", 0.815, eo=0.116, oracle_eo=0.120)
    c = Candidate("5", "challenger", 0.815, "fail", 1, true_risk_checks(report, 0.01))
    decision = choose([Candidate("4", "champion", 0.806, "fail", 5), c], GATE)
    assert decision.chosen == c
    assert "v5 (challenger) has the best AUC (0.8150) and fails only checks the true risk fails too" in decision.reason
    assert "passes every fairness check" not in decision.reason


def test_audits_of_different_rows_are_not_compared() -> None:
    champion = json_candidate(
        "4", "champion", {**report_json("fail", 0.81, 0.06, None), "data": _rows("a", 1_000)}, GATE
    )
    challenger = json_candidate(
        "5", "challenger", {**report_json("pass", 0.82, 0.01, None), "data": _rows("b", 9_000)}, GATE
    )
    decision = choose([champion, challenger], GATE)
    assert decision.chosen is None
    assert decision.reason.startswith("nothing promoted: the candidates' fairness audits read different rows")
    assert "v4 (champion): table a, 1,000 rows; v5 (challenger): table b, 9,000 rows" in decision.reason
    same = json_candidate("5", "challenger", {**report_json("pass", 0.82, 0.01, None), "data": _rows("a", 1_000)}, GATE)
    assert choose([champion, same], GATE).chosen == same


def test_a_report_from_before_the_rows_were_fingerprinted_is_compared_as_before() -> None:
    old = json_candidate("4", "champion", {**report_json("fail", 0.81, 0.06, None), "data": {"rows": 1_000}}, GATE)
    new = json_candidate("5", "challenger", {**report_json("pass", 0.812, 0.01, None), "data": _rows("a", 1_000)}, GATE)
    assert choose([old, new], GATE).chosen == new


def test_the_same_ids_read_as_whole_floats_have_the_same_fingerprint() -> None:
    assert rows_fingerprint(pd.Series([3.0, 1.0, 2.0])) == rows_fingerprint(pd.Series([1, 2, 3]))
    assert rows_fingerprint(pd.Series([1, 2, 3])) != rows_fingerprint(pd.Series([1, 2, 4]))


def _rows(table: str, rows: int) -> dict[str, object]:
    """A report's `data`, as `audit_scorer` writes it, for `rows` rows of `table` (its fingerprint from the ids)."""
    ids = pd.Series([f"{table}{k}" for k in range(rows)])
    return {"rows": rows, "rows_fingerprint": rows_fingerprint(ids), "source": f"table {table}"}


@pytest.fixture(scope="module")
def two_versions(
    trained: TrainResult, population: pd.DataFrame, schema: Schema, training_home
) -> Iterator[tuple[str, str]]:
    """The trained champion (tagged failing) and a second registered version (tagged passing) as challenger;
    the champion alias is given back afterwards (other training tests read it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THINFILE_HOME", str(training_home))
        name = model_name_for(schema)
        client = mlflow.MlflowClient()
        auc = trained.champion.metrics["auc"]
        client.log_dict(trained.champion.run_id, report_json("fail", auc, eo=0.06, oracle_eo=0.02), REPORT_ARTIFACT)
        other = fit_champion(population.iloc[:6_000], population.iloc[6_000:9_000], schema, TrainConfig(max_rounds=40))
        with mlflow.start_run(experiment_id=experiment_id()) as run:
            mlflow.log_dict(report_json("pass", auc - 0.001, eo=0.01, oracle_eo=0.02), REPORT_ARTIFACT)
            info = log_scorer(other, population.head(100), register_as=name)
        version = str(info.registered_model_version)
        assert run.info.run_id
        set_alias(name, CHAMPION_ALIAS, str(trained.registered_version))
        set_alias(name, CHALLENGER_ALIAS, version)
        yield str(trained.registered_version), version
        set_alias(name, CHAMPION_ALIAS, str(trained.registered_version))


def test_promote_auto_moves_the_champion_and_writes_why_in_the_registry(
    two_versions: tuple[str, str], schema: Schema
) -> None:
    old, new = two_versions
    out = CliRunner().invoke(app, ["promote", "--auto"])
    assert out.exit_code == 0, out.output
    name = model_name_for(schema)
    printed = " ".join(out.output.split())
    assert f"{name}@champion -> version {new}: v{new} (challenger) passes every fairness check" in printed
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == new
    assert "promoted to champion" in client.get_model_version(name, new).description


def test_promote_auto_exits_1_and_moves_nothing_when_no_candidate_qualifies(
    two_versions: tuple[str, str], trained: TrainResult, schema: Schema
) -> None:
    old, new = two_versions
    name = model_name_for(schema)
    client = mlflow.MlflowClient()
    challenger_run = client.get_model_version(name, new).run_id
    auc = trained.champion.metrics["auc"]
    before = client.get_model_version_by_alias(name, CHAMPION_ALIAS).version
    client.log_dict(challenger_run, report_json("fail", auc - 0.001, eo=0.06, oracle_eo=0.02), REPORT_ARTIFACT)
    try:
        out = CliRunner().invoke(app, ["promote", "--auto"])
    finally:
        client.log_dict(challenger_run, report_json("pass", auc - 0.001, eo=0.01, oracle_eo=0.02), REPORT_ARTIFACT)
    assert out.exit_code == 1, out.output
    assert "nothing promoted: no candidate passes every fairness check" in " ".join(out.output.split())
    assert client.get_model_version_by_alias(name, CHAMPION_ALIAS).version == before


def test_apply_without_a_choice_moves_nothing(two_versions: tuple[str, str], schema: Schema) -> None:
    name = model_name_for(schema)
    before = mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION_ALIAS).version
    apply(name, choose([Candidate("1", "champion", 0.8, "fail")], GATE))
    assert mlflow.MlflowClient().get_model_version_by_alias(name, CHAMPION_ALIAS).version == before
