"""Fairness audit of a scorer on a table: one FairnessReport, built on fairlearn's MetricFrame (see metrics)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from fairlearn.metrics import (
    count,
    mean_prediction,
    selection_rate,
    true_positive_rate,
)
from pydantic import Field
from scipy.special import expit
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from thinfile.features.schema import Schema
from thinfile.features.settings import Section
from thinfile.training.evaluate import metric_token, thin_file_mask
from thinfile.training.fairness.metrics import (
    INTERSECTION_SEP,
    MISSING_GROUP,
    _metric_frame,
    approve_at_bad_rate,
    auc,
    decision_frame,
    default_rate,
    default_rate_among_approved,
    group_labels,
    pd_bins,
    risk_frame,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import (
    ScoreScale,
    clip,
    margin_to_score,
    pd_to_score,
)


class FairnessLimits(Section):
    disparate_impact_min: float = 0.8
    equal_opportunity_max: float = 0.05
    calibration_gap_max: float = 0.02


class FairnessAudit(Section):
    """How the fairness report is computed (the pass/fail limits are in FairnessLimits)."""

    min_group_rows: int = Field(50, ge=1, description="smaller groups are listed but left out of the audit")
    calibration_bins: int = Field(10, ge=2, description="equal-count bins of predicted PD (deciles)")
    score_bins: int = Field(30, ge=5, description="histogram bins of the score distribution per group")
    proxy_rows: int = Field(30_000, ge=100, description="rows sampled to fit each proxy classifier")
    proxy_rounds: int = Field(80, ge=1, description="boosting rounds of each proxy classifier")
    proxy_top_features: int = Field(5, ge=1, description="features listed as carrying each proxy")
    oracle_tolerance: float = Field(
        0.01, ge=0, description="approval-rate shortfall vs the oracle that the report calls out in words"
    )
    mitigate_attribute: str | None = Field(
        None, description="protected attribute the challenger reweighs against (None: the schema's first)"
    )
    mitigation_rounds: int = Field(3, ge=1, description="reweigh-and-refit rounds of the mitigated challenger")
    mitigation_step: float = Field(
        6.0, ge=0, description="how strongly each round upweights repaid borrowers of less-approved groups"
    )


THIN_FILE = "thin-file"

ERR_NO_PROTECTED = "schema {schema!r} declares no protected attributes; a fairness audit needs at least one"
ERR_MISSING_COLUMNS = (
    "the table lacks column(s) {columns}: the fairness audit needs the target and every protected "
    "attribute beside the model inputs"
)
ERR_TARGET = "target column {column!r} must hold 0/1 outcomes with no gaps; found {found}"
ERR_LENGTH = "{what} has {got} values for {rows} rows"
ERR_EMPTY = "the table has no rows to audit"


class FairnessError(ValueError):
    """A table or model that cannot be audited, with a message that says why."""


class PdModel(Protocol):
    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray: ...


# ---------------------------------------------------------------- metric functions (fairlearn signature)


# ---------------------------------------------------------------- report pieces


@dataclass(frozen=True)
class Check:
    """One pass/fail line against a configured limit."""

    attribute: str
    metric: str
    value: float
    limit: float
    passed: bool | None
    sentence: str


@dataclass(frozen=True)
class AttributeAudit:
    """Every metric for one protected attribute (or an intersection of two)."""

    name: str
    groups: pd.DataFrame
    reference_group: str
    worst_group: str
    di_ratio: float
    eo_diff: float
    eod_diff: float
    calibration_gap: float
    calibration: pd.DataFrame
    score_edges: list[float]
    score_hist: dict[str, list[int]]
    oracle_di_ratio: float | None = None
    oracle_eo_diff: float | None = None
    left_out: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

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
            "calibration": _records(self.calibration),
            "score_edges": self.score_edges,
            "score_hist": self.score_hist,
            "left_out": self.left_out,
            "findings": self.findings,
        }


@dataclass(frozen=True)
class ProxyAudit:
    """How well the model inputs predict one protected attribute, and which inputs carry it."""

    attribute: str
    auc: float
    rows: int
    top_features: list[tuple[str, float]]

    def to_dict(self) -> dict[str, object]:
        return {
            "attribute": self.attribute,
            "auc": self.auc,
            "rows": self.rows,
            "top_features": [{"feature": f, "share": s} for f, s in self.top_features],
        }


@dataclass(frozen=True)
class InclusionLift:
    """Approvals of the model vs a baseline when both are held to the same bad rate among approved."""

    baseline: str
    target_bad_rate: float
    model_bad_rate: float
    baseline_bad_rate: float
    segments: pd.DataFrame

    def lift(self, segment: str) -> float:
        row = self.segments.set_index("segment").loc[segment]
        return float(row["lift"])

    def to_dict(self) -> dict[str, object]:
        return {
            "baseline": self.baseline,
            "target_bad_rate": self.target_bad_rate,
            "model_bad_rate": self.model_bad_rate,
            "baseline_bad_rate": self.baseline_bad_rate,
            "segments": _records(self.segments),
        }


@dataclass(frozen=True)
class FairnessReport:
    """The whole audit of one model on one table; `.to_json()` and `fairness_html.render_html` view it."""

    model: dict[str, object]
    data: dict[str, object]
    cutoffs: Cutoffs
    limits: FairnessLimits
    overall: dict[str, float]
    attributes: list[AttributeAudit]
    checks: list[Check]
    proxies: list[ProxyAudit]
    inclusion: InclusionLift | None
    has_oracle: bool
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed is not False for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.passed is False]

    def attribute(self, name: str) -> AttributeAudit:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(f"no audited attribute {name!r}; audited: {', '.join(a.name for a in self.attributes)}")

    @property
    def headline(self) -> str:
        assessed = [c for c in self.checks if c.passed is not None]
        if self.passed:
            return (
                f"PASS: all {len(assessed)} checks are within the limits (disparate impact ratio >= "
                f"{self.limits.disparate_impact_min:g}, equal opportunity difference <= "
                f"{self.limits.equal_opportunity_max:g}, calibration gap <= {self.limits.calibration_gap_max:g})."
            )
        return f"FAIL: {len(self.failures)} of {len(assessed)} checks are outside the limits."

    def metrics(self) -> dict[str, float]:
        """Flat, MLflow-ready summary: fair_di_ratio_residence, fair_eo_diff_residence, ..."""
        m: dict[str, float] = {"fair_pass": float(self.passed), "fair_failed_checks": float(len(self.failures))}
        for key in ("auc", "approval_rate", "default_rate_approved"):
            if key in self.overall:
                m[f"fair_{key}"] = self.overall[key]
        for a in self.attributes:
            t = metric_token(a.name.replace(INTERSECTION_SEP, "_x_"))
            m[f"fair_di_ratio_{t}"] = a.di_ratio
            m[f"fair_eo_diff_{t}"] = a.eo_diff
            m[f"fair_eod_diff_{t}"] = a.eod_diff
            m[f"fair_calib_gap_{t}"] = a.calibration_gap
            if a.oracle_di_ratio is not None:
                m[f"fair_oracle_di_ratio_{t}"] = a.oracle_di_ratio
            for group, row in a.groups.iterrows():
                g = metric_token(str(group).replace(INTERSECTION_SEP, "_"))
                m[f"fair_approval_rate_{t}_{g}"] = row["approval_rate"]
                m[f"fair_auc_{t}_{g}"] = row["auc"]
        for p in self.proxies:
            m[f"fair_proxy_auc_{metric_token(p.attribute)}"] = p.auc
        if self.inclusion is not None:
            for row in self.inclusion.segments.itertuples():
                m[f"fair_inclusion_lift_{metric_token(row.segment.replace('-', '_'))}"] = row.lift
        return {k: float(v) for k, v in m.items() if v is not None and np.isfinite(v)}

    def to_dict(self) -> dict[str, object]:
        return {
            "headline": self.headline,
            "passed": self.passed,
            "model": self.model,
            "data": self.data,
            "cutoffs": self.cutoffs.model_dump(),
            "limits": self.limits.model_dump(),
            "overall": self.overall,
            "checks": [c.__dict__ for c in self.checks],
            "attributes": [a.to_dict() for a in self.attributes],
            "proxies": [p.to_dict() for p in self.proxies],
            "inclusion": self.inclusion.to_dict() if self.inclusion is not None else None,
            "has_oracle": self.has_oracle,
            "notes": self.notes,
            "metrics": self.metrics(),
        }

    def to_json(self, indent: int = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default, allow_nan=False)


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def _clean(v: object) -> object:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


# ---------------------------------------------------------------- building blocks


def inclusion_lift(
    pd_model: np.ndarray,
    pd_baseline: np.ndarray,
    defaulted: np.ndarray,
    target_bad_rate: float,
    segments: dict[str, np.ndarray],
    baseline: str,
) -> InclusionLift:
    """At the same bad rate among approved, how many more of each segment the model approves.

    `lift` is the difference in approval rate (model minus baseline, a share of the segment);
    `ratio` is model over baseline approvals (NaN when the baseline approves none of the segment).
    """
    model_ok = approve_at_bad_rate(pd_model, defaulted, target_bad_rate)
    base_ok = approve_at_bad_rate(pd_baseline, defaulted, target_bad_rate)
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
                "model_approved": int(model_ok[mask].sum()),
                "baseline_approved": int(base_ok[mask].sum()),
                "model_approval_rate": m_rate,
                "baseline_approval_rate": b_rate,
                "lift": m_rate - b_rate,
                "ratio": m_rate / b_rate if b_rate > 0 else math.nan,
            }
        )
    bad = lambda ok: float(defaulted[ok].mean()) if ok.any() else math.nan  # noqa: E731
    return InclusionLift(baseline, float(target_bad_rate), bad(model_ok), bad(base_ok), pd.DataFrame(out))


def proxy_audit(
    X: np.ndarray,
    labels: np.ndarray,
    attribute: str,
    feature_names: list[str],
    categorical: list[int],
    audit: FairnessAudit,
    seed: int = 0,
) -> ProxyAudit | None:
    """Fit a small LightGBM to predict the attribute from the model inputs; held-out AUC and gain shares."""
    keep = labels != MISSING_GROUP
    classes, y = np.unique(labels[keep], return_inverse=True)
    Xk = X[keep]
    if len(classes) < 2 or len(y) < 40 or np.bincount(y).min() < 5:
        return None
    rng = np.random.default_rng(seed)
    if len(y) > audit.proxy_rows:
        take = rng.choice(len(y), audit.proxy_rows, replace=False)
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
    return ProxyAudit(attribute, float(score), int(len(y)), [(feature_names[j], float(share[j])) for j in top])


# ---------------------------------------------------------------- one attribute


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def audit_attribute(
    name: str,
    labels: np.ndarray,
    defaulted: np.ndarray,
    pd_: np.ndarray,
    score: np.ndarray,
    cutoffs: Cutoffs,
    scale: ScoreScale,
    audit: FairnessAudit,
    oracle_score: np.ndarray | None = None,
) -> AttributeAudit | None:
    """Decision and threshold-free metrics for one attribute's groups; None if fewer than two groups are big enough."""
    sizes = pd.Series(labels).value_counts()
    small = sorted(str(g) for g in sizes.index[sizes < audit.min_group_rows])
    keep = ~np.isin(labels, small)
    if (sizes >= audit.min_group_rows).sum() < 2:
        return None
    labels, defaulted, pd_, score = labels[keep], defaulted[keep], pd_[keep], score[keep]
    repaid = 1 - defaulted
    approved = score >= cutoffs.approve

    dec = decision_frame(repaid, approved, labels)
    risk = risk_frame(defaulted, pd_, labels)
    refer = decision_frame(repaid, score >= cutoffs.refer, labels, {"approve_or_refer_rate": selection_rate})
    groups = pd.concat([dec.by_group, risk.by_group, refer.by_group], axis=1)
    groups.index.name = "group"
    groups["rows"] = groups["rows"].astype(int)
    groups["share"] = groups["rows"] / groups["rows"].sum()
    groups["di_ratio"] = groups["approval_rate"] / groups["approval_rate"].max()
    groups["four_fifths_flag"] = groups["di_ratio"] < 0.8
    reference = str(groups["approval_rate"].idxmax())
    worst = str(groups["approval_rate"].idxmin())

    di_ratio = float(dec.ratio()["approval_rate"])
    eo_diff = float(dec.difference()["tpr_good"])
    eod_diff = float(dec.difference()[["tpr_good", "fpr_bad"]].max())
    calibration_gap = float(risk.difference()["calibration_error"])

    bins = pd_bins(pd_, audit.calibration_bins)
    calib = _metric_frame(
        {"rows": count, "pd_mean": mean_prediction, "default_rate": default_rate}, defaulted, pd_, labels, control=bins
    ).by_group
    calib = calib.reset_index()
    calib.columns = ["bin", "group", "rows", "pd_mean", "default_rate"]
    calib = calib[calib["rows"] > 0].reset_index(drop=True)
    calib["rows"] = calib["rows"].astype(int)

    edges = np.linspace(scale.min_score, scale.max_score, audit.score_bins + 1)
    hist = {str(g): np.histogram(score[labels == g], edges)[0].astype(int).tolist() for g in groups.index}
    for q in (0.1, 0.5, 0.9):
        groups[f"score_p{int(q * 100)}"] = [float(np.quantile(score[labels == g], q)) for g in groups.index]

    findings: list[str] = []
    ref_rate, worst_rate = groups.loc[reference, "approval_rate"], groups.loc[worst, "approval_rate"]
    line = (
        f"{name}: {worst} applicants are approved at {_pct(worst_rate)} against {_pct(ref_rate)} for "
        f"{reference} (disparate impact ratio {di_ratio:.2f})"
    )
    findings.append(line + (", below the four-fifths line." if di_ratio < 0.8 else "."))
    findings.append(_calibration_sentence(name, groups, calibration_gap))

    oracle_di = oracle_eo = None
    if oracle_score is not None:
        oracle_score = oracle_score[keep]
        odec = decision_frame(
            repaid,
            oracle_score >= cutoffs.approve,
            labels,
            {"approval_rate": selection_rate, "tpr_good": true_positive_rate},
        )
        groups["oracle_approval_rate"] = odec.by_group["approval_rate"]
        groups["oracle_tpr_good"] = odec.by_group["tpr_good"]
        groups["oracle_di_ratio"] = groups["oracle_approval_rate"] / groups["oracle_approval_rate"].max()
        groups["shortfall_vs_oracle"] = groups["oracle_approval_rate"] - groups["approval_rate"]
        oracle_di = float(odec.ratio()["approval_rate"])
        oracle_eo = float(odec.difference()["tpr_good"])
        findings.append(
            f"{name}: against a scorer that knew the true default probability, at the same cut-off the model "
            + "; ".join(
                f"approves {100 * abs(r['shortfall_vs_oracle']):.1f} percentage points "
                f"{'fewer' if r['shortfall_vs_oracle'] > 0 else 'more'} {g} applicants"
                for g, r in groups.iterrows()
            )
            + "."
        )
        for g, row in groups.iterrows():
            if row["shortfall_vs_oracle"] > audit.oracle_tolerance:
                findings.append(
                    f"The model approves {_pct(row['approval_rate'])} of {g} applicants; a scorer that knew each "
                    f"applicant's true default probability would approve {_pct(row['oracle_approval_rate'])} at the "
                    f"same cut-off. The model approves fewer {g} applicants than their risk warrants: it is "
                    f"penalising a thin footprint, not risk."
                )
        if di_ratio < oracle_di - audit.oracle_tolerance:
            findings.append(
                f"{name}: the model's disparate impact ratio {di_ratio:.2f} is below the oracle's "
                f"{oracle_di:.2f}: relative to {reference} applicants, {worst} applicants are approved less "
                f"often than their true risk warrants."
            )
        elif di_ratio < 0.8:
            findings.append(
                f"{name}: even the oracle approves {worst} applicants less often (ratio {oracle_di:.2f}); "
                f"the gap reflects true risk at this cut-off, not the model."
            )

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
        left_out=small,
        findings=findings,
    )


