"""Promotion gates: the champion alias goes to the model that passes every fairness check at the smallest AUC cost.

Among the candidates (by default the versions behind a project's `champion` and `challenger` aliases), the
best AUC sets the reference; a candidate qualifies when its fairness verdict is "pass" and it gives up at
most `max_auc_cost` AUC against that reference; the qualifying candidate with the highest AUC becomes the
champion. When none qualifies nothing moves. Either way the reason is one line, printed and written into
the registry's version description.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from thinfile.features.settings import Section
from thinfile.training.registry import CHALLENGER_ALIAS, CHAMPION_ALIAS, ModelNotFoundError, client, resolve

VERDICT_TAG = "thinfile.fairness_verdict"


class PromotionGate(Section):
    """How much AUC a lender gives up for a model that passes every fairness check."""

    max_auc_cost: float = Field(0.005, ge=0, le=1, description="largest AUC given up against the best candidate")


@dataclass(frozen=True)
class Candidate:
    """A registered version, its test AUC and its fairness verdict (pass / fail / incomplete / not audited)."""

    version: str
    role: str
    auc: float
    verdict: str
    failed_checks: int = 0


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
    if c.verdict == "fail":
        return f"fails {c.failed_checks} fairness check(s)" if c.failed_checks else "fails a fairness check"
    if c.verdict == "incomplete":
        return "has an incomplete fairness audit"
    return "has no fairness audit"


def choose(candidates: list[Candidate], gate: PromotionGate) -> Promotion:
    """The qualifying candidate with the best AUC, or None; the reason names both sides of the trade."""
    if not candidates:
        return Promotion(None, "no candidate versions to choose from")
    best = max(candidates, key=lambda c: c.auc)
    qualifying = [c for c in candidates if c.verdict == "pass" and best.auc - c.auc <= gate.max_auc_cost + 1e-12]
    if not qualifying:
        passing = [c for c in candidates if c.verdict == "pass"]
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
            f"{_label(chosen)} has the best AUC ({chosen.auc:.4f}) and passes every fairness "
            f"check" + (f" ({tail})" if tail else ""),
        )
    return Promotion(
        chosen,
        (
            f"{_label(chosen)} passes every fairness check at {best.auc - chosen.auc:.4f} AUC below {_label(best)} "
            f"(AUC {best.auc:.4f}, {_state(best)}), within the {gate.max_auc_cost:g} allowed"
        ),
    )


def report_verdict(report: object) -> str:
    """A fairness report's verdict: pass, fail or incomplete."""
    verdict = getattr(report, "verdict", None)
    if verdict is not None:
        return str(verdict)
    return "pass" if getattr(report, "passed", False) else "fail"


def report_candidate(version: str, role: str, report: object) -> Candidate:
    """A candidate from a fairness report made in this process (its AUC is on the same test rows)."""
    overall = getattr(report, "overall", {})
    failures = getattr(report, "failures", [])
    return Candidate(version, role, float(overall.get("auc", float("nan"))), report_verdict(report), len(failures))


def registered_candidate(name: str, ref: str | int, role: str) -> Candidate:
    """A candidate read from the registry: the version's run metric `auc` and its fairness verdict."""
    version = resolve(ref, name)
    run = client().get_run(str(version.run_id))
    metrics, tags = run.data.metrics, run.data.tags
    verdict = tags.get(VERDICT_TAG)
    if verdict is None:
        verdict = "not audited" if "fair_pass" not in metrics else ("pass" if metrics["fair_pass"] == 1 else "fail")
    return Candidate(
        str(version.version),
        role,
        float(metrics.get("auc", float("nan"))),
        verdict,
        int(metrics.get("fair_failed_checks", 0)),
    )


def aliased_candidates(name: str, aliases: tuple[str, ...] = (CHAMPION_ALIAS, CHALLENGER_ALIAS)) -> list[Candidate]:
    """The versions behind `aliases` (each version once)."""
    found: dict[str, Candidate] = {}
    for alias in aliases:
        try:
            c = registered_candidate(name, alias, alias)
        except ModelNotFoundError:
            continue
        found.setdefault(c.version, c)
    return list(found.values())


def apply(name: str, promotion: Promotion, alias: str = CHAMPION_ALIAS) -> None:
    """Point `name@alias` at the chosen version and write the reason into its registry description."""
    if promotion.chosen is None:
        return
    c = client()
    c.set_registered_model_alias(name, alias, promotion.chosen.version)
    c.update_model_version(name, promotion.chosen.version, description=f"promoted to {alias}: {promotion.reason}")
