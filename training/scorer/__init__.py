"""The scorer artefact and its exact explanations: schema + booster + calibration + scale + policy.

The names below are loaded when first used, not with the package: a module that needs only the policy or the
scale (the CLI's option parsing does) does not load the booster, numba and the explainer's kernels (~0.6 s)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thinfile.training.scorer.artefact import META_FILE, MODEL_FILE, Scorer
    from thinfile.training.scorer.explain import DEFAULT_TOP_REASONS, Explanation, TopReasons, explain_contributions
    from thinfile.training.scorer.policy import Cutoffs, decisions
    from thinfile.training.scorer.scale import ScoreScale, bands, margin_to_score, pd_to_score, score_to_pd

_HOME = {
    "META_FILE": "artefact",
    "MODEL_FILE": "artefact",
    "Scorer": "artefact",
    "DEFAULT_TOP_REASONS": "explain",
    "Explanation": "explain",
    "TopReasons": "explain",
    "explain_contributions": "explain",
    "Cutoffs": "policy",
    "decisions": "policy",
    "ScoreScale": "scale",
    "bands": "scale",
    "margin_to_score": "scale",
    "pd_to_score": "scale",
    "score_to_pd": "scale",
}

__all__ = [
    "DEFAULT_TOP_REASONS",
    "META_FILE",
    "MODEL_FILE",
    "Cutoffs",
    "Explanation",
    "ScoreScale",
    "Scorer",
    "TopReasons",
    "bands",
    "decisions",
    "explain_contributions",
    "margin_to_score",
    "pd_to_score",
    "score_to_pd",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
