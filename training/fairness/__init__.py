"""Fairness of a scorer across protected groups: metrics (fairlearn), the audit report, mitigation, HTML/JSON.

Like fairlearn.metrics, the modules are private in spirit and the public surface is re-exported here.
"""

from thinfile.training.fairness.audit import (
    BASELINE_CANNOT_REACH,
    VERDICTS,
    AttributeAudit,
    Check,
    FairnessError,
    FairnessReport,
    InclusionLift,
    ProxyAudit,
    Unchecked,
    Verdict,
    build_report,
    fairness_report,
)
from thinfile.training.fairness.metrics import (
    MISSING_GROUP,
    DisparateImpact,
    approve_at_bad_rate,
    decision_frame,
    disparate_impact,
    group_labels,
    protected_values,
    risk_frame,
    wilson_interval,
)
from thinfile.training.fairness.mitigation import (
    MITIGATED_FAMILY,
    Reweighing,
    fit_reweighed,
    reweighing_weights,
)
from thinfile.training.fairness.report import render_html, write_report
from thinfile.training.settings import FairnessAudit, FairnessLimits

__all__ = [
    "BASELINE_CANNOT_REACH",
    "MISSING_GROUP",
    "MITIGATED_FAMILY",
    "VERDICTS",
    "AttributeAudit",
    "Check",
    "DisparateImpact",
    "FairnessAudit",
    "FairnessError",
    "FairnessLimits",
    "FairnessReport",
    "InclusionLift",
    "ProxyAudit",
    "Reweighing",
    "Unchecked",
    "Verdict",
    "approve_at_bad_rate",
    "build_report",
    "decision_frame",
    "disparate_impact",
    "fairness_report",
    "fit_reweighed",
    "group_labels",
    "protected_values",
    "render_html",
    "reweighing_weights",
    "risk_frame",
    "wilson_interval",
    "write_report",
]
