"""A run's `fair_*` metrics are its latest audit's: MLflow keeps every key ever logged, so a later audit retires the
keys it did not compute."""

from __future__ import annotations

import json
import math

import mlflow

from thinfile.features import jsonio
from thinfile.serving.service import run_metrics
from thinfile.training.fairness.audit import FairnessReport
from thinfile.training.fairness_stage import log_report
from thinfile.training.tracking import configure


def test_a_key_an_earlier_audit_logged_and_the_latest_did_not_compute_reads_nan(report: FairnessReport) -> None:
    client = mlflow.MlflowClient(configure())
    run_id = client.create_run(client.create_experiment("stale-fairness")).info.run_id
    client.log_metric(run_id, "fair_auc_residence_hamlet", 0.71)  # a group an earlier audit could judge
    client.log_metric(run_id, "auc", 0.8)
    log_report(report, run_id)
    held = client.get_run(run_id).data.metrics
    assert math.isnan(held["fair_auc_residence_hamlet"])
    assert held["auc"] == 0.8
    assert {k: v for k, v in held.items() if k in report.metrics()} == report.metrics()


def test_the_model_card_shows_a_retired_fairness_key_as_null(report: FairnessReport) -> None:
    client = mlflow.MlflowClient(configure())
    run_id = client.create_run(client.create_experiment("stale-fairness-card")).info.run_id
    client.log_metric(run_id, "fair_di_ratio_hamlet", 0.5)
    log_report(report, run_id)
    card = json.loads(jsonio.dumps({"metrics": run_metrics(run_id)}))
    assert card["metrics"]["fair_di_ratio_hamlet"] is None
