"""The scorer artefact and its exact explanations: schema + booster + calibration + scale + policy."""

from thinfile.training.scorer.artefact import META_FILE, MODEL_FILE, Scorer
from thinfile.training.scorer.explain import (
    DEFAULT_TOP_REASONS,
    Explanation,
    TopReasons,
    explain_contributions,
)
from thinfile.training.scorer.policy import Cutoffs, decisions
from thinfile.training.scorer.scale import (
    ScoreScale,
    bands,
    margin_to_score,
    pd_to_score,
    score_to_pd,
)

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
