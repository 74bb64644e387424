"""A lending policy per project: cut-offs by score, approval rate or bad rate, set on held-out rows."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.config import Settings
from thinfile.features.schema import Schema
from thinfile.training.pipeline import at_cutoff, bad_rate_support, train_frame
from thinfile.training.registry import load_scorer
from thinfile.training.scorer.policy import (
    CutoffRule,
    Cutoffs,
    LendingPolicy,
    PolicyError,
    decisions,
    resolve_cutoffs,
)
from thinfile.training.scorer.scale import ScoreScale, pd_to_score
from thinfile.training.settings import CHAMPION_ALIAS, PipelineConfig

RNG = np.random.default_rng(3)
SCORE = np.round(RNG.normal(620, 60, 5_000), 1)
BAD = (RNG.random(5_000) < 1 / (1 + np.exp((SCORE - 560) / 40))).astype(int)


def test_a_score_policy_is_its_own_cut_offs() -> None:
    cut = resolve_cutoffs(LendingPolicy(approve=CutoffRule(by="score", value=640), refer_gap=30), SCORE)
    assert cut == Cutoffs(approve=640, refer=610)


def test_an_approval_rate_policy_approves_that_share_of_the_rows() -> None:
    cut = resolve_cutoffs(LendingPolicy(approve=CutoffRule(by="approval_rate", value=0.35)), SCORE)
    approved = (cut.approve <= SCORE).mean()
    assert approved <= 0.35
    next_up = np.max(SCORE[cut.approve > SCORE])
    assert (next_up <= SCORE).mean() > 0.35  # one more distinct score would pass the target


def test_a_bad_rate_policy_approves_the_most_rows_that_keep_the_bad_rate() -> None:
    cut = resolve_cutoffs(LendingPolicy(approve=CutoffRule(by="bad_rate", value=0.05)), SCORE, BAD)
    approved = cut.approve <= SCORE
    assert BAD[approved].mean() <= 0.05
    lower = np.unique(SCORE[cut.approve > SCORE])
    assert all(BAD[s <= SCORE].mean() > 0.05 for s in lower)  # approving any more rows breaks the target


def test_a_bad_rate_no_cut_off_can_reach_is_a_clear_error() -> None:
    with pytest.raises(PolicyError, match="no cut-off keeps the bad rate among approved at or below 0.0%"):
        resolve_cutoffs(LendingPolicy(approve=CutoffRule(by="bad_rate", value=1e-6)), SCORE, np.ones_like(BAD))


def test_a_refer_rule_above_the_approve_rule_is_refused() -> None:
    policy = LendingPolicy(
        approve=CutoffRule(by="approval_rate", value=0.2), refer=CutoffRule(by="approval_rate", value=0.1)
    )
    with pytest.raises(PolicyError, match="lands above the approve cut-off"):
        resolve_cutoffs(policy, SCORE)


def test_rates_outside_zero_and_one_are_refused() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        CutoffRule(by="approval_rate", value=35)


def test_decisions_follow_the_cut_offs() -> None:
    got = decisions(np.array([700.0, 600.0, 599.9, 550.0, 549.9]), Cutoffs(approve=600, refer=550))
    assert list(got) == ["approve", "approve", "refer", "refer", "decline"]


@pytest.mark.slow
def test_the_cut_offs_a_policy_sets_are_kept_with_the_model_and_used_where_it_is_loaded(
    population: pd.DataFrame, schema: Schema, quick: Settings
) -> None:
    policy = LendingPolicy(approve=CutoffRule(by="approval_rate", value=0.3))
    settings = quick.model_copy(
        update={
            "policy": policy,
            "pipeline": PipelineConfig(baselines=False, global_explanations=False, model_name="policy-test"),
        }
    )
    result = train_frame(population.head(8_000), schema, settings)
    scorer = result.champion.model
    valid_scores = pd_to_score(scorer.predict_pd(result.split.X_valid), scorer.scale)
    assert (valid_scores >= scorer.cutoffs.approve).mean() == pytest.approx(0.3, abs=0.01)
    params = mlflow.get_run(result.champion.run_id).data.params
    assert float(params["cutoff.approve"]) == scorer.cutoffs.approve and "approval rate 30.0%" in params["policy"]
    loaded = load_scorer(CHAMPION_ALIAS, "policy-test")
    assert loaded.cutoffs == scorer.cutoffs
    assert loaded.meta["policy"]["approve"] == {"by": "approval_rate", "value": 0.3}


def test_a_bad_rate_cut_off_set_on_too_few_approved_rows_is_warned_of_with_its_interval() -> None:
    policy = LendingPolicy(approve=CutoffRule(by="bad_rate", value=0.01))
    score = np.r_[np.full(17, 700.0), np.full(500, 500.0)]
    defaulted = np.r_[np.zeros(17), np.ones(500)]
    warning = bad_rate_support(policy, Cutoffs(approve=700, refer=650), score, defaulted)
    # Wilson's upper bound for 0 of 17 at 95%, by hand: (z^2/2n + z sqrt(z^2/4n^2)) / (1 + z^2/n), z = 1.96
    z, n = 1.959964, 17
    high = (z * z / (2 * n) + z * np.sqrt(z * z / (4 * n * n))) / (1 + z * z / n)
    assert warning is not None and "on 17 approved validation rows with 0 default(s)" in warning
    assert f"0.0% to {high:.1%}" in warning


def test_a_bad_rate_cut_off_the_rows_support_and_a_score_cut_off_are_not_warned_of() -> None:
    score = np.r_[np.full(2_000, 700.0), np.full(500, 500.0)]
    defaulted = np.r_[np.arange(2_000) < 18, np.ones(500)].astype(int)  # 0.9%, interval about 0.6%-1.4%
    cut = Cutoffs(approve=700, refer=650)
    assert bad_rate_support(LendingPolicy(approve=CutoffRule(by="bad_rate", value=0.01)), cut, score, defaulted) is None
    assert bad_rate_support(LendingPolicy(), cut, score[:17], defaulted[:17]) is None


@pytest.mark.parametrize(
    ("approve", "words"), [(650.0, "4.8% PD (band 'very good')"), (550.0, "16.7% PD (band 'fair')")]
)
def test_the_cutoff_line_says_what_pd_and_band_the_approve_score_stands_for(approve: float, words: str) -> None:
    """650 is 20:1 odds of good (PD 1/21), 550 two doublings less (5:1, PD 1/6), on the default scale."""
    assert at_cutoff(Cutoffs(approve=approve, refer=approve - 50), ScoreScale()).endswith(words)


def test_a_cutoff_flag_replaces_the_approve_rule_and_keeps_the_settings_refer_gap() -> None:
    from thinfile.commands.common import lending_policy

    base = LendingPolicy(refer_gap=20.0)
    assert lending_policy(620.0, None, None, None, base).score_cutoffs() == Cutoffs(approve=620.0, refer=600.0)
    assert lending_policy(None, None, None, None, base) == base


def test_an_approve_cutoff_given_alone_moves_the_refer_cutoff_with_it_keeping_the_band() -> None:
    assert Cutoffs(approve=600, refer=550).moved(approve=700) == Cutoffs(approve=700, refer=650)
    assert Cutoffs(approve=600, refer=550).moved(approve=700, refer=690) == Cutoffs(approve=700, refer=690)
    assert Cutoffs(approve=600, refer=550).moved(refer=500) == Cutoffs(approve=600, refer=500)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "approve:\n  by: score\n  value: 600\napprove:\n  by: score\n  value: 650\n",
            "gives 'approve' twice (line 4)",
        ),
        ("approve: [\n", "is not valid YAML at line 2"),
    ],
)
def test_a_policy_file_yaml_cannot_read_as_written_is_one_line_naming_where(
    tmp_path: Path, text: str, said: str
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(text)
    result = CliRunner().invoke(app, ["train", "--policy", str(policy), "--data", str(tmp_path / "absent.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"bad lending policy: {policy} {said}" in " ".join(result.output.split())
