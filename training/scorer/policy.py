"""The lending policy: how a project sets its cut-offs, and the cut-offs (scores) that turn a score into a decision.

A lender states the approve cut-off as a score, as a target approval rate, or as a target bad rate among
the approved; the refer cut-off likewise, or as a gap below approve. `resolve_cutoffs` turns the policy
into scores on held-out rows when a model is trained; the resulting `Cutoffs` travel with the model
(scorer.json, MLflow) and every stage (fairness, serve, batch) decides with them.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from thinfile.features.settings import Section

CutoffKind = Literal["score", "approval_rate", "bad_rate"]


class PolicyError(ValueError):
    """A policy that cannot be met on the data, with a message that says why and what to do."""


class Cutoffs(Section):
    """Decision rule on the score: approve at or above `approve`, refer down to `refer`, else decline."""

    approve: float = 600.0
    refer: float = 550.0

    @model_validator(mode="after")
    def _check(self) -> Cutoffs:
        if not (math.isfinite(self.approve) and math.isfinite(self.refer)):
            raise ValueError(f"cut-offs must be finite scores, got approve {self.approve}, refer {self.refer}")
        if self.refer > self.approve:
            raise ValueError(f"refer cut-off {self.refer} is above approve cut-off {self.approve}")
        return self

    def moved(self, approve: float | None = None, refer: float | None = None) -> Cutoffs:
        """These cut-offs with `approve` and/or `refer` given in their place; an approve cut-off given alone moves
        the refer cut-off with it, keeping the refer band as wide as it was."""
        if approve is None:
            return Cutoffs(approve=self.approve, refer=self.refer if refer is None else refer)
        return Cutoffs(approve=approve, refer=approve - (self.approve - self.refer) if refer is None else refer)


class CutoffRule(Section):
    """One cut-off stated as a score, a target approval rate, or a target bad rate among those at or above it."""

    model_config = ConfigDict(allow_inf_nan=True)  # refused by _check, in words

    by: CutoffKind = "score"
    value: float

    @model_validator(mode="after")
    def _check(self) -> CutoffRule:
        if not math.isfinite(self.value):
            raise ValueError(f"a cut-off must be a finite number, got {self.value}")
        if self.by != "score" and not 0 < self.value < 1:
            raise ValueError(f"a cut-off by {self.by} needs a share strictly between 0 and 1, got {self.value}")
        return self

    def describe(self) -> str:
        if self.by == "score":
            return f"score {self.value:g}"
        what = "approval rate" if self.by == "approval_rate" else "bad rate among approved"
        return f"{what} {self.value:.1%}"


class LendingPolicy(Section):
    """A project's lending policy: the approve cut-off and the refer band below it."""

    approve: CutoffRule = CutoffRule(by="score", value=600.0)
    refer: CutoffRule | None = Field(None, description="refer cut-off; None: `refer_gap` points below approve")
    refer_gap: float = Field(50.0, ge=0, description="points below the approve cut-off that are referred")
    bad_rate_support: float = Field(
        2.0,
        gt=1,
        description="a cut-off set by bad rate is warned of when the 95% interval of the bad rate among the rows it "
        "approved reaches this many times the target: too few of them, or of their defaults, to show that rate",
    )

    @model_validator(mode="after")
    def _ordered(self) -> LendingPolicy:
        refer, approve = self.refer, self.approve
        if refer is not None and refer.by == approve.by == "score" and refer.value > approve.value:
            raise ValueError(f"the refer cut-off {refer.value:g} is above the approve cut-off {approve.value:g}")
        return self

    def describe(self) -> str:
        refer = self.refer.describe() if self.refer else f"{self.refer_gap:g} points below approve"
        return f"approve at {self.approve.describe()}; refer down to {refer}"

    @property
    def fixed(self) -> bool:
        """True when every cut-off is a score (nothing to resolve on data)."""
        return self.approve.by == "score" and (self.refer is None or self.refer.by == "score")

    def score_cutoffs(self) -> Cutoffs:
        """The cut-offs of a policy stated in scores; a policy by rates must be resolved on data first."""
        if not self.fixed:
            raise PolicyError(f"the policy ({self.describe()}) sets its cut-offs from data: use resolve_cutoffs")
        approve = self.approve.value
        return Cutoffs(approve=approve, refer=self.refer.value if self.refer else approve - self.refer_gap)


