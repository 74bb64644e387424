"""A mitigated challenger: the champion's own fitting code on reweighed training rows.

The protected attribute is used only to weight training rows; the challenger's inputs are the
schema's model inputs, exactly as the champion's, so nothing about a person's group is needed
(or used) at scoring time. Weights start from reweighing (Kamiran & Calders: group and outcome
independent in the weighted data), then repaid borrowers of groups the model approves less
often are upweighted, a few rounds, until the approval rate among repaid borrowers (equal
opportunity) is close across groups on the validation rows (label-bias reweighing, Jiang & Nachum 2020).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from thinfile.features.schema import Schema
from thinfile.training.audit_groups import group_labels
from thinfile.training.champion import fit_champion
from thinfile.training.fairness.audit import FairnessError
from thinfile.training.fairness.metrics import decision_frame
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale, margin_to_clipped_score
from thinfile.training.settings import FairnessAudit, TrainConfig

MITIGATED_FAMILY = "lightgbm_reweighed"


@dataclass
class Reweighing:
    """What the mitigation did: the attribute, the multipliers per (group, outcome), and EO gap per round."""

    attribute: str
    multipliers: dict[str, float]
    eo_gap_by_round: list[float] = field(default_factory=list)


def mitigation_attribute(schema: Schema, audit: FairnessAudit) -> str:
    name = audit.mitigate_attribute or (schema.protected_names[0] if schema.protected_names else None)
    if name is None:
        raise FairnessError(f"schema {schema.name!r} declares no protected attribute to mitigate against")
    if name not in schema.protected_names:
        raise FairnessError(
            f"mitigate_attribute {name!r} is not a protected attribute of schema {schema.name!r} "
            f"(it has: {', '.join(schema.protected_names)})"
        )
    return name


def reweighing_weights(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """w(g, y) = P(g) P(y) / P(g, y): in the weighted rows, group and outcome are independent."""
    frame = pd.DataFrame({"g": groups, "y": y})
    p_g = frame["g"].map(frame["g"].value_counts(normalize=True))
    p_y = frame["y"].map(frame["y"].value_counts(normalize=True))
    p_gy = frame.groupby(["g", "y"])["y"].transform("size") / len(frame)
    return (p_g * p_y / p_gy).to_numpy(dtype=np.float64)


def _approved(scorer: Scorer, frame: pd.DataFrame) -> np.ndarray:
    score = margin_to_clipped_score(scorer.margin(scorer.matrix(frame)), scorer.scale)
    return score >= scorer.cutoffs.approve


def fit_reweighed(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    schema: Schema,
    config: TrainConfig | None = None,
    scale: ScoreScale | None = None,
    cutoffs: Cutoffs | None = None,
    audit: FairnessAudit | None = None,
    rounds: int | None = None,
    step: float | None = None,
) -> tuple[Scorer, Reweighing]:
    """Fit the challenger with `fit_champion` on reweighed rows; returns the scorer and what was done."""
    audit = audit or FairnessAudit()
    rounds = audit.mitigation_rounds if rounds is None else rounds
    step = audit.mitigation_step if step is None else step
    attr = mitigation_attribute(schema, audit)
    missing = [c for c in (attr, schema.target) if c not in train.columns or c not in valid.columns]
    if missing:
        raise FairnessError(f"the training rows lack column(s) {', '.join(missing)} needed to reweigh")
    names = schema.group_names
    g_train, g_valid = group_labels(train, [attr], names=names), group_labels(valid, [attr], names=names)
    y = train[schema.target].to_numpy(dtype=np.int64)
    yv = valid[schema.target].to_numpy(dtype=np.int64)
    base = reweighing_weights(g_train, y)
    boost = {str(g): 1.0 for g in np.unique(g_train)}
    report = Reweighing(attr, {})
    scorer = None
    for _ in range(max(rounds, 1)):
        extra = np.array([boost[g] for g in g_train]) ** (y == 0)
        weight = base * extra
        scorer = fit_champion(train, valid, schema, config, scale, cutoffs, weight=weight / weight.mean())
        tpr = decision_frame(1 - yv, _approved(scorer, valid), g_valid).by_group["tpr_good"]
        report.eo_gap_by_round.append(float(tpr.max() - tpr.min()))
        for g, rate in tpr.items():
            if str(g) in boost and np.isfinite(rate):
                boost[str(g)] *= float(np.exp(step * (tpr.max() - rate)))
    assert scorer is not None
    cells = pd.DataFrame({"g": g_train, "y": y, "w": base * np.array([boost[g] for g in g_train]) ** (y == 0)})
    report.multipliers = {
        f"{g} / {'defaulted' if k else 'repaid'}": float(w)
        for (g, k), w in cells.groupby(["g", "y"])["w"].mean().items()
    }
    scorer.meta = {
        **scorer.meta,
        "family": MITIGATED_FAMILY,
        "mitigation": "reweighing",
        "mitigation_attribute": attr,
        "mitigation_rounds": len(report.eo_gap_by_round),
    }
    return scorer, report
