"""Promotion gates: the champion alias goes to the model that passes every fairness check at the smallest AUC cost.

Among the candidates (by default the versions behind a project's `champion` and `challenger` aliases), the
best AUC sets the reference; a candidate qualifies when it passes every fairness check and gives up at
most `max_auc_cost` AUC against that reference; the qualifying candidate with the highest AUC becomes the
champion. When none qualifies nothing moves. Either way the reason is one line, printed and written into
the registry's version description.

On data with an oracle (the synthetic world's true default probability) a check that the oracle itself
fails, and that the model fails by no more than the oracle does (within `oracle_tolerance`), does not block:
the gap is true risk, not the model, and no model can close it. The report still says FAIL for it; the
reason line names it. Without an oracle every failed check blocks. An incomplete audit never qualifies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mlflow

from thinfile.training.registry import ModelNotFoundError, client, resolve
from thinfile.training.settings import CHALLENGER_ALIAS, CHAMPION_ALIAS, PromotionGate, nothing_trained

VERDICT_TAG = "thinfile.fairness_verdict"
REPORT_ARTIFACT = "fairness/fairness_report.json"


@dataclass(frozen=True)
class Candidate:
    """A registered version, its test AUC and its fairness verdict (pass / fail / incomplete / not audited)."""

    version: str
    role: str
    auc: float
    verdict: str
    failed_checks: int = 0
    true_risk_checks: tuple[str, ...] = ()
    audited: str = ""
    """which rows its fairness audit (and the AUC in it) read, by their ids' fingerprint (empty: a report from
    before the fingerprint was kept, which is compared as before)"""
    audited_as: str = ""
    """those rows in words: the table and how many"""

    @property
    def qualifies(self) -> bool:
        """Every check passed, or every failed one is failed by the true risk too."""
        if self.verdict == "pass":
            return True
        return self.verdict == "fail" and 0 < self.failed_checks == len(self.true_risk_checks)


@dataclass(frozen=True)
class Promotion:
    """The candidate chosen (None: nothing qualifies and nothing moves) and why, in one line."""

    chosen: Candidate | None
    reason: str


def _label(c: Candidate) -> str:
    return f"v{c.version} ({c.role})"


def _state(c: Candidate) -> str:
    if c.verdict == "pass":
        return "passes every fairness check"
    if c.qualifies:
        return "fails only checks the true risk fails too (" + ", ".join(c.true_risk_checks) + ")"
    if c.verdict == "fail":
        return f"fails {c.failed_checks} fairness check(s)" if c.failed_checks else "fails a fairness check"
    if c.verdict == "incomplete":
        return "has an incomplete fairness audit"
    return "has no fairness audit"


def choose(candidates: list[Candidate], gate: PromotionGate) -> Promotion:
    """The qualifying candidate with the best AUC, or None; the reason names both sides of the trade."""
    if not candidates:
        return Promotion(None, "no candidate versions to choose from")
    fingerprints = [c.audited for c in candidates]
    if all(fingerprints) and len(set(fingerprints)) > 1:
        return Promotion(
            None,
            "nothing promoted: the candidates' fairness audits read different rows ("
            + "; ".join(f"{_label(c)}: {c.audited_as}" for c in candidates)
            + "), so neither their AUCs nor their checks compare: audit each on the same table "
            "(`thinfile fairness --model VERSION --data TABLE`), then promote",
        )
    best = max(candidates, key=lambda c: c.auc)
    qualifying = [c for c in candidates if c.qualifies and best.auc - c.auc <= gate.max_auc_cost + 1e-12]
    if not qualifying:
        passing = [c for c in candidates if c.qualifies]
        if passing:
            top = max(passing, key=lambda c: c.auc)
            return Promotion(
                None,
                (
                    "nothing promoted: the only models that pass every fairness check "
                    f"({_label(top)}, AUC {top.auc:.4f}) "
                    f"give up {best.auc - top.auc:.4f} AUC against {_label(best)}, more than the "
                    f"{gate.max_auc_cost:g} allowed"
                ),
            )
        return Promotion(
            None,
            "nothing promoted: no candidate passes every fairness check ("
            + "; ".join(f"{_label(c)} {_state(c)}" for c in candidates)
            + ")",
        )
    chosen = max(qualifying, key=lambda c: c.auc)
    if chosen is best:
        others = [c for c in candidates if c is not chosen]
        tail = "; ".join(f"{_label(c)} AUC {c.auc:.4f}, {_state(c)}" for c in others)
        return Promotion(
            chosen,
            f"{_label(chosen)} has the best AUC ({chosen.auc:.4f}) and {_state(chosen)}"
            + (f" ({tail})" if tail else ""),
        )
    return Promotion(
        chosen,
        (
            f"{_label(chosen)} {_state(chosen)} at {best.auc - chosen.auc:.4f} AUC below {_label(best)} "
            f"(AUC {best.auc:.4f}, {_state(best)}), within the {gate.max_auc_cost:g} allowed"
        ),
    )


def report_verdict(report: Any) -> str:
    """A fairness report's verdict: pass, fail or incomplete."""
    verdict = getattr(report, "verdict", None)
    if verdict is not None:
        return str(verdict)
    return "pass" if getattr(report, "passed", False) else "fail"


