"""Fairness audit of a scorer on a table: one FairnessReport; decision metrics by fairlearn's MetricFrame, risk
and calibration grouped by pandas (see metrics)."""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from fairlearn.metrics import selection_rate
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from thinfile.features import jsonio
from thinfile.features.schema import MISSING_GROUP, Schema, protected_values
from thinfile.features.settings import ValidationSettings
from thinfile.features.validate import require_frame
from thinfile.features.words import clipped, counted
from thinfile.training.audit_groups import INTERSECTION_SEP, FairnessError, crossed_attributes, group_labels
from thinfile.training.evaluate import metric_token, metric_tokens, thin_file_mask
from thinfile.training.fairness.impact import WHY_UNDECLARED, disparate_impact
from thinfile.training.fairness.metrics import (
    approve_at_bad_rate,
    auc,
    calibration_table,
    decision_frame,
    default_rate_among_approved,
    intersection_categories,
    pd_bins,
    range_interval,
    rate_draws,
    risk_frame,
    tpr_good,
    wilson_interval,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale, margin_to_clipped_score, pd_to_score
from thinfile.training.settings import FairnessAudit, FairnessLimits

VERDICTS = ("pass", "fail", "incomplete")
Verdict = Literal["pass", "fail", "incomplete"]


THIN_FILE = "thin-file"
HIGHER_IS_BETTER = ("disparate_impact_ratio",)
BASELINE_CANNOT_REACH = "baseline cannot reach this bad rate"

ERR_NO_PROTECTED = (
    "schema {schema!r} declares no protected attributes; a fairness audit needs at least one: add a "
    "'protected:' list (column name and its categories) to the schema file"
)
ERR_MISSING_COLUMNS = (
    "{table} lacks column(s) {columns}: the fairness audit needs the target and every protected "
    "attribute beside the model inputs; add them to the table or give the schema that describes it (--schema; from "
    "Python, the scorer's schema names them: Scorer.with_protected(schema))"
)
ERR_TARGET = (
    "{table}: target column {column!r} must hold 0/1 outcomes (1 = defaulted) with no gaps; found {found}. "
    "Recode it, or drop the rows without an outcome"
)
ERR_LENGTH = "{what} has {got} values for {rows} rows"
ERR_EMPTY = "{table} has no rows to audit"
ERR_NO_CHECKS = (
    "{table}: no fairness check could run on its {rows:,} rows ({why}). Audit more rows (a larger table, or "
    "--all-rows to use every row rather than the held-out part) or lower --min-group-rows (now {min_rows:,}) "
    "and read each group's confidence interval"
)

NULL_VALUES = {
    "auc": "the group has only repaid or only defaulted rows",
    "default_rate_approved": "nobody in the group is approved",
    "tpr_good / fpr_bad / oracle_tpr_good": (
        "the group has no repaid (no defaulted) rows; it is left out of the differences the rate enters (see left_out)"
    ),
    "di_ratio": "the group is not counted (see why_not), or nobody in any counted group is approved",
    "*_low / *_high": "a Wilson interval needs at least one row",
    "checks[].value": "the check could not run; its sentence says why",
    "checks[].low / checks[].high": "the check could not run, so neither could its interval",
    "inclusion.segments[].baseline_*": BASELINE_CANNOT_REACH,
    "inclusion.segments[].ratio": "the baseline approves nobody in the segment",
}


class PdModel(Protocol):
    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray: ...


# ---------------------------------------------------------------- report pieces


@dataclass(frozen=True)
class Check:
    """One pass/fail line against a configured limit; `passed` is None when it could not run."""

    attribute: str
    metric: str
    value: float | None
    limit: float
    passed: bool | None
    sentence: str
    low: float | None = None
    high: float | None = None

    @property
    def within_noise(self) -> bool:
        """The verdict is within sampling noise: the check's interval holds values on both sides of the limit."""
        if self.passed is None or self.low is None or self.high is None:
            return False
        if self.metric in HIGHER_IS_BETTER:
            return self.low < self.limit <= self.high
        return self.low <= self.limit < self.high

    @property
    def noise_sentence(self) -> str:
        where = "inside" if self.passed is False else "beyond"
        return (
            f"{self.sentence}, but within sampling noise: its interval reaches {where} the limit, so more rows are "
            "needed to be sure"
        )

    @property
    def line(self) -> str:
        """The check said once: its sentence, qualified when its verdict is within sampling noise."""
        return self.noise_sentence if self.within_noise else self.sentence

    def to_dict(self) -> dict[str, object]:
        return {**self.__dict__, "within_noise": self.within_noise}


@dataclass(frozen=True)
class Unchecked:
    """A group the audit could not check: too few rows, none at all, or a value the schema does not declare."""

    attribute: str
    group: str
    rows: int
    reason: str

    @property
    def sentence(self) -> str:
        return f"{self.attribute} = {clipped(self.group, ValidationSettings().shown_value_chars)}: {self.reason}"


@dataclass(frozen=True)
class AttributeAudit:
    """Every metric for one protected attribute (or an intersection of two)."""

    name: str
    groups: pd.DataFrame
    reference_group: str | None
    worst_group: str | None
    di_ratio: float | None
    eo_diff: float | None
    eod_diff: float | None
    calibration_gap: float | None
    calibration: pd.DataFrame
    score_edges: list[float]
    score_hist: dict[str, list[int]]
    oracle_di_ratio: float | None = None
    oracle_eo_diff: float | None = None
    unchecked: list[Unchecked] = field(default_factory=list)
    unassigned_rows: int = 0
    why_not: dict[str, str] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    intervals: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    no_value_rows: int = 0
    undeclared_rows: int = 0
    left_out: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def checked_groups(self) -> list[str]:
        return [str(g) for g in self.groups.index[self.groups["counted"]]] if len(self.groups) else []

    @property
    def partly_checked(self) -> dict[str, str]:
        """Counted groups left out of the equal opportunity check for want of a TPR (no repaid rows), and why."""
        return self.left_out.get("equal_opportunity_difference", {})

    @property
    def left_out_sentences(self) -> list[str]:
        """Each difference that leaves out a counted group for want of its rate, with the groups and why."""
        return [
            f"the {DIFFERENCE_WORDS[metric]} leaves out {', '.join(f'{g} ({why})' for g, why in groups.items())}"
            for metric, groups in self.left_out.items()
            if groups
        ]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "reference_group": self.reference_group,
            "worst_group": self.worst_group,
            "di_ratio": self.di_ratio,
            "eo_diff": self.eo_diff,
            "eod_diff": self.eod_diff,
            "calibration_gap": self.calibration_gap,
            "oracle_di_ratio": self.oracle_di_ratio,
            "oracle_eo_diff": self.oracle_eo_diff,
            "groups": _records(self.groups.reset_index()),
            "unchecked": [u.__dict__ for u in self.unchecked],
            "rows_in_no_group": self.unassigned_rows,
            "rows_with_no_value": self.no_value_rows,
            "rows_with_undeclared_value": self.undeclared_rows,
            "intervals": {m: {"low": low, "high": high} for m, (low, high) in self.intervals.items()},
            "not_computed": self.why_not,
            "left_out": self.left_out,
            "calibration": _records(self.calibration),
            "score_edges": self.score_edges,
            "score_hist": self.score_hist,
            "findings": self.findings,
        }


