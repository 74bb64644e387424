"""Measuring a model against the synthetic truth: expected AUC, calibration, the policy result, fairness."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from thinfile.training.lending_loop.measure import (
    INTERVAL_FIGURES,
    Bootstrap,
    TruthSet,
    approve_share,
    expected_auc,
    expected_calibration_error,
    interval,
    intervals,
    truth_draws,
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


def _resampled(truth: TruthSet, idx: np.ndarray) -> TruthSet:
    """The applicants `idx` (with repeats) of `truth`, at the whole set's reference rates."""
    return TruthSet(
        truth.true_pd[idx], truth.booked[idx], truth.thin[idx], truth.group[idx], truth.target_bad_rate,
        truth.approval_rate,
    )  # fmt: skip


@pytest.mark.parametrize("tied", [False, True], ids=["distinct-pd", "tied-pd"])
def test_each_resample_s_figures_are_truth_metrics_on_the_applicants_it_drew(tied: bool):
    truth, p = _truth(400, 7)
    p = np.round(p, 2) if tied else p  # a weak model gives many applicants one PD
    counts = Bootstrap(draws=25, seed=3).counts(len(p))
    draws = truth_draws(p, truth, counts)
    for b in range(len(counts)):
        idx = np.repeat(np.arange(len(p)), counts[b])  # resample b as applicants, each as often as it was drawn
        expected = truth_metrics(p[idx], _resampled(truth, idx))  # roc_auc_score, approve_share, approve_at_bad_rate
        for key in INTERVAL_FIGURES:
            assert draws[key][b] == pytest.approx(expected[key], abs=1e-12), (key, b)


def test_a_resample_s_auc_by_hand_ties_counted_half():
    # p 0.1, 0.2, 0.3 with true PD 0, 0.5, 1: defaults weigh 0, 0.5, 1 and repayments 1, 0.5, 0
    truth = TruthSet(np.array([0.0, 0.5, 1.0]), np.ones(3, bool), np.zeros(3, bool), np.full(3, "urban"), 0.5, 1.0)
    p = np.array([0.1, 0.2, 0.3])
    counts = np.array([[1, 1, 1], [0, 2, 1]], dtype=np.uint16)
    # each once: 0.5 x 1 (0.2 over 0.1) + 0.5 x 0.5 / 2 (0.2 tied with itself) + 1 x 1 (0.3 over 0.1)
    # + 1 x 0.5 (0.3 over 0.2), over 1.5 defaults x 1.5 repayments
    # the second twice, the third once: 1 x 1 / 2 (0.2 tied with itself) + 1 x 1 (0.3 over 0.2), over 2 x 1
    assert truth_draws(p, truth, counts)["truth_auc"] == pytest.approx([2.125 / 2.25, 1.5 / 2])


def test_the_resamples_are_seeded_and_draw_as_many_applicants_as_there_are():
    counts = Bootstrap(draws=200, seed=4).counts(1_000)
    assert counts.shape == (200, 1_000) and (counts.sum(axis=1) == 1_000).all()
    assert np.array_equal(counts, Bootstrap(draws=200, seed=4).counts(1_000))
    assert not np.array_equal(counts, Bootstrap(draws=200, seed=5).counts(1_000))
    assert counts.mean() == pytest.approx(1.0) and (counts == 0).mean() == pytest.approx(np.exp(-1), abs=0.01)


def test_the_interval_is_the_middle_95_percent_of_the_draws_whatever_nan_they_hold():
    assert interval(np.r_[np.linspace(0, 1, 1_001), np.nan]) == pytest.approx((0.025, 0.975))
    assert intervals({"truth_auc": np.linspace(0.7, 0.8, 1_001)}) == pytest.approx(
        {"truth_auc_low": 0.7025, "truth_auc_high": 0.7975}
    )
    assert intervals({"truth_auc_rural_rejects": np.full(10, np.nan)}) == {}  # no applicant of the segment drawn


def test_the_interval_covers_the_figure_and_narrows_with_more_applicants():
    widths = []
    for n in (2_000, 8_000):
        truth, p = _truth(n, 8)
        found = intervals(truth_draws(p, truth, Bootstrap(draws=200, seed=0).counts(n)))
        m = truth_metrics(p, truth)
        for key in INTERVAL_FIGURES:
            assert found[f"{key}_low"] <= m[key] <= found[f"{key}_high"], key
        widths.append(found["truth_auc_high"] - found["truth_auc_low"])
    assert widths[1] == pytest.approx(widths[0] / 2, rel=0.35)  # sampling noise falls as 1 / sqrt(applicants)