def _calibration_sentence(name: str, groups: pd.DataFrame, gap: float) -> str:
    parts = []
    for g, row in groups.sort_values("calibration_error").iterrows():
        err = row["calibration_error"]
        verb = "over-states" if err < 0 else "under-states"
        parts.append(
            f"{verb} the risk of {g} applicants (observed default {_pct(row['default_rate'])}, "
            f"predicted {_pct(row['pd_mean'])})"
        )
    return f"{name}: the model " + "; ".join(parts) + f" - a calibration gap of {gap:.3f}."


def checks_for(a: AttributeAudit, limits: FairnessLimits) -> list[Check]:
    """The three pass/fail lines for one attribute, each stated as a sentence."""

    def check(metric: str, value: float, limit: float, ok: bool, words: str) -> Check:
        if not np.isfinite(value):
            return Check(a.name, metric, value, limit, None, f"{words} for {a.name} could not be computed.")
        verdict = "within" if ok else "outside"
        return Check(
            a.name,
            metric,
            value,
            limit,
            bool(ok),
            f"{words} for {a.name} is {value:.3f}, {verdict} the limit {limit:g}",
        )

    di = check(
        "disparate_impact_ratio",
        a.di_ratio,
        limits.disparate_impact_min,
        a.di_ratio >= limits.disparate_impact_min,
        f"Disparate impact ratio ({a.worst_group} vs {a.reference_group})",
    )
    eo = check(
        "equal_opportunity_difference",
        a.eo_diff,
        limits.equal_opportunity_max,
        a.eo_diff <= limits.equal_opportunity_max,
        "Equal opportunity difference (approval rate among good borrowers)",
    )
    cg = check(
        "calibration_gap",
        a.calibration_gap,
        limits.calibration_gap_max,
        a.calibration_gap <= limits.calibration_gap_max,
        "Calibration gap (observed minus predicted default)",
    )
    return [di, eo, cg]