def cutoff_for(rule: CutoffRule, score: np.ndarray, defaulted: np.ndarray | None) -> float:
    """The score at or above which `rule` holds on these rows (higher scores are approved first)."""
    if rule.by == "score":
        return float(rule.value)
    score = np.asarray(score, dtype=np.float64)
    if len(score) == 0:
        raise PolicyError(f"no rows to set a cut-off by {rule.by}")
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    taken = np.arange(1, len(ranked) + 1)
    if rule.by == "approval_rate":
        ok = np.flatnonzero(last_of_tie & (taken <= rule.value * len(ranked) + 1e-9))
        if ok.size == 0:
            raise PolicyError(
                f"approval rate {rule.value:.1%} is below the share of the single best score "
                f"({np.mean(ranked == ranked[0]):.1%}); give a higher rate or a score cut-off"
            )
        return float(ranked[ok[-1]])
    if defaulted is None:
        raise PolicyError("a cut-off by bad rate needs the outcomes of the rows it is set on")
    bad = np.asarray(defaulted, dtype=np.float64)[order]
    rate = np.cumsum(bad) / taken
    ok = np.flatnonzero(last_of_tie & (rate <= rule.value + 1e-12))
    if ok.size == 0:
        raise PolicyError(
            f"no cut-off keeps the bad rate among approved at or below {rule.value:.1%} on the validation rows "
            f"(the best-scored applicants already default at {rate[np.flatnonzero(last_of_tie)[0]]:.1%}); "
            "give a higher bad rate, an approval rate or a score cut-off"
        )
    return float(ranked[ok[-1]])


def check_reachable(cutoffs: Cutoffs, min_score: float, max_score: float) -> Cutoffs:
    """`cutoffs`, or PolicyError when a score cut-off lies above the highest score, where nobody could reach it, or
    the approve cut-off below the lowest, where everybody would be approved."""
    if cutoffs.approve < min_score:
        raise PolicyError(
            f"the approve cut-off {cutoffs.approve:g} is below the lowest score, {min_score:g}: every applicant would "
            f"be approved; give a score from {min_score:g} to {max_score:g}, or set it by --approval-rate or "
            "--bad-rate"
        )
    for name, value in (("approve", cutoffs.approve), ("refer", cutoffs.refer)):
        if value > max_score:
            raise PolicyError(
                f"the {name} cut-off {value:g} is above the highest score, {max_score:g}: no applicant could reach "
                f"it; give a score from {min_score:g} to {max_score:g}, or set it by --approval-rate or --bad-rate"
            )
    return cutoffs


def resolve_cutoffs(policy: LendingPolicy, score: np.ndarray, defaulted: np.ndarray | None = None) -> Cutoffs:
    """The policy's cut-offs as scores, set on held-out rows (`score`, and their outcomes for a bad-rate rule)."""
    approve = cutoff_for(policy.approve, score, defaulted)
    refer = cutoff_for(policy.refer, score, defaulted) if policy.refer else approve - policy.refer_gap
    if refer > approve:
        raise PolicyError(
            f"the refer cut-off ({refer:.1f}, {policy.refer.describe() if policy.refer else ''}) lands above the "
            f"approve cut-off ({approve:.1f}); state the refer rule below the approve rule"
        )
    return Cutoffs(approve=round(approve, 4), refer=round(refer, 4))


_DECISIONS = np.array(["decline", "refer", "approve"], dtype=object)


def decisions(score: np.ndarray, cutoffs: Cutoffs) -> np.ndarray:
    """approve / refer / decline for each score (an object array holding three strings, not one per score)."""
    score = np.asarray(score)
    return _DECISIONS[(score >= cutoffs.refer).astype(np.intp) + (score >= cutoffs.approve)]
