"""Measuring a model against the synthetic truth: expected AUC, calibration, the policy result, fairness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from thinfile.training.lending_loop.measure import (
    TruthSet,
    approve_share,
    expected_auc,
    expected_calibration_error,
    truth_metrics,
)


def _truth(n: int, seed: int) -> tuple[TruthSet, np.ndarray]:
    rng = np.random.default_rng(seed)
    true_pd = 1 / (1 + np.exp(-(-2.5 + 1.2 * rng.standard_normal(n))))
    p = np.clip(true_pd * np.exp(0.4 * rng.standard_normal(n)), 1e-4, 0.99)
    booked = rng.random(n) < 0.4
    thin = rng.random(n) < 0.7
    group = np.where(rng.random(n) < 0.45, "rural", "urban")
    return TruthSet(true_pd, booked, thin, group, float(true_pd[booked].mean()), float(booked.mean())), p


def test_expected_auc_is_the_auc_over_many_outcome_draws():
    truth, p = _truth(3_000, 1)
    rng = np.random.default_rng(2)
    draws = [roc_auc_score(rng.random(len(p)) < truth.true_pd, p) for _ in range(120)]
    assert expected_auc(truth.true_pd, p) == pytest.approx(np.mean(draws), abs=0.003)


def test_the_truth_is_perfectly_calibrated_against_itself_and_a_doubled_pd_is_not():
    truth, _ = _truth(5_000, 3)
    assert expected_calibration_error(truth.true_pd, truth.true_pd) == pytest.approx(0.0)
    assert expected_calibration_error(truth.true_pd, 2 * truth.true_pd) == pytest.approx(truth.true_pd.mean())


def test_at_the_historical_bad_rate_the_approved_stay_within_it():
    truth, p = _truth(5_000, 4)
    m = truth_metrics(p, truth)
    order = np.argsort(p, kind="stable")
    k = int(round(m["policy_approval_at_hist_bad_rate"] * len(p)))
    assert truth.true_pd[order[:k]].mean() <= truth.target_bad_rate + 1e-12
    assert truth.true_pd[order[: k + 50]].mean() > truth.target_bad_rate


def test_at_the_historical_approval_rate_the_bad_rate_is_of_the_lowest_pd_applicants():
    truth, p = _truth(5_000, 5)
    m = truth_metrics(p, truth)
    k = int(round(truth.approval_rate * len(p)))
    assert m["policy_bad_rate_at_hist_approval"] == pytest.approx(np.sort(truth.true_pd[np.argsort(p)][:k]).mean())


def test_segment_auc_uses_only_the_segment():
    truth, p = _truth(5_000, 6)
    mask = ~truth.booked & truth.thin
    expected = expected_auc(truth.true_pd[mask], p[mask])
    assert truth_metrics(p, truth)["truth_auc_thin_rejects"] == pytest.approx(expected)


def test_fairness_figures_match_a_direct_count_by_group():
    truth, p = _truth(5_000, 7)
    m = truth_metrics(p, truth)
    approved = approve_share(p, truth.approval_rate)
    frame = pd.DataFrame({"g": truth.group, "a": approved, "pd": truth.true_pd})
    by = frame.groupby("g")["a"].mean()
    assert m["fair_approval_rural"] == pytest.approx(by["rural"])
    assert m["fair_di_ratio"] == pytest.approx(by.min() / by.max())
    bad = frame[frame["a"]].groupby("g")["pd"].mean()
    assert m["fair_expected_bad_rate_urban"] == pytest.approx(bad["urban"])