@dataclass(frozen=True)
class ProxyAudit:
    """How well the model inputs predict one protected attribute, and which inputs carry it."""

    attribute: str
    auc: float
    rows: int
    top_features: list[tuple[str, float]]
    left_out: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "attribute": self.attribute,
            "auc": self.auc,
            "rows": self.rows,
            "top_features": [{"feature": f, "share": s} for f, s in self.top_features],
            "groups_left_out": self.left_out,
        }


@dataclass(frozen=True)
class InclusionLift:
    """Approvals of the model vs a baseline when both are held to the same bad rate among approved.

    When even the baseline's lowest-PD applicants default more often than the target, the baseline
    cannot reach it: its approvals and the lift are None and `baseline_note` says so.
    """

    baseline: str
    target_bad_rate: float
    model_bad_rate: float | None
    baseline_bad_rate: float | None
    segments: pd.DataFrame
    baseline_note: str | None = None

    @property
    def baseline_reaches(self) -> bool:
        return self.baseline_note is None

    def lift(self, segment: str) -> float | None:
        value = self.segments.set_index("segment").loc[segment, "lift"]
        return None if value is None or pd.isna(value) else float(value)

    def to_dict(self) -> dict[str, object]:
        return {
            "baseline": self.baseline,
            "target_bad_rate": self.target_bad_rate,
            "model_bad_rate": self.model_bad_rate,
            "baseline_bad_rate": self.baseline_bad_rate,
            "baseline_reaches_target": self.baseline_reaches,
            "baseline_note": self.baseline_note,
            "segments": _records(self.segments),
        }


def trained_rows_sentence(found: int, rows: int) -> str:
    """'4,812 of 6,000 rows (80.2%) are rows the model was trained on'."""
    share = found / rows if rows else 0.0
    shown = "under 0.1%" if 0 < share < 0.001 else f"{share:.1%}"
    return f"{found:,} of {rows:,} rows ({shown}) are rows the model was trained on"


@dataclass(frozen=True)
class FairnessReport:
    """The whole audit of one model on one table; `.to_json()` and `report.render_html` view it.

    `verdict` is "pass" only when every check ran on every declared group and all are within the
    limits; "fail" when any check is outside them; otherwise "incomplete".
    """

    model: dict[str, object]
    data: dict[str, object]
    cutoffs: Cutoffs
    limits: FairnessLimits
    audit: FairnessAudit
    overall: dict[str, float]
    attributes: list[AttributeAudit]
    checks: list[Check]
    proxies: list[ProxyAudit]
    inclusion: InclusionLift | None
    has_oracle: bool
    coverage: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    proxy_skipped: dict[str, str] = field(default_factory=dict)

    @property
    def unchecked(self) -> list[Unchecked]:
        """Every group the audit could not check, across attributes (the verdict is then never 'pass')."""
        return [u for a in self.attributes for u in a.unchecked]

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]

    @property
    def not_run(self) -> list[Check]:
        return [c for c in self.checks if c.passed is None]

    @property
    def within_noise(self) -> list[Check]:
        """Checks, passed or failed, whose interval crosses the limit: their verdict could be sampling noise."""
        return [c for c in self.checks if c.within_noise]

    @property
    def passes_within_noise(self) -> list[Check]:
        """Passed checks whose interval crosses the limit; a failure within noise is said among the failures."""
        return [c for c in self.within_noise if c.passed]

    @property
    def verdict(self) -> Verdict:
        if self.failures:
            return "fail"
        if self.not_run or self.unchecked:
            return "incomplete"
        return "pass"

    @property
    def passed(self) -> bool:
        """True only when the verdict is 'pass'."""
        return self.verdict == "pass"

    def attribute(self, name: str) -> AttributeAudit:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(f"no audited attribute {name!r}; audited: {', '.join(a.name for a in self.attributes)}")

    @property
    def headline(self) -> str:
        return " ".join([self._verdict_sentence(), *self._caveats()])

    def _trained_rows_words(self) -> str:
        """Which of the rows the model was trained on: the table its run read, or those its run recorded."""
        found, rows = self.data.get("training_rows"), self.data.get("rows")
        counted = (found, rows) if isinstance(found, int) and isinstance(rows, int) else None
        if self.data.get("trained_table"):
            of = f"; {counted[0]:,} of its {counted[1]:,} rows are training rows" if counted else ""
            return f"These are the rows the model was trained on (the table its training run read{of})"
        return trained_rows_sentence(*counted) if counted else "These are rows the model was trained on"

    def _caveats(self) -> list[str]:
        out = []
        if self.data.get("trained_on"):
            out.append(
                f"{self._trained_rows_words()}: it has learnt their outcomes, so its AUC and approvals by group here "
                "flatter it. Audit the held-out part (without --all-rows), or every row of newer loans."
            )
        noisy = self.within_noise
        if noisy:
            ran = [c for c in self.checks if c.passed is not None]
            parts = [
                _share(sum(c.passed is passed for c in noisy), sum(c.passed is passed for c in ran), one, many)
                for passed, one, many in ((False, "failure", "failures"), (True, "pass", "passes"))
            ]
            single = len(noisy) == 1
            level = f"{100 * self.audit.confidence:g}%"
            sentence = (
                f"{' and '.join(p for p in parts if p)} {'is' if single else 'are'} within sampling noise of "
                f"{'its limit' if single else 'their limits'} ({'its' if single else 'their'} {level} interval "
                "crosses the limit): more rows are needed to be sure."
            )
            out.append(sentence[0].upper() + sentence[1:])
        if self.proxy_skipped:
            out.append(
                f"The proxy audit could not run for {', '.join(self.proxy_skipped)} (too few rows per group; "
                "see the notes)."
            )
        return out

    def _verdict_sentence(self) -> str:
        ran = [c for c in self.checks if c.passed is not None]
        gaps = []
        if self.unchecked:
            gaps.append(
                f"{len(self.unchecked)} group(s) could not be checked in full (each listed with its size and why)"
            )
        if self.not_run:
            gaps.append(f"{len(self.not_run)} check(s) could not run")
        if self.verdict == "fail":
            also = f" The audit is also incomplete: {' and '.join(gaps)}." if gaps else ""
            return f"FAIL: {len(self.failures)} of {len(ran)} checks are outside the limits.{also}"
        if self.verdict == "incomplete":
            return (
                f"INCOMPLETE: the {len(ran)} checks that ran are within the limits, but {' and '.join(gaps)}; "
                "this is not a pass."
            )
        return (
            f"PASS: all {len(ran)} checks on every declared group are within the limits (disparate impact ratio >= "
            f"{self.limits.disparate_impact_min:g}, equal opportunity difference <= "
            f"{self.limits.equal_opportunity_max:g}, calibration gap <= {self.limits.calibration_gap_max:g})."
        )

    def metrics(self) -> dict[str, float]:
        """Flat, MLflow-ready summary: fair_di_ratio_residence, fair_eo_diff_residence, ... (finite values only)."""
        m: dict[str, float | None] = {
            "fair_pass": float(self.passed),
            "fair_incomplete": float(self.verdict == "incomplete"),
            "fair_failed_checks": float(len(self.failures)),
            "fair_checks_not_run": float(len(self.not_run)),  # a failing audit may be incomplete too
            "fair_unchecked_groups": float(len(self.unchecked)),
        }
        for key in ("auc", "approval_rate", "default_rate_approved"):
            if key in self.overall:
                m[f"fair_{key}"] = self.overall[key]
        names = metric_tokens(a.name.replace(INTERSECTION_SEP, "_x_") for a in self.attributes)
        for a in self.attributes:
            t = names[a.name.replace(INTERSECTION_SEP, "_x_")]
            m[f"fair_di_ratio_{t}"] = a.di_ratio
            m[f"fair_eo_diff_{t}"] = a.eo_diff
            m[f"fair_eod_diff_{t}"] = a.eod_diff
            m[f"fair_calib_gap_{t}"] = a.calibration_gap
            m[f"fair_oracle_di_ratio_{t}"] = a.oracle_di_ratio
            groups = metric_tokens(a.groups.index)
            counted = a.groups[a.groups["counted"].astype(bool)] if len(a.groups) else a.groups
            for group, row in counted.iterrows():  # a group too small to check gives no metric to compare
                g = groups[group]
                m[f"fair_approval_rate_{t}_{g}"] = row["approval_rate"]
                m[f"fair_auc_{t}_{g}"] = row["auc"]
        for p in self.proxies:
            m[f"fair_proxy_auc_{metric_token(p.attribute)}"] = p.auc
        if self.inclusion is not None:
            for row in self.inclusion.segments.itertuples():
                if not row.counted:
                    continue
                m[f"fair_inclusion_lift_{metric_token(str(row.segment).replace('-', '_'))}"] = row.lift
        return {k: float(v) for k, v in m.items() if v is not None and np.isfinite(v)}

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "headline": self.headline,
            "passed": self.passed,
            "unchecked": [u.__dict__ for u in self.unchecked],
            "coverage": self.coverage,
            "model": self.model,
            "data": self.data,
            "cutoffs": self.cutoffs.model_dump(),
            "limits": self.limits.model_dump(),
            "min_group_rows": self.audit.min_group_rows,
            "confidence": self.audit.confidence,
            "overall": self.overall,
            "checks": [c.to_dict() for c in self.checks],
            "attributes": [a.to_dict() for a in self.attributes],
            "proxies": [p.to_dict() for p in self.proxies],
            "proxy_skipped": self.proxy_skipped,
            "inclusion": self.inclusion.to_dict() if self.inclusion is not None else None,
            "has_oracle": self.has_oracle,
            "notes": self.notes,
            "null_values": NULL_VALUES,
            "metrics": self.metrics(),
        }

    def to_json(self, indent: int = 1) -> str:
        """Strict JSON: every NaN is null, and `null_values` says what a null means where one can occur."""
        return jsonio.dumps(self.to_dict(), indent=indent)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]


