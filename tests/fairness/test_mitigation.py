"""The mitigated challenger: reweighing without the protected attribute at scoring time."""

from __future__ import annotations

import numpy as np
import pytest

from thinfile.config import Settings
from thinfile.features.schema import Schema
from thinfile.training.fairness.audit import FairnessError
from thinfile.training.fairness.mitigation import (
    MITIGATED_FAMILY,
    fit_reweighed,
    reweighing_weights,
)
from thinfile.training.settings import FairnessAudit
from thinfile.training.split import Split


def test_reweighing_makes_group_and_outcome_independent() -> None:
    rng = np.random.default_rng(0)
    g = rng.choice(["rural", "urban"], 4_000, p=[0.4, 0.6])
    y = (rng.random(4_000) < np.where(g == "rural", 0.12, 0.06)).astype(int)
    w = reweighing_weights(g, y)
    rates = {k: np.average(y[g == k], weights=w[g == k]) for k in ("rural", "urban")}
    assert rates["rural"] == pytest.approx(rates["urban"])
    assert rates["rural"] == pytest.approx(y.mean())
    assert w.mean() == pytest.approx(1.0)


@pytest.mark.slow
def test_challenger_narrows_the_equal_opportunity_gap_and_scores_without_the_attribute(
    split: Split,
    schema: Schema,
    fast: Settings,
) -> None:
    scorer, rw = fit_reweighed(split.train.head(10_000), split.valid, schema, fast.train, audit=fast.audit)
    assert rw.attribute == "residence" and scorer.meta["family"] == MITIGATED_FAMILY
    assert len(rw.eo_gap_by_round) == fast.audit.mitigation_rounds
    assert rw.eo_gap_by_round[-1] < rw.eo_gap_by_round[0]
    assert rw.multipliers["rural / repaid"] > rw.multipliers["urban / repaid"]
    blind = split.test.drop(columns=schema.protected_names)
    np.testing.assert_array_equal(scorer.explain(blind).score, scorer.explain(split.test).score)


def test_unknown_mitigation_attribute_is_a_clear_error(split: Split, schema: Schema) -> None:
    with pytest.raises(FairnessError, match="'religion' is not a protected attribute"):
        fit_reweighed(split.train, split.valid, schema, audit=FairnessAudit(mitigate_attribute="religion"))


def test_training_rows_without_the_attribute_are_a_clear_error(split: Split, schema: Schema, fast: Settings) -> None:
    with pytest.raises(FairnessError, match="lack column"):
        fit_reweighed(split.train.drop(columns=["residence"]), split.valid, schema, fast.train, audit=fast.audit)
