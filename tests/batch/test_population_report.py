"""Population report: PSI against the training reference flags a shifted book; approval by group with DI ratio."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from thinfile.serving.batch import batch_score
from thinfile.training.scorer.artefact import Scorer


def test_shifted_population_raises_the_psi_flag(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    same = book.head(3_000)
    shifted = same.copy()
    shifted["phone_tenure_months"] = (shifted["phone_tenure_months"] // 6).astype("Int64")
    shifted["mobile_payment_volume_rmb"] = shifted["mobile_payment_volume_rmb"] * 0.1
    same.to_parquet(tmp_path / "same.parquet")
    shifted.to_parquet(tmp_path / "shifted.parquet")

    calm = batch_score(tmp_path / "same.parquet", tmp_path / "calm", scorer, workers=1).report["stability"]
    moved = batch_score(tmp_path / "shifted.parquet", tmp_path / "moved", scorer, workers=1).report["stability"]

    assert calm["available"] and not calm["flag"] and calm["shifted"] == []
    assert moved["flag"] and {"phone_tenure_months", "mobile_payment_volume_rmb"} <= set(moved["shifted"])
    assert moved["features"]["phone_tenure_months"]["level"] == "shift"
    assert moved["features"]["bureau_utilisation"]["psi"] < 0.1
    assert "Shift: " in (tmp_path / "moved" / "population_report.html").read_text()


def test_approval_by_group_and_disparate_impact(book: pd.DataFrame, scorer: Scorer, tmp_path: Path) -> None:
    rows = book.head(2_000)
    rows.to_parquet(tmp_path / "book.parquet")
    report = batch_score(tmp_path / "book.parquet", tmp_path / "out", scorer, workers=1).report
    decisions = pd.read_parquet(tmp_path / "out" / "scores")["decision"]
    approved = (decisions == "approve").to_numpy()
    rates = pd.Series(approved).groupby(rows["residence"].astype(str).to_numpy()).mean()
    fair = report["fairness"]["residence"]
    for g in fair["groups"]:
        assert abs(g["approval_rate"] - rates[g["group"]]) < 1e-6
    assert abs(fair["disparate_impact_ratio"] - rates.min() / rates.max()) < 1e-6
    assert report["approval_at_cutoffs"][1]["rate"] == round(approved.mean(), 6)

    without = rows.drop(columns=["residence", "gender", "age_band"])
    without.to_parquet(tmp_path / "plain.parquet")
    assert batch_score(tmp_path / "plain.parquet", tmp_path / "plain", scorer, workers=1).report["fairness"] == {}
