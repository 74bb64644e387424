"""Reason codes are the features that lowered the score most, in order, ties broken by schema order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from thinfile.training.scorer.explain import top_reasons

points_matrices = st.integers(1, 60).flatmap(
    lambda p: arrays(
        np.float64,
        st.tuples(st.integers(1, 40), st.just(p)),
        elements=st.sampled_from([0.0, -0.5, -1.0, -2.0, 3.0, -7.25, 1e-12]),
    )
)


@settings(max_examples=200, deadline=None)
@given(points=points_matrices, top=st.integers(1, 10))
def test_top_reasons_are_a_stable_sort_of_the_points_lost(points: np.ndarray, top: int) -> None:
    idx, pts = top_reasons(points, top)
    k = min(top, points.shape[1])
    order = np.argsort(points, axis=1, kind="stable")[:, :k]  # numpy's stable sort is the independent side
    chosen = np.take_along_axis(points, order, axis=1)
    lowered = chosen < -1e-9
    np.testing.assert_array_equal(idx, np.where(lowered, order, -1))
    np.testing.assert_array_equal(pts, np.where(lowered, chosen, 0.0))
