"""A proxy audit that cannot run says why: the smallest groups and their rows, or too few rows in all."""

from __future__ import annotations

import numpy as np
from test_metrics import CUT, LENIENT, SCALE, TINY, tiny_frame
from test_undefined_rates import G3, three_groups

from thinfile.training.fairness.audit import PROXY_MIN_GROUP_ROWS, _sample_keeping_groups, build_report, proxy_audit
from thinfile.training.settings import FairnessAudit


def test_a_proxy_audit_that_cannot_run_names_its_smallest_group_not_the_rows_in_all() -> None:
    report = three_groups(np.r_[[0, 0, 0, 1, 1, 1] * 2, 0, 0, 0])  # groups of 6, 6 and 3 rows
    (note,) = [n for n in report.notes if n.startswith("proxy audit of g")]
    assert f"smallest group: c ({int((G3 == 'c').sum())} rows)" in note
    assert f"under the {PROXY_MIN_GROUP_ROWS} rows per group" in note
    assert f"{len(G3)} rows" not in note
    said = f"--min-group-rows {PROXY_MIN_GROUP_ROWS} (now 1) would leave such groups out of it, and out of the other"
    assert said + " checks too" in note
    assert report.proxy_skipped["g"] == note


def test_a_proxy_audit_on_too_few_rows_in_all_says_how_many() -> None:
    report = build_report(
        tiny_frame(),
        TINY,
        np.linspace(0.05, 0.6, 20),
        np.full(20, 650.0),
        scale=SCALE,
        cutoffs=CUT,
        limits=LENIENT,
        audit=FairnessAudit(min_group_rows=1),
    )
    (note,) = [n for n in report.notes if n.startswith("proxy audit of g")]
    assert "its groups a, b hold 20 rows, under the 40 the classifier needs" in note


def test_a_proxy_audit_samples_a_large_table_keeping_enough_rows_of_a_small_group_to_test_it() -> None:
    rng = np.random.default_rng(3)
    labels = np.where(np.arange(100_000) < 50, "small", "large")
    X = np.c_[rng.normal(size=100_000) + (labels == "small"), rng.normal(size=100_000)]
    audit = FairnessAudit(min_group_rows=50, proxy_rows=1_000)
    for seed in range(5):  # a plain draw of 1,000 rows holds 0.5 of the small group's on average
        found = proxy_audit(X, labels, "g", ["x1", "x2"], [], audit, seed=seed)
        assert found is not None and found.rows <= audit.proxy_rows + PROXY_MIN_GROUP_ROWS


def test_the_proxy_sample_keeps_each_group_in_its_share_and_at_least_five_rows_of_it() -> None:
    y = np.repeat([0, 1, 2], [99_000, 950, 50])
    take = _sample_keeping_groups(y, 3_000, np.random.default_rng(0))
    assert len(np.unique(take)) == len(take)
    drawn = np.bincount(y[take], minlength=3)
    assert drawn[2] == PROXY_MIN_GROUP_ROWS  # its share, 1.5 rows, raised to five
    assert drawn[:2].tolist() == [round(99_000 * 0.03), round(950 * 0.03)]
