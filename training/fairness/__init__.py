"""Fairness of a scorer across protected groups: metrics (fairlearn), the audit report, mitigation, HTML/JSON.

Like fairlearn.metrics, the modules are private in spirit and the public surface is re-exported here.

The public names load on first use (PEP 562): the batch report imports `disparate_impact` alone, without
fairlearn, scikit-learn and LightGBM.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinfile.features.lazy import lazy_names

_WHERE = {
    "AttributeAudit": "thinfile.training.fairness.audit",
    "BASELINE_CANNOT_REACH": "thinfile.training.fairness.audit",
    "Check": "thinfile.training.fairness.audit",
    "DisparateImpact": "thinfile.training.fairness.impact",
    "FairnessAudit": "thinfile.training.settings",
    "FairnessError": "thinfile.training.fairness.audit",
    "FairnessLimits": "thinfile.training.settings",
    "FairnessReport": "thinfile.training.fairness.audit",
    "InclusionLift": "thinfile.training.fairness.audit",
    "MISSING_GROUP": "thinfile.features.schema",
    "MITIGATED_FAMILY": "thinfile.training.fairness.mitigation",
    "ProxyAudit": "thinfile.training.fairness.audit",
    "Reweighing": "thinfile.training.fairness.mitigation",
    "Unchecked": "thinfile.training.fairness.audit",
    "VERDICTS": "thinfile.training.fairness.audit",
    "Verdict": "thinfile.training.fairness.audit",
    "approve_at_bad_rate": "thinfile.training.fairness.metrics",
    "build_report": "thinfile.training.fairness.audit",
    "decision_frame": "thinfile.training.fairness.metrics",
    "disparate_impact": "thinfile.training.fairness.impact",
    "fairness_report": "thinfile.training.fairness.audit",
    "fit_reweighed": "thinfile.training.fairness.mitigation",
    "group_labels": "thinfile.training.audit_groups",
    "protected_values": "thinfile.features.schema",
    "render_html": "thinfile.training.fairness.report",
    "reweighing_weights": "thinfile.training.fairness.mitigation",
    "risk_frame": "thinfile.training.fairness.metrics",
    "wilson_interval": "thinfile.training.fairness.metrics",
    "write_report": "thinfile.training.fairness.report",
}

__all__ = [
    "AttributeAudit",
    "BASELINE_CANNOT_REACH",
    "Check",
    "DisparateImpact",
    "FairnessAudit",
    "FairnessError",
    "FairnessLimits",
    "FairnessReport",
    "InclusionLift",
    "MISSING_GROUP",
    "MITIGATED_FAMILY",
    "ProxyAudit",
    "Reweighing",
    "Unchecked",
    "VERDICTS",
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


__getattr__, __dir__ = lazy_names(__name__, _WHERE, __all__)


if TYPE_CHECKING:
    from thinfile.features.schema import MISSING_GROUP, protected_values
    from thinfile.training.audit_groups import group_labels
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
    from thinfile.training.fairness.impact import (
        DisparateImpact,
        disparate_impact,
    )
    from thinfile.training.fairness.metrics import (
        approve_at_bad_rate,
        decision_frame,
        risk_frame,
        wilson_interval,
    )
    from thinfile.training.fairness.mitigation import (
        MITIGATED_FAMILY,
        Reweighing,
        fit_reweighed,
        reweighing_weights,
    )
    from thinfile.training.fairness.report import (
        render_html,
        write_report,
    )
    from thinfile.training.settings import (
        FairnessAudit,
        FairnessLimits,
    )