# ---------------------------------------------------------------- building blocks


def lowest_bad_rate(pd_: np.ndarray, defaulted: np.ndarray) -> float:
    """The lowest bad rate among approved that approving the lowest-PD applicants can give (ties kept together)."""
    order = np.argsort(pd_, kind="stable")
    p, y = pd_[order], defaulted[order]
    rate = np.cumsum(y) / np.arange(1, len(y) + 1)
    return float(rate[np.r_[p[1:] != p[:-1], True]].min()) if len(y) else math.nan


def inclusion_lift(
    pd_model: np.ndarray,
    pd_baseline: np.ndarray,
    defaulted: np.ndarray,
    target_bad_rate: float,
    segments: dict[str, np.ndarray],
    baseline: str,
    min_rows: int = 1,
) -> InclusionLift:
    """At the same bad rate among approved, how many more of each segment the model approves.

    A segment under `min_rows` rows is shown with `counted` False: its rates are too noisy to be findings.

    `lift` is the difference in approval rate (model minus baseline, a share of the segment);
    `ratio` is model over baseline approvals (None when the baseline approves none of the segment).
    When the baseline cannot reach the target at all, its columns and the lift are None.
    """
    model_ok = approve_at_bad_rate(pd_model, defaulted, target_bad_rate)
    base_ok = approve_at_bad_rate(pd_baseline, defaulted, target_bad_rate)
    reaches = bool(base_ok.any())
    note = None
    if not reaches:
        note = (
            f"{BASELINE_CANNOT_REACH}: even the {baseline}'s lowest-PD applicants default at "
            f"{100 * lowest_bad_rate(pd_baseline, defaulted):.1f}%, above the target "
            f"{100 * target_bad_rate:.1f}%, so it would approve nobody"
        )
    out = []
    for name, mask in segments.items():
        n = int(mask.sum())
        if n == 0:
            continue
        m_rate, b_rate = float(model_ok[mask].mean()), float(base_ok[mask].mean())
        out.append(
            {
                "segment": name,
                "rows": n,
                "counted": n >= min_rows,
                "model_approved": int(model_ok[mask].sum()),
                "baseline_approved": int(base_ok[mask].sum()) if reaches else None,
                "model_approval_rate": m_rate,
                "baseline_approval_rate": b_rate if reaches else None,
                "lift": m_rate - b_rate if reaches else None,
                "ratio": m_rate / b_rate if reaches and b_rate > 0 else None,
            }
        )

    def bad(ok: np.ndarray) -> float | None:
        return float(defaulted[ok].mean()) if ok.any() else None

    return InclusionLift(
        baseline, float(target_bad_rate), bad(model_ok), bad(base_ok), pd.DataFrame(out, dtype=object), note
    )


