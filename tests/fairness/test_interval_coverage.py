"""Each check's interval on datasets simulated by hand with known true rates: it holds its estimate strictly inside,
and covers the true spread between groups about as often as its confidence says, for two groups and for six."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import beta

from thinfile.training.fairness.audit import check_intervals
from thinfile.training.fairness.metrics import range_interval
from thinfile.training.settings import FairnessAudit

DATASETS = 200
DRAWS = FairnessAudit().interval_draws
PD = 0.3
COLUMNS = {
    "disparate_impact_ratio": ("approved", "rows"),
    "equal_opportunity_difference": ("approved_repaid", "repaid"),
    "calibration_gap": ("defaulted", "rows"),
}
TRUTH = {"disparate_impact_ratio": 1.0, "equal_opportunity_difference": 0.0, "calibration_gap": 0.0}


def by_hand(metric: str, successes: np.ndarray, trials: np.ndarray) -> float:
    """The checked statistic from the groups' counts: lowest over highest rate, or highest minus lowest."""
    rates = successes / trials
    if metric == "disparate_impact_ratio":
        return float(rates.min() / rates.max())
    return float(rates.max() - rates.min())


@functools.cache
def simulated_intervals(metric: str, sizes: tuple[int, ...], rate: float) -> list[tuple[float, float, float]]:
    """(estimate, low, high) on DATASETS tables whose groups all share one true `rate` (and predicted PD)."""
    rng = np.random.default_rng(sum(sizes) + len(metric))
    trials = np.asarray(sizes)
    out = []
    for seed in range(DATASETS):
        successes = rng.binomial(trials, rate)
        k, n = COLUMNS[metric]
        counts = pd.DataFrame({"rows": trials, "repaid": trials, k: successes, n: trials})
        value = by_hand(metric, successes, trials)
        low, high = check_intervals(
            counts, pd.Series(np.full(len(sizes), PD)), {metric: value}, 0.95, np.random.default_rng(seed), DRAWS
        )[metric]
        assert low is not None and high is not None
        out.append((value, low, high))
    return out


@pytest.mark.parametrize("metric", list(COLUMNS))
def test_the_estimate_between_alike_groups_lies_strictly_inside_its_interval(metric: str) -> None:
    intervals = simulated_intervals(metric, (300, 60), PD)
    inside = np.mean([low < value < high for value, low, high in intervals])
    assert inside >= 0.9


@pytest.mark.parametrize("metric", list(COLUMNS))
def test_an_estimate_between_groups_whose_rates_nearly_agree_lies_strictly_inside_its_interval(metric: str) -> None:
    successes, trials = np.array([19, 36]), np.array([69, 131])  # sex on German credit's held-out rows: 27.5% each
    k, n = COLUMNS[metric]
    counts = pd.DataFrame({"rows": trials, "repaid": trials, k: successes, n: trials})
    value = by_hand(metric, successes, trials)
    assert abs(value - TRUTH[metric]) < 0.003
    low, high = check_intervals(counts, pd.Series([PD, PD]), {metric: value}, 0.95, np.random.default_rng(0), DRAWS)[
        metric
    ]
    assert low is not None and high is not None and low < value < high


@pytest.mark.parametrize("metric", list(COLUMNS))
def test_the_interval_covers_the_true_spread_between_two_alike_groups_near_the_nominal_rate(metric: str) -> None:
    intervals = simulated_intervals(metric, (300, 60), PD)
    covered = np.mean([low <= TRUTH[metric] <= high for _, low, high in intervals])
    assert 0.85 <= covered <= 0.99


def test_the_interval_covers_the_true_ratio_among_six_alike_groups_near_the_nominal_rate() -> None:
    intervals = simulated_intervals("disparate_impact_ratio", (60,) * 6, PD)
    covered = np.mean([low <= 1.0 <= high for _, low, high in intervals])
    assert covered >= 0.85


def test_the_spread_of_two_groups_is_bounded_by_the_percentile_interval_of_their_difference() -> None:
    rng = np.random.default_rng(4)
    draws = np.column_stack([rng.normal(0.30, 0.01, 4_000), rng.normal(0.22, 0.02, 4_000)])
    low, high = np.quantile(draws[:, 0] - draws[:, 1], [0.025, 0.975])
    assert 0 < low < high
    assert range_interval(draws, 0.95) == (pytest.approx(low, abs=2e-3), pytest.approx(high, abs=2e-3))


def test_a_spread_whose_difference_may_be_zero_reaches_down_to_zero() -> None:
    rng = np.random.default_rng(5)
    draws = np.column_stack([rng.normal(0.30, 0.05, 4_000), rng.normal(0.29, 0.05, 4_000)])
    low, high = range_interval(draws, 0.95)
    difference = np.quantile(draws[:, 0] - draws[:, 1], [0.025, 0.975])
    assert low == 0.0 and high == pytest.approx(max(abs(difference)), abs=2e-3)


def test_a_group_with_no_approvals_has_a_ratio_of_zero_at_the_low_end_of_its_interval() -> None:
    counts = pd.DataFrame({"rows": [200, 60], "approved": [80, 0]})
    low, high = check_intervals(
        counts, pd.Series([PD, PD]), {"disparate_impact_ratio": 0.0}, 0.95, np.random.default_rng(0), DRAWS
    )["disparate_impact_ratio"]
    at_most = beta.ppf(0.995, 0.5, 60.5) / beta.ppf(0.005, 80.5, 120.5)
    assert low == 0.0 and 0 < high < at_most
