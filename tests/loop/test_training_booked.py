"""Training on a table with a booked column: rejects without outcomes accepted, methods logged, truth measured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.features.schema import parse_schema
from thinfile.training.data import TrainingDataError, prepare
from thinfile.training.pipeline import train_frame
from thinfile.training.settings import EvaluationConfig, PipelineConfig, RejectInference, TrainConfig, TrainingSettings

runner = CliRunner()


def quick(method: str) -> TrainingSettings:
    return TrainingSettings(
        train=TrainConfig(max_rounds=60),
        pipeline=PipelineConfig(baselines=False, register_champion=False, global_explanations=False),
        evaluation=EvaluationConfig(timing_rows=500, explain_timing_rows=200, plot_rows=2_000),
        reject_inference=RejectInference(method=method),
    )


def test_rejects_without_an_outcome_are_kept(seen, hist_schema):
    prepared = prepare(seen, hist_schema)
    assert len(prepared.rejects) == 0
    assert len(prepared.frame) == len(seen)
    assert prepared.frame["default_12m"].isna().sum() == (~seen["booked"]).sum()


def test_a_booked_loan_without_an_outcome_is_set_aside_with_its_reason(seen, hist_schema):
    broken = seen.copy()
    row = int(np.flatnonzero(broken["booked"].to_numpy())[0])
    broken.loc[row, "default_12m"] = pd.NA
    prepared = prepare(broken, hist_schema)
    assert prepared.rejects["row"].tolist() == [row]
    assert "default_12m" in prepared.rejects["reason"].iloc[0]


def test_an_unreadable_booked_flag_fails_the_table_and_says_what_to_do(seen, hist_schema):
    broken = seen.copy()
    broken["booked"] = broken["booked"].astype(object)
    broken.loc[3, "booked"] = "maybe"
    with pytest.raises(TrainingDataError, match=r"every applicant must be marked booked \(1\) or rejected \(0\)"):
        prepare(broken, hist_schema)


@pytest.mark.slow
def test_training_with_parcel_logs_the_method_and_the_truth_on_through_the_door_rows(seen, hist_schema):
    result = train_frame(seen, hist_schema, quick("parcel"), source="loop test")
    run = MlflowClient().get_run(result.champion.run_id)
    assert run.data.params["reject_inference.method"] == "parcel"
    assert run.data.params["reject_inference.risk_factor"] == "1.5"
    assert run.data.tags["thinfile.reject_inference"] == "parcel"
    for key in ("truth_auc", "truth_auc_rejects", "policy_approval_thin_file_at_hist_bad_rate", "fair_di_ratio"):
        assert key in run.data.metrics
    assert result.split.test["booked"].all()
    assert result.through_the_door is not None
    assert len(result.through_the_door.test) > len(result.split.test)
    assert run.data.metrics["rows_inferred"] == (~result.through_the_door.train["booked"]).sum()


LENDER_SCHEMA = {
    "name": "acme-with-rejects",
    "id_column": "ref",
    "target": "went_bad",
    "booked_column": "approved",
    "protected": [{"name": "region", "categories": ["north", "south"]}],
    "features": [
        {
            "name": "income",
            "type": "float",
            "min": 0,
            "max": 1e6,
            "dimension": "capacity",
            "monotone": 1,
            "reason": "Low income",
        },
        {
            "name": "late_bills",
            "type": "int",
            "min": 0,
            "max": 50,
            "dimension": "behaviour",
            "monotone": -1,
            "reason": "Late bills",
        },
    ],
}


def lender_table(rows: int, seed: int) -> pd.DataFrame:
    """A lender's own table: approvals by a rule on late bills, outcomes only for approved loans."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.6, rows)
    late = rng.poisson(2, rows)
    bad = rng.random(rows) < 1 / (1 + np.exp(-(-2.0 - 0.8 * (np.log(income) - 8) + 0.35 * late)))
    approved = (late <= 2) | (rng.random(rows) < 0.05)
    return pd.DataFrame(
        {
            "ref": [f"L{i:06d}" for i in range(rows)],
            "income": income,
            "late_bills": late,
            "region": rng.choice(["north", "south"], rows),
            "approved": approved.astype(int),
            "went_bad": pd.Series(bad.astype(int), dtype="Int8").mask(~approved),
        }
    )


@pytest.mark.slow
def test_a_lenders_table_with_a_booked_column_trains_without_an_oracle():
    table = lender_table(6_000, seed=8)
    result = train_frame(table, parse_schema(LENDER_SCHEMA), quick("reweight"), source="acme with rejects")
    assert "truth_auc" not in result.champion.metrics
    assert result.through_the_door is not None
    assert result.champion.metrics["rows_booked"] == result.through_the_door.train["approved"].sum()
    assert result.split.test["approved"].all()


def test_train_cli_refuses_reject_inference_on_a_table_without_a_booked_column(tmp_path, population):
    data = tmp_path / "plain.parquet"
    population.head(3_000).to_parquet(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--reject-inference", "parcel", "--no-baselines"])
    assert result.exit_code == 2
    assert "names no booked_column" in result.output


def test_train_cli_refuses_an_unknown_method(tmp_path):
    result = runner.invoke(app, ["train", "--reject-inference", "guess"])
    assert result.exit_code == 2
    assert "--reject-inference must be one of none, reweight, augment, parcel, fuzzy" in result.output


def test_history_schema_file_round_trips(tmp_path, hist_schema):
    path = tmp_path / "schema.yaml"
    path.write_text(hist_schema.to_yaml())
    assert parse_schema(yaml.safe_load(path.read_text())) == hist_schema
