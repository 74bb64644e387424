"""Each reject-inference method on a case where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from thinfile.training.reject_inference import (
    RejectInferenceError,
    Sample,
    check_method,
    fuzzy,
    hard_cutoff,
    parcel,
    reweight,
)
from thinfile.training.settings import RejectInference


def _world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = (rng.random(n) < expit(-2 + 1.2 * X[:, 0] - 0.6 * X[:, 1])).astype(np.int64)
    p_booked = expit(1.0 - 1.5 * X[:, 0])
    booked = rng.random(n) < p_booked
    return X, y, booked


def test_fuzzy_augmentation_leaves_a_logistic_fit_where_the_booked_fit_was():
    X, y, booked = _world(20_000, 1)
    kgb = LogisticRegression(C=1e6, max_iter=1000).fit(X[booked], y[booked])
    sample = fuzzy(Sample(X[booked], y[booked]), X[~booked], kgb.predict_proba(X[~booked])[:, 1], weight=1.0)
    refit = LogisticRegression(C=1e6, max_iter=1000).fit(sample.X, sample.y, sample_weight=sample.weight)
    np.testing.assert_allclose(refit.coef_, kgb.coef_, atol=2e-3)
    np.testing.assert_allclose(refit.intercept_, kgb.intercept_, atol=2e-3)


def test_reweighting_by_the_booking_probability_recovers_the_through_the_door_default_rate():
    X, y, booked = _world(200_000, 2)
    p_booked = expit(1.0 - 1.5 * X[:, 0])
    sample = reweight(Sample(X[booked], y[booked]), p_booked[booked], max_weight=1e6)
    assert sample.weight is not None
    assert abs(y[booked].mean() - y.mean()) > 0.02
    assert np.average(sample.y, weights=sample.weight) == pytest.approx(y.mean(), abs=0.003)


def test_reweighting_caps_the_weights():
    sample = reweight(Sample(np.zeros((3, 1)), np.array([0, 1, 0])), np.array([0.5, 0.001, 1.0]), max_weight=10)
    assert sample.weight is not None
    raw = np.array([2.0, 10.0, 1.0])
    np.testing.assert_allclose(sample.weight, raw / raw.mean())


def test_hard_cutoff_labels_the_riskiest_rejects_bad_as_many_as_the_inflated_pd_expects():
    pd_rejects = np.array([0.19, 0.01, 0.05, 0.15, 0.09, 0.11, 0.03, 0.13, 0.17, 0.07])  # mean 0.10
    booked = Sample(np.zeros((2, 1)), np.array([0, 1]))
    sample = hard_cutoff(booked, np.arange(10.0)[:, None], pd_rejects, risk_factor=2.0, weight=1.0)
    assert sample.y[2:].tolist() == [1, 0, 0, 0, 0, 0, 0, 0, 1, 0]  # 0.19 and 0.17: 2 = 2 x 0.10 x 10
    assert sample.y[:2].tolist() == [0, 1]


def test_parcel_labels_rejects_bad_at_the_inflated_pd():
    n = 100_000
    sample = parcel(
        Sample(np.zeros((1, 1)), np.array([0])),
        np.zeros((n, 1)),
        np.full(n, 0.04),
        risk_factor=1.5,
        weight=1.0,
        rng=np.random.default_rng(3),
    )
    sd = np.sqrt(0.06 * 0.94 / n)
    assert abs(sample.y[1:].mean() - 0.06) < 4 * sd


def test_reject_inference_needs_a_booked_column(schema):
    with pytest.raises(RejectInferenceError, match="names no booked_column"):
        check_method(RejectInference(method="parcel"), schema)


def test_logged_parameters_are_the_ones_the_method_uses():
    assert RejectInference(method="fuzzy").params() == {
        "reject_inference.method": "fuzzy",
        "reject_inference.reject_weight": 1.0,
    }
    assert RejectInference(method="none").params() == {"reject_inference.method": "none"}