def proxy_audit(
    X: np.ndarray,
    labels: np.ndarray,
    attribute: str,
    feature_names: list[str],
    categorical: list[int],
    audit: FairnessAudit,
    seed: int = 0,
) -> ProxyAudit | None:
    """Fit a small LightGBM to predict the attribute from the model inputs; held-out AUC and gain shares.

    Rows whose label is MISSING_GROUP (no value, or one the schema does not declare) are left out, and
    so are groups under `audit.min_group_rows` rows (named in `left_out` with their sizes). None when
    fewer than two groups remain or they are too small to fit and test a classifier.
    """
    fitted, left_out = proxy_groups(labels, audit.min_group_rows)
    keep = np.isin(labels, fitted)
    classes, y = np.unique(labels[keep], return_inverse=True)
    Xk = X[keep]
    if len(classes) < 2 or proxy_shortfall(dict(zip(classes, np.bincount(y).tolist(), strict=True))):
        return None
    if len(y) > audit.proxy_rows:
        take = _sample_keeping_groups(y, audit.proxy_rows, np.random.default_rng(seed))
        Xk, y = Xk[take], y[take]
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
    binary = len(classes) == 2
    params = {
        "objective": "binary" if binary else "multiclass",
        "learning_rate": 0.15,
        "num_leaves": 15,
        "min_data_in_leaf": 20,
        "verbosity": -1,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 1,
    }
    if not binary:
        params["num_class"] = len(classes)
    data = lgb.Dataset(Xk[tr], y[tr], categorical_feature=categorical, free_raw_data=True)
    booster = lgb.train(params, data, num_boost_round=audit.proxy_rounds)
    proba = booster.predict(Xk[te])
    if len(np.unique(y[te])) < len(classes):
        return None
    score = roc_auc_score(y[te], proba) if binary else roc_auc_score(y[te], proba, multi_class="ovr", average="macro")
    gain = booster.feature_importance("gain")
    share = gain / gain.sum() if gain.sum() > 0 else gain
    top = np.argsort(-share, kind="stable")[: audit.proxy_top_features]
    return ProxyAudit(
        attribute, float(score), int(len(y)), [(feature_names[j], float(share[j])) for j in top], left_out
    )


PROXY_MIN_ROWS = 40
PROXY_MIN_GROUP_ROWS = 5  # the held-out 30% of a stratified split then holds at least one row of each group