def true_risk_checks(report: Mapping[str, Any], tolerance: float) -> tuple[str, ...]:
    """The failed checks that the oracle fails too, by at least as much (within `tolerance`), from a report's JSON."""
    oracle = {a["name"]: a for a in report.get("attributes", [])}
    keys = {"disparate_impact_ratio": "oracle_di_ratio", "equal_opportunity_difference": "oracle_eo_diff"}
    found = []
    for check in report.get("checks", []):
        key = keys.get(check.get("metric", ""))
        truth = oracle.get(check.get("attribute"), {}).get(key) if key else None
        if check.get("passed") is not False or truth is None or check.get("value") is None:
            continue
        value, limit = float(check["value"]), float(check["limit"])
        if key == "oracle_di_ratio" and truth < limit and value >= truth - tolerance:
            found.append(f"{check['attribute']} disparate impact: true risk {truth:.3f}")
        elif key == "oracle_eo_diff" and truth > limit and value <= truth + tolerance:
            found.append(f"{check['attribute']} equal opportunity: true risk {truth:.3f}")
    return tuple(found)


def report_candidate(version: str, role: str, report: Any, gate: PromotionGate | None = None) -> Candidate:
    """A candidate from a fairness report made in this process (its AUC is on the same test rows)."""
    return json_candidate(version, role, report.to_dict(), gate or PromotionGate())


def json_candidate(version: str, role: str, report: Mapping[str, Any], gate: PromotionGate) -> Candidate:
    """A candidate from a fairness report's JSON: its verdict, failed checks, AUC and the rows it audited."""
    failed = [c for c in report.get("checks", []) if c.get("passed") is False]
    verdict = str(report.get("verdict") or ("pass" if report.get("passed") else "fail"))
    auc = report.get("overall", {}).get("auc")
    data = report.get("data", {})
    rows = data.get("rows")
    as_words = f"{data.get('source') or 'rows'}{f', {rows:,} rows' if isinstance(rows, int) else ''}"
    return Candidate(
        version,
        role,
        float("nan") if auc is None else float(auc),
        verdict,
        len(failed),
        true_risk_checks(report, gate.oracle_tolerance),
        str(data.get("rows_fingerprint") or ""),
        as_words,
    )


def registered_candidate(name: str, ref: str | int, role: str, gate: PromotionGate | None = None) -> Candidate:
    """A candidate read from the registry: its run's fairness report (JSON artifact), else its test AUC alone."""
    version = resolve(ref, name)
    try:
        report = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/{REPORT_ARTIFACT}")
    except (mlflow.exceptions.MlflowException, OSError, ValueError):
        metrics = client().get_run(str(version.run_id)).data.metrics
        return Candidate(str(version.version), role, float(metrics.get("auc", float("nan"))), "not audited")
    return json_candidate(str(version.version), role, report, gate or PromotionGate())


def aliased_candidates(
    name: str, gate: PromotionGate | None = None, aliases: tuple[str, ...] = (CHAMPION_ALIAS, CHALLENGER_ALIAS)
) -> list[Candidate]:
    """The versions behind `aliases` (each version once); ModelNotFoundError when nothing was ever trained here."""
    never = nothing_trained()
    if never is not None:
        raise ModelNotFoundError(f"no model {name!r} to promote: {never}")
    found: dict[str, Candidate] = {}
    for alias in aliases:
        try:
            c = registered_candidate(name, alias, alias, gate)
        except ModelNotFoundError:
            continue
        found.setdefault(c.version, c)
    return list(found.values())


def outcome(name: str, promotion: Promotion, alias: str = CHAMPION_ALIAS) -> str:
    """One line for the console: where the alias now points and why, or why nothing moved."""
    if promotion.chosen is None:
        return promotion.reason
    return f"{name}@{alias} -> version {promotion.chosen.version}: {promotion.reason}"


def apply(name: str, promotion: Promotion, alias: str = CHAMPION_ALIAS) -> None:
    """Point `name@alias` at the chosen version and write the reason into its registry description."""
    if promotion.chosen is None:
        return
    c = client()
    c.set_registered_model_alias(name, alias, promotion.chosen.version)
    c.update_model_version(name, promotion.chosen.version, description=f"promoted to {alias}: {promotion.reason}")