# ---------------------------------------------------------------- the whole report


def _check_table(frame: pd.DataFrame, schema: Schema) -> None:
    if not schema.protected:
        raise FairnessError(ERR_NO_PROTECTED.format(schema=schema.name))
    if len(frame) == 0:
        raise FairnessError(ERR_EMPTY)
    needed = [schema.target, *schema.protected_names, *schema.feature_names]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise FairnessError(ERR_MISSING_COLUMNS.format(columns=", ".join(absent)))
    y = pd.to_numeric(frame[schema.target], errors="coerce")
    found = sorted({str(v) for v in frame[schema.target][~y.isin([0, 1])].unique()})[:5]
    if found:
        raise FairnessError(ERR_TARGET.format(column=schema.target, found=", ".join(found)))


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
    """Audit given PDs and scores of the rows of `frame` (which carries target and protected columns)."""
    limits = limits or FairnessLimits()
    audit = audit or FairnessAudit()
    _check_table(frame, schema)
    n = len(frame)
    for what, arr in (("pd", pd_model), ("score", score), ("baseline pd", baseline_pd)):
        if arr is not None and len(arr) != n:
            raise FairnessError(ERR_LENGTH.format(what=what, got=len(arr), rows=n))
    defaulted = frame[schema.target].to_numpy(dtype=np.int64)
    pd_model = np.asarray(pd_model, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    oracle_pd = None
    if schema.oracle_column and schema.oracle_column in frame.columns:
        oracle_pd = pd.to_numeric(frame[schema.oracle_column], errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(oracle_pd).any():
            oracle_pd = None
    oracle_score = pd_to_score(oracle_pd, scale) if oracle_pd is not None else None

    approved = score >= cutoffs.approve
    overall = {
        "rows": float(n),
        "default_rate": float(defaulted.mean()),
        "approval_rate": float(approved.mean()),
        "default_rate_approved": default_rate_among_approved(1 - defaulted, approved.astype(int)),
        "auc": auc(defaulted, pd_model),
    }
    if oracle_pd is not None:
        overall["oracle_auc"] = auc(defaulted, oracle_pd)
        overall["oracle_approval_rate"] = float(np.mean(np.asarray(oracle_score) >= cutoffs.approve))

    notes: list[str] = []
    columns = [[p] for p in schema.protected_names]
    if len(schema.protected_names) >= 2:
        columns.append(schema.protected_names[:2])
    attributes: list[AttributeAudit] = []
    for cols in columns:
        name = INTERSECTION_SEP.join(cols)
        a = audit_attribute(
            name, group_labels(frame, cols), defaulted, pd_model, score, cutoffs, scale, audit, oracle_score
        )
        if a is None:
            notes.append(f"{name}: fewer than two groups with at least {audit.min_group_rows} rows; not audited.")
            continue
        if a.left_out:
            notes.append(f"{name}: groups under {audit.min_group_rows} rows left out: {', '.join(a.left_out)}.")
        attributes.append(a)
    checks = [c for a in attributes for c in checks_for(a, limits)]

    X = schema.to_matrix(frame)
    proxies = []
    for attr in schema.protected_names:
        p = proxy_audit(
            X, group_labels(frame, [attr]), attr, schema.feature_names, schema.categorical_indices, audit, seed
        )
        if p is None:
            notes.append(f"proxy audit of {attr}: too few rows per group to fit a classifier.")
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
            labels = group_labels(frame, [attr])
            for g in sorted(set(labels)):
                segments[f"{attr}={g}"] = labels == g
        if np.isfinite(target):
            inclusion = inclusion_lift(
                pd_model, np.asarray(baseline_pd, dtype=np.float64), defaulted, target, segments, baseline_name
            )
        else:
            notes.append("inclusion lift: the model approves nobody at its cut-off, so there is no bad rate to match.")
    else:
        notes.append("inclusion lift: no bureau-only baseline was given, so it is not computed.")
    if oracle_pd is None:
        notes.append("oracle yardstick: the table has no oracle (true PD) column.")

    return FairnessReport(
        model=model or {},
        data={"rows": n, "schema": schema.name, "schema_fingerprint": schema.fingerprint, **(data or {})},
        cutoffs=cutoffs,
        limits=limits,
        overall=overall,
        attributes=attributes,
        checks=checks,
        proxies=proxies,
        inclusion=inclusion,
        has_oracle=oracle_pd is not None,
        notes=notes,
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
    _check_table(frame, scorer.schema)
    margin = scorer.margin(scorer.matrix(frame))
    pd_model = expit(margin)
    score = clip(margin_to_score(margin, scorer.scale), scorer.scale)
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