def _sample_keeping_groups(y: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """About `rows` row positions drawn at random, each group (a code of `y`) in its share of them but with at
    least PROXY_MIN_GROUP_ROWS rows: a plain draw could leave a small group one row, which no split can test."""
    counts = np.bincount(y)
    quota = np.maximum(np.rint(counts * (rows / len(y))).astype(np.int64), np.minimum(counts, PROXY_MIN_GROUP_ROWS))
    drawn = [rng.choice(np.flatnonzero(y == k), q, replace=False) for k, q in enumerate(quota)]
    return np.sort(np.concatenate(drawn))


def proxy_shortfall(sizes: dict[str, int]) -> str | None:
    """Why a proxy classifier cannot be fitted and tested on groups of these sizes (smallest named first), or None."""
    small = {g: n for g, n in sorted(sizes.items(), key=lambda gn: gn[1]) if n < PROXY_MIN_GROUP_ROWS}
    if small:
        return (
            f"too few rows in the smallest group{'s' if len(small) > 1 else ''}: {_sizes(small)}, under the "
            f"{PROXY_MIN_GROUP_ROWS} rows per group that fitting the classifier on 70% and testing it on the held-out "
            "30% needs"
        )
    total = sum(sizes.values())
    if total < PROXY_MIN_ROWS:
        return (
            f"too few rows in all: its groups {', '.join(sizes)} hold {counted(total, 'row')}, under the "
            f"{PROXY_MIN_ROWS} the classifier needs"
        )
    return None


def proxy_groups(labels: np.ndarray, min_rows: int) -> tuple[list[str], dict[str, int]]:
    """The groups a proxy classifier is fitted on (at least `min_rows` rows) and those left out, with their sizes."""
    sizes = pd.Series(labels[labels != MISSING_GROUP]).value_counts(sort=False)
    fitted = [str(g) for g, n in sizes.items() if n >= min_rows]
    return fitted, {str(g): int(n) for g, n in sizes.items() if n < min_rows}


def _share(n: int, of: int, one: str, many: str) -> str:
    """'the failure', 'all 3 passes', '2 of the 9 passes'; '' when n is 0."""
    noun = one if of == 1 else many
    if not n:
        return ""
    return f"the {noun}" if n == of == 1 else f"all {of} {noun}" if n == of else f"{n} of the {of} {noun}"


def _sizes(groups: dict[str, int]) -> str:
    return ", ".join(f"{g} ({counted(n, 'row')})" for g, n in groups.items())


def _proxy_note(attr: str, labels: np.ndarray, p: ProxyAudit | None, min_rows: int) -> str | None:
    if p is not None:
        if not p.left_out:
            return None
        return (
            f"proxy audit of {attr}: fitted on the groups with at least {min_rows:,} rows; left out "
            f"{_sizes(p.left_out)}."
        )
    fitted, left_out = proxy_groups(labels, min_rows)
    if len(fitted) >= 2:
        sizes = {g: int((labels == g).sum()) for g in fitted}
        why = proxy_shortfall(sizes) or "its held-out test rows miss a group"
        if min(sizes.values()) < PROXY_MIN_GROUP_ROWS:
            why += (
                f"; --min-group-rows {PROXY_MIN_GROUP_ROWS} (now {min_rows:,}) would leave such groups out of it, and "
                "out of the other checks too"
            )
        return f"proxy audit of {attr}: could not run: {why}."
    big = f"only {fitted[0]} has" if fitted else "no group has"
    tail = f" (left out: {_sizes(left_out)})." if left_out else "."
    return f"proxy audit of {attr}: could not run: {big} at least {min_rows:,} rows{tail}"


# ---------------------------------------------------------------- one attribute


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _counts(labels: np.ndarray, defaulted: np.ndarray, approved: np.ndarray, referred: np.ndarray) -> pd.DataFrame:
    """Per group: rows, approvals, outcomes and their crossings (the numerators and denominators of every rate)."""
    frame = pd.DataFrame(
        {
            "group": labels,
            "rows": 1,
            "approved": approved.astype(np.int64),
            "defaulted": defaulted,
            "repaid": 1 - defaulted,
            "approved_defaulted": approved & (defaulted == 1),
            "approved_repaid": approved & (defaulted == 0),
            "referred_or_approved": referred.astype(np.int64),
        }
    )
    return frame.groupby("group", sort=False).sum()


CI_OF = {
    "approval_rate": ("approved", "rows"),
    "default_rate_approved": ("approved_defaulted", "approved"),
    "tpr_good": ("approved_repaid", "repaid"),
    "fpr_bad": ("approved_defaulted", "defaulted"),
    "default_rate": ("defaulted", "rows"),
    "approve_or_refer_rate": ("referred_or_approved", "rows"),
}


def _spread(values: pd.Series, counted: list[str], what: str, min_rows: int) -> tuple[float | None, str | None]:
    """max - min over the counted groups where `values` is defined (see _undefined), or None and why it cannot be."""
    if len(counted) < 2:
        return None, _too_few(counted, min_rows)
    undefined = _undefined(values, counted)
    v = values.loc[[g for g in counted if g not in undefined]]
    if len(v) < 2:
        return None, f"not defined for {', '.join(undefined)} ({what}), which leaves fewer than two groups to compare"
    return float(v.max() - v.min()), None


def _undefined(values: pd.Series, counted: list[str]) -> list[str]:
    """The counted groups whose rate is undefined (its denominator is empty): left out of any difference of it."""
    return [str(g) for g in counted if pd.isna(values.loc[g])]


DIFFERENCE_WORDS = {
    "equal_opportunity_difference": "equal opportunity difference (approval rate among good borrowers)",
    "equalised_odds_difference": "equalised odds difference (the larger of the TPR and FPR differences)",
}
WHY_NO_TPR = "no repaid rows, so no TPR"
WHY_NO_FPR = "no defaulted rows, so no FPR"


def _left_out(groups: pd.DataFrame, counted: list[str]) -> dict[str, dict[str, str]]:
    """For each difference of TPRs or FPRs, the counted groups left out of it (of its TPR or FPR part) and why."""
    no_tpr = {g: WHY_NO_TPR for g in _undefined(groups["tpr_good"], counted)}
    no_fpr = {g: WHY_NO_FPR for g in _undefined(groups["fpr_bad"], counted)}
    odds = {g: f"{why}: compared on FPR only" for g, why in no_tpr.items()}
    odds |= {g: f"{why}: compared on TPR only" for g, why in no_fpr.items()}
    return {"equal_opportunity_difference": no_tpr, "equalised_odds_difference": odds}


def _too_few(counted: list[str], min_rows: int) -> str:
    if not counted:
        return f"no group has at least {min_rows:,} rows"
    return f"only one group ({counted[0]}) has at least {min_rows:,} rows"


def audit_attribute(
    name: str,
    labels: np.ndarray,
    defaulted: np.ndarray,
    pd_: np.ndarray,
    score: np.ndarray,
    cutoffs: Cutoffs,
    scale: ScoreScale,
    audit: FairnessAudit,
    limits: FairnessLimits,
    categories: list[str],
    oracle_score: np.ndarray | None = None,
    seed: int = 0,
    declared_as: list[str] | None = None,
) -> AttributeAudit:
    """Decision and threshold-free metrics for one attribute's declared groups, with a Wilson interval on each rate.

    Rows with no value (or, for an intersection, a part the schema does not declare) belong to no
    group. A value outside `categories` is listed as unchecked, not audited as a group. Groups under
    `audit.min_group_rows` rows are shown but not checked; the checks compare the counted groups only.
    Each checked statistic also gets an `audit.confidence` interval (see `check_intervals`, seeded by `seed`).
    `declared_as` words the declared categories for a value outside them (a labelled code as `1 (married)`).
    """
    approved = score >= cutoffs.approve
    counts = _counts(labels, defaulted, approved, score >= cutoffs.refer)
    di = disparate_impact(
        counts["rows"].to_dict(), counts["approved"].to_dict(), min_rows=audit.min_group_rows, categories=categories
    )
    unchecked = [Unchecked(name, str(g), int(r["rows"]), str(r["why_not"])) for g, r in di.unchecked.iterrows()] + [
        Unchecked(
            name,
            str(g),
            int(r["rows"]),
            f"{WHY_UNDECLARED} (declared: {', '.join(declared_as or categories)}); add it to the schema's categories "
            "or fix the data",
        )
        for g, r in di.groups.iterrows()
        if r["why_not"] == WHY_UNDECLARED
    ]
    shown = [g for g in categories if di.groups.loc[g, "rows"] > 0]
    inside = np.isin(labels, shown)
    unassigned = int((~inside).sum())
    no_value = int((labels == MISSING_GROUP).sum())
    counted = di.counted

    lab, dft, p, sc = labels[inside], defaulted[inside], pd_[inside], score[inside]
    if len(shown) == 0:
        return AttributeAudit(
            name=name,
            groups=di.groups.iloc[0:0],
            reference_group=None,
            worst_group=None,
            di_ratio=None,
            eo_diff=None,
            eod_diff=None,
            calibration_gap=None,
            calibration=pd.DataFrame(columns=["bin", "group", "rows", "pd_mean", "default_rate"]),
            score_edges=[],
            score_hist={},
            unchecked=unchecked,
            unassigned_rows=unassigned,
            why_not={m: "no row holds a declared group" for m in CHECK_METRICS},
            no_value_rows=no_value,
            undeclared_rows=unassigned - no_value,
        )
    repaid, ok = 1 - dft, approved[inside]
    dec = decision_frame(repaid, ok, lab)
    risk = risk_frame(dft, p, lab)
    refer = decision_frame(repaid, sc >= cutoffs.refer, lab, {"approve_or_refer_rate": selection_rate})
    groups = pd.concat([dec.by_group, risk.by_group, refer.by_group], axis=1).reindex(shown)
    groups.index.name = "group"
    groups["rows"] = groups["rows"].astype(int)
    groups["share"] = groups["rows"] / groups["rows"].sum()
    groups["di_ratio"] = di.groups.loc[shown, "di_ratio"]
    groups["below_di_limit"] = groups["di_ratio"] < limits.disparate_impact_min
    groups["counted"] = di.groups.loc[shown, "counted"].astype(bool)
    groups["why_not"] = di.groups.loc[shown, "why_not"]
    c = counts.loc[shown]
    for rate, (k, n) in CI_OF.items():
        groups[f"{rate}_low"], groups[f"{rate}_high"] = wilson_interval(
            c[k].to_numpy(), c[n].to_numpy(), audit.confidence
        )

    why: dict[str, str] = {}
    di_ratio = di.ratio
    if di_ratio is None:
        why["disparate_impact_ratio"] = (
            _too_few(counted, audit.min_group_rows)
            if len(counted) < 2
            else ("no applicant of a counted group is approved")
        )
    left_out = _left_out(groups, counted)
    unchecked += [
        Unchecked(
            name,
            g,
            int(groups.loc[g, "rows"]),
            f"{why} (approval rate among good borrowers): left out of the equal opportunity difference only",
        )
        for g, why in left_out["equal_opportunity_difference"].items()
    ]
    eo_diff, eo_why = _spread(groups["tpr_good"], counted, "no repaid borrowers", audit.min_group_rows)
    fpr_diff, _ = _spread(groups["fpr_bad"], counted, "no defaulted borrowers", audit.min_group_rows)
    eod_diff = max(eo_diff, fpr_diff) if eo_diff is not None and fpr_diff is not None else None
    calibration_gap, cg_why = _spread(groups["calibration_error"], counted, "no rows", audit.min_group_rows)
    for metric, w in (("equal_opportunity_difference", eo_why), ("calibration_gap", cg_why)):
        if w:
            why[metric] = w
    intervals = check_intervals(
        counts.loc[counted],
        groups.loc[counted, "pd_mean"],
        dict(zip(CHECK_METRICS, (di_ratio, eo_diff, calibration_gap), strict=True)),
        audit.confidence,
        np.random.default_rng([seed, zlib.crc32(name.encode())]),
        audit.interval_draws,
    )

    bins = pd_bins(p, audit.calibration_bins)
    calib = calibration_table(dft, p, lab, bins)

    edges = np.linspace(scale.min_score, scale.max_score, audit.score_bins + 1)
    hist = {str(g): np.histogram(sc[lab == g], edges)[0].astype(int).tolist() for g in groups.index}
    for q in (0.1, 0.5, 0.9):
        groups[f"score_p{int(q * 100)}"] = [float(np.quantile(sc[lab == g], q)) for g in groups.index]

    reference, worst = di.reference, di.worst
    findings: list[str] = []
    if di_ratio is not None and reference is not None and worst is not None:
        ref_rate, worst_rate = groups.loc[reference, "approval_rate"], groups.loc[worst, "approval_rate"]
        line = (
            f"{name}: {worst} applicants are approved at {_pct(worst_rate)} against {_pct(ref_rate)} for "
            f"{reference} (disparate impact ratio {di_ratio:.2f})"
        )
        below = di_ratio < limits.disparate_impact_min
        findings.append(line + (f", below the limit {limits.disparate_impact_min:g}." if below else "."))
    if len(counted) >= 2:
        findings.append(_calibration_sentence(name, groups.loc[counted], calibration_gap))

    oracle_di = oracle_eo = None
    if oracle_score is not None:
        o_ok = oracle_score[inside] >= cutoffs.approve
        odec = decision_frame(repaid, o_ok, lab, {"approval_rate": selection_rate, "tpr_good": tpr_good})
        groups["oracle_approval_rate"] = odec.by_group["approval_rate"]
        groups["oracle_tpr_good"] = odec.by_group["tpr_good"]
        groups["oracle_di_ratio"] = groups["oracle_approval_rate"] / groups.loc[counted, "oracle_approval_rate"].max()
        groups["shortfall_vs_oracle"] = groups["oracle_approval_rate"] - groups["approval_rate"]
        o_counts = pd.Series(o_ok.astype(np.int64)).groupby(lab).sum()
        oracle_di = disparate_impact(
            counts.loc[counted, "rows"].to_dict(), o_counts.loc[counted].to_dict(), min_rows=1
        ).ratio
        oracle_eo, _ = _spread(groups["oracle_tpr_good"], counted, "no repaid borrowers", audit.min_group_rows)
        findings.extend(_oracle_findings(name, groups.loc[counted], audit, limits, di_ratio, oracle_di, worst))

    return AttributeAudit(
        name=name,
        groups=groups,
        reference_group=reference,
        worst_group=worst,
        di_ratio=di_ratio,
        eo_diff=eo_diff,
        eod_diff=eod_diff,
        calibration_gap=calibration_gap,
        calibration=calib,
        score_edges=edges.tolist(),
        score_hist=hist,
        oracle_di_ratio=oracle_di,
        oracle_eo_diff=oracle_eo,
        unchecked=unchecked,
        unassigned_rows=unassigned,
        why_not=why,
        findings=findings,
        intervals=intervals,
        no_value_rows=no_value,
        undeclared_rows=unassigned - no_value,
        left_out=left_out,
    )


def check_intervals(
    counts: pd.DataFrame,
    pd_mean: pd.Series,
    values: dict[str, float | None],
    confidence: float,
    rng: np.random.Generator,
    draws: int,
) -> dict[str, tuple[float | None, float | None]]:
    """A `confidence` interval of each checked statistic that has a value, over the counted groups' `counts`.

    A parametric bootstrap: every group's approval rate, TPR and default rate are drawn from the
    Beta posteriors of their counts (metrics.rate_draws); the predicted PDs are held fixed. Each
    check is a spread between groups: of log approval rates (the disparate impact ratio is
    exp(-spread), lowest over highest rate), of TPRs, and of observed default rate minus mean
    predicted PD. Recomputing that extremum per draw would bias it (noise always widens a spread, so
    between alike groups the value sat at the edge of its own interval); metrics.range_interval
    instead bounds every pairwise difference at once and takes the spread of those bounds.
    A rate at 0 or 1 (a group with no approvals, say) has Beta draws never exactly there, so the
    interval could miss such a value; as Jeffreys' interval does for a count at its boundary, the
    end is then moved to the value itself. Elsewhere every pair's band holds its observed difference,
    so the interval holds the value unmoved.
    """

    def holding(metric: str, low: float | None, high: float | None) -> tuple[float | None, float | None]:
        value = values[metric]
        if low is None or high is None or value is None:
            return None, None
        return min(low, value), max(high, value)

    out: dict[str, tuple[float | None, float | None]] = {}
    if values.get("disparate_impact_ratio") is not None:
        rates = rate_draws(counts["approved"], counts["rows"], draws, rng)
        low, high = range_interval(np.log(rates), confidence)
        out["disparate_impact_ratio"] = holding(
            "disparate_impact_ratio",
            None if high is None else math.exp(-high),
            None if low is None else math.exp(-low),
        )
    if values.get("equal_opportunity_difference") is not None:
        repaid = counts[counts["repaid"] > 0]  # a group with no repaid rows has no TPR: it is not in the difference
        tpr = rate_draws(repaid["approved_repaid"], repaid["repaid"], draws, rng)
        out["equal_opportunity_difference"] = holding("equal_opportunity_difference", *range_interval(tpr, confidence))
    if values.get("calibration_gap") is not None:
        error = rate_draws(counts["defaulted"], counts["rows"], draws, rng) - pd_mean.to_numpy(dtype=np.float64)
        out["calibration_gap"] = holding("calibration_gap", *range_interval(error, confidence))
    return out


def _oracle_findings(
    name: str,
    groups: pd.DataFrame,
    audit: FairnessAudit,
    limits: FairnessLimits,
    di_ratio: float | None,
    oracle_di: float | None,
    worst: str | None,
) -> list[str]:
    if groups.empty:
        return []
    out = [
        f"{name}: against a scorer that knew the true default probability, at the same cut-off the model "
        + "; ".join(
            f"approves {100 * abs(r['shortfall_vs_oracle']):.1f} percentage points "
            f"{'fewer' if r['shortfall_vs_oracle'] > 0 else 'more'} {g} applicants"
            for g, r in groups.iterrows()
        )
        + "."
    ]
    for g, row in groups.iterrows():
        if row["shortfall_vs_oracle"] > audit.oracle_tolerance:
            out.append(
                f"The model approves {_pct(row['approval_rate'])} of {g} applicants; a scorer that knew each "
                f"applicant's true default probability would approve {_pct(row['oracle_approval_rate'])} at the "
                f"same cut-off. The model approves fewer {g} applicants than their risk warrants: it is "
                f"penalising a thin footprint, not risk."
            )
    if di_ratio is None or oracle_di is None:
        return out
    reference = str(groups["approval_rate"].idxmax())
    if di_ratio < oracle_di - audit.oracle_tolerance:
        out.append(
            f"{name}: the model's disparate impact ratio {di_ratio:.2f} is below the oracle's "
            f"{oracle_di:.2f}: relative to {reference} applicants, {worst} applicants are approved less "
            f"often than their true risk warrants."
        )
    elif di_ratio < limits.disparate_impact_min:
        out.append(
            f"{name}: even the oracle approves {worst} applicants less often (ratio {oracle_di:.2f}); "
            f"the gap reflects true risk at this cut-off, not the model."
        )
    return out


def _calibration_sentence(name: str, groups: pd.DataFrame, gap: float | None) -> str:
    parts = []
    for g, row in groups.sort_values("calibration_error").iterrows():
        err = row["calibration_error"]
        verb = "over-states" if err < 0 else "under-states"
        parts.append(
            f"{verb} the risk of {g} applicants (observed default {_pct(row['default_rate'])}, "
            f"predicted {_pct(row['pd_mean'])})"
        )
    tail = f" - a calibration gap of {gap:.3f}." if gap is not None else "."
    return f"{name}: the model " + "; ".join(parts) + tail


CHECK_METRICS = ("disparate_impact_ratio", "equal_opportunity_difference", "calibration_gap")


def versus_limit(value: float, limit: float) -> str:
    """`value` with 3 decimals, or as many more (up to 6) as it takes not to print the same as `limit`."""
    for digits in range(3, 7):
        if f"{value:.{digits}f}" != f"{limit:.{digits}f}":
            break
    return f"{value:.{digits}f}"


def checks_for(a: AttributeAudit, limits: FairnessLimits, confidence: float = 0.95) -> list[Check]:
    """The three pass/fail lines for one attribute, each a sentence with its interval (or why it could not run).

    Pass or fail is decided on the point estimate alone; the `confidence` interval only says how sure that is.
    """

    def check(metric: str, value: float | None, limit: float, higher_is_better: bool, words: str) -> Check:
        if value is None or not np.isfinite(value):
            why = a.why_not.get(metric, "the value is undefined")
            return Check(a.name, metric, None, limit, None, f"{words} for {a.name} could not be checked: {why}")
        ok = value >= limit if higher_is_better else value <= limit
        verdict = "within" if ok else "outside"
        low, high = a.intervals.get(metric, (None, None))
        span = (
            f" ({100 * confidence:g}% interval {versus_limit(low, limit)} to {versus_limit(high, limit)})"
            if low is not None and high is not None
            else ""
        )
        return Check(
            a.name,
            metric,
            value,
            limit,
            bool(ok),
            f"{words} for {a.name} is {versus_limit(value, limit)}{span}, {verdict} the limit {limit:g}",
            low,
            high,
        )

    pair = f" ({a.worst_group} vs {a.reference_group})" if a.worst_group is not None else ""
    return [
        check("disparate_impact_ratio", a.di_ratio, limits.disparate_impact_min, True, f"Disparate impact ratio{pair}"),
        check(
            "equal_opportunity_difference",
            a.eo_diff,
            limits.equal_opportunity_max,
            False,
            "Equal opportunity difference (approval rate among good borrowers)",
        ),
        check(
            "calibration_gap",
            a.calibration_gap,
            limits.calibration_gap_max,
            False,
            "Calibration gap (observed minus predicted default)",
        ),
    ]


# ---------------------------------------------------------------- the whole report


def table_name(data: dict[str, object] | None) -> str:
    source = str((data or {}).get("source") or "")
    if not source or source.startswith(("table ", "the table")):  # the CLI's source names the table itself
        return source or "the table"
    return f"table {source}"


def _check_table(frame: pd.DataFrame, schema: Schema, table: str) -> None:
    if not schema.protected:
        raise FairnessError(ERR_NO_PROTECTED.format(schema=schema.name))
    if len(frame) == 0:
        raise FairnessError(ERR_EMPTY.format(table=table))
    needed = [schema.target, *schema.protected_names, *schema.feature_names]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise FairnessError(ERR_MISSING_COLUMNS.format(table=table, columns=", ".join(absent)))
    y = pd.to_numeric(frame[schema.target], errors="coerce")
    found = sorted({repr(v) if isinstance(v, str) else str(v) for v in frame[schema.target][~y.isin([0, 1])].unique()})
    if found:
        raise FairnessError(ERR_TARGET.format(table=table, column=schema.target, found=", ".join(found[:5])))


def _coverage(a: AttributeAudit, rows: int, intersection: bool) -> list[str]:
    part = " in one of its parts" if intersection else ""
    tail = f"; they belong to no {a.name} group and are not in its checks."
    out = []
    if a.no_value_rows:
        out.append(f"{a.name}: {a.no_value_rows:,} of {rows:,} rows have no value{part}{tail}")
    if a.undeclared_rows:
        listed = "" if intersection else " (listed with the groups not checked)"
        out.append(
            f"{a.name}: {a.undeclared_rows:,} of {rows:,} rows hold a value the schema does not declare"
            f"{part}{listed}{tail}"
        )
    return out


def _declared_as(schema: Schema, columns: list[str]) -> list[str] | None:
    """A labelled attribute's categories as `code (name)`, for a message asking to declare a value; None otherwise."""
    if len(columns) != 1 or columns[0] not in schema.group_names:
        return None
    names = schema.group_names[columns[0]]
    protected = next(p for p in schema.protected if p.name == columns[0])
    return [f"{code} ({names[code]})" if code in names else code for code in protected.categories]


def _unassigned(
    frame: pd.DataFrame, columns: list[str], declared: dict[str, list[str]], names: dict[str, dict[str, str]]
) -> tuple[int, int]:
    """Rows missing any of `columns`, and rows holding all of them with a value one of them does not declare."""
    parts = [protected_values(frame[c], names.get(c)) for c in columns]
    missing = np.logical_or.reduce([p == MISSING_GROUP for p in parts])
    undeclared = np.logical_or.reduce([~np.isin(p, declared[c]) for c, p in zip(columns, parts, strict=True)])
    return int(missing.sum()), int((undeclared & ~missing).sum())


def build_report(
    frame: pd.DataFrame,
    schema: Schema,
    pd_model: np.ndarray,
    score: np.ndarray,
    *,
    scale: ScoreScale,
    cutoffs: Cutoffs,
    limits: FairnessLimits | None = None,
    audit: FairnessAudit | None = None,
    baseline_pd: np.ndarray | None = None,
    baseline_name: str = "bureau-only scorecard",
    model: dict[str, object] | None = None,
    data: dict[str, object] | None = None,
    seed: int = 0,
) -> FairnessReport:
    """Audit given PDs and scores of the rows of `frame` (which carries target and protected columns).

    Raises FairnessError when the table cannot be audited or not a single check could run.
    """
    limits = limits or FairnessLimits()
    audit = audit or FairnessAudit()
    table = table_name(data)
    _check_table(frame, schema, table)
    n = len(frame)
    for what, arr in (("pd", pd_model), ("score", score), ("baseline pd", baseline_pd)):
        if arr is not None and len(arr) != n:
            raise FairnessError(ERR_LENGTH.format(what=what, got=len(arr), rows=n))
    defaulted = pd.to_numeric(frame[schema.target]).to_numpy(dtype=np.int64)
    pd_model = np.asarray(pd_model, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    oracle_pd = None
    if schema.oracle_column and schema.oracle_column in frame.columns:
        oracle_pd = pd.to_numeric(frame[schema.oracle_column], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(oracle_pd).any():
            oracle_pd = None
    oracle_score = pd_to_score(oracle_pd, scale) if oracle_pd is not None else None

    approved = score >= cutoffs.approve
    notes: list[str] = []
    overall = {
        "rows": float(n),
        "default_rate": float(defaulted.mean()),
        "approval_rate": float(approved.mean()),
        "default_rate_approved": default_rate_among_approved(1 - defaulted, approved.astype(int)),
        "auc": auc(defaulted, pd_model),
    }
    if not approved.any():
        notes.append(f"nobody is approved at score >= {cutoffs.approve:g}: the default rate among approved is null.")
    if oracle_pd is not None:
        overall["oracle_auc"] = auc(defaulted, oracle_pd)
        overall["oracle_approval_rate"] = float(np.mean(np.asarray(oracle_score) >= cutoffs.approve))

    declared, names = schema.protected_groups, schema.group_names
    columns = [[p] for p in schema.protected_names]
    if crossed_attributes(schema):
        columns.append(crossed_attributes(schema))
    attributes: list[AttributeAudit] = []
    coverage: list[str] = []
    for cols in columns:
        a = audit_attribute(
            INTERSECTION_SEP.join(cols),
            group_labels(frame, cols, declared, names),
            defaulted,
            pd_model,
            score,
            cutoffs,
            scale,
            audit,
            limits,
            intersection_categories([declared[c] for c in cols]),
            oracle_score,
            seed,
            _declared_as(schema, cols),
        )
        no_value, undeclared = _unassigned(frame, cols, declared, names)
        a = replace(a, no_value_rows=no_value, undeclared_rows=undeclared)
        attributes.append(a)
        coverage.extend(_coverage(a, n, len(cols) > 1))
    checks = [c for a in attributes for c in checks_for(a, limits, audit.confidence)]
    if not any(c.passed is not None for c in checks):
        why = "; ".join(f"{a.name}: {next(iter(a.why_not.values()), 'not computed')}" for a in attributes)
        raise FairnessError(ERR_NO_CHECKS.format(table=table, rows=n, why=why, min_rows=audit.min_group_rows))

    X = schema.to_matrix(frame)
    proxies = []
    proxy_skipped: dict[str, str] = {}
    for attr in schema.protected_names:
        labels = group_labels(frame, [attr], names=names)
        labels = np.where(np.isin(labels, declared[attr]), labels, MISSING_GROUP)
        p = proxy_audit(X, labels, attr, schema.feature_names, schema.categorical_indices, audit, seed)
        note = _proxy_note(attr, labels, p, audit.min_group_rows)
        if note:
            notes.append(note)
        if p is None:
            proxy_skipped[attr] = note or ""
        else:
            proxies.append(p)

    inclusion = None
    if baseline_pd is not None:
        target = overall["default_rate_approved"]
        segments = {"all": np.ones(n, dtype=bool)}
        thin = thin_file_mask(frame, schema)
        if thin is not None:
            segments[THIN_FILE] = thin
        for attr in schema.protected_names:
            labels = group_labels(frame, [attr], names=names)
            for g in declared[attr]:
                segments[f"{attr}={g}"] = labels == g
        if np.isfinite(target):
            inclusion = inclusion_lift(
                pd_model,
                np.asarray(baseline_pd, dtype=np.float64),
                defaulted,
                target,
                segments,
                baseline_name,
                audit.min_group_rows,
            )
            if inclusion.baseline_note:
                notes.append(f"inclusion lift: {inclusion.baseline_note}.")
        else:
            notes.append("inclusion lift: the model approves nobody at its cut-off, so there is no bad rate to match.")
    else:
        notes.append("inclusion lift: no bureau-only baseline was given, so it is not computed.")
    if oracle_pd is None:
        notes.append("oracle yardstick: the table has no oracle (true PD) column.")

    return FairnessReport(
        model=model or {},
        data={
            "rows": n,
            "rows_fingerprint": rows_fingerprint(frame[schema.id_column])
            if schema.id_column in frame.columns
            else None,
            "schema": schema.name,
            "schema_fingerprint": schema.fingerprint,
            **(data or {}),
        },
        cutoffs=cutoffs,
        limits=limits,
        audit=audit,
        overall=overall,
        attributes=attributes,
        checks=checks,
        proxies=proxies,
        inclusion=inclusion,
        has_oracle=oracle_pd is not None,
        coverage=coverage,
        notes=notes,
        proxy_skipped=proxy_skipped,
    )


def fairness_report(
    scorer: Scorer,
    frame: pd.DataFrame,
    *,
    baseline: PdModel | None = None,
    limits: FairnessLimits | None = None,
    audit: FairnessAudit | None = None,
    data: dict[str, object] | None = None,
) -> FairnessReport:
    """Score `frame` with `scorer` (a training.scorer.Scorer) and audit it; the baseline feeds the inclusion lift."""
    require_frame(frame)
    _check_table(frame, scorer.schema, table_name(data))
    margin = scorer.margin(scorer.matrix(frame))
    pd_model = expit(margin)
    score = margin_to_clipped_score(margin, scorer.scale)
    baseline_pd = baseline.predict_pd(frame) if baseline is not None else None
    meta = getattr(scorer, "meta", {}) or {}
    model = {k: meta[k] for k in ("name", "version", "run_id", "family", "aliases") if k in meta}
    return build_report(
        frame,
        scorer.schema,
        pd_model,
        score,
        scale=scorer.scale,
        cutoffs=scorer.cutoffs,
        limits=limits,
        audit=audit,
        baseline_pd=baseline_pd,
        model=model,
        data=data,
    )


def rows_fingerprint(ids: pd.Series) -> str:
    """Which rows were audited, in 16 hex digits: the same ids in any order give the same fingerprint, so two audits
    (of a champion and a challenger, say) can be told to be of the same rows or not."""
    if ids.dtype.kind == "f" and bool(np.all(np.mod(ids.dropna(), 1) == 0)):  # 12.0, as a float column holds 12
        ids = ids.astype("Int64")
    hashed = np.sort(pd.util.hash_pandas_object(ids.astype(str), index=False).to_numpy())
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
