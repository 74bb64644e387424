"""Fairness of a scorer across protected groups: metrics (fairlearn), the audit report, mitigation, HTML/JSON.

Like fairlearn.metrics, the modules are private in spirit and the public surface is re-exported here.
"""

from thinfile.training.fairness.audit import (
    AttributeAudit,
    Check,
    FairnessAudit,
    FairnessError,
    FairnessLimits,
    FairnessReport,
    InclusionLift,
    ProxyAudit,
    build_report,
    fairness_report,
)
from thinfile.training.fairness.metrics import (
    MISSING_GROUP,
    approve_at_bad_rate,
    decision_frame,
    group_labels,
    risk_frame,
)
from thinfile.training.fairness.mitigation import (
    MITIGATED_FAMILY,
    Reweighing,
    fit_reweighed,
    reweighing_weights,
)
from thinfile.training.fairness.report import render_html, write_report

__all__ = [
    "MISSING_GROUP",
    "MITIGATED_FAMILY",
    "AttributeAudit",
    "Check",
    "FairnessAudit",
    "FairnessError",
    "FairnessLimits",
    "FairnessReport",
    "InclusionLift",
    "ProxyAudit",
    "Reweighing",
    "approve_at_bad_rate",
    "build_report",
    "decision_frame",
    "fairness_report",
    "fit_reweighed",
    "group_labels",
    "render_html",
    "reweighing_weights",
    "risk_frame",
    "write_report",
]
