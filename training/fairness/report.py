"""A FairnessReport as one self-contained HTML page: verdict first, plots embedded as base64 PNG, no scripts."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from thinfile.training.fairness.audit import (
    AttributeAudit,
    FairnessReport,
    InclusionLift,
    ProxyAudit,
)

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
 line-height:1.45;padding:0 1rem;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.verdict{padding:1rem 1.2rem;border-radius:6px;font-size:1.15rem;font-weight:600;margin:1rem 0}
.pass{background:#e3f4e8;border-left:8px solid #1e8449}.fail{background:#fbe5e1;border-left:8px solid #c0392b}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .55rem;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}.bad{color:#c0392b;font-weight:600}.good{color:#1e8449}.muted{color:#777}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.4rem 0} ul{margin:.3rem 0}
.meta{color:#555;font-size:.9rem}.wide{overflow-x:auto}
"""


def figure_to_data_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="{figure_to_data_uri(fig)}">'


def _fmt(v: Any, kind: str = "num") -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return '<span class="muted">n/a</span>'
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if kind == "pct":
        return f"{100 * float(v):.1f}%"
    if kind == "int":
        return f"{int(v):,}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3f}"
    return escape(str(v))


def _table(frame: pd.DataFrame, kinds: dict[str, str], headers: dict[str, str]) -> str:
    cols = [c for c in kinds if c in frame.columns]
    head = "".join(f'<th class="{"l" if i == 0 else ""}">{escape(headers.get(c, c))}</th>' for i, c in enumerate(cols))
    body = []
    for _, row in frame.iterrows():
        cells = []
        for i, c in enumerate(cols):
            cls = "l" if i == 0 else ""
            if c == "di_ratio" and np.isfinite(row[c]) and row[c] < 0.8:
                cls += " bad"
            cells.append(f'<td class="{cls}">{_fmt(row[c], kinds[c])}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


GROUP_COLUMNS = {
    "group": "text",
    "rows": "int",
    "share": "pct",
    "approval_rate": "pct",
    "oracle_approval_rate": "pct",
    "di_ratio": "num",
    "default_rate_approved": "pct",
    "tpr_good": "pct",
    "oracle_tpr_good": "pct",
    "fpr_bad": "pct",
    "approve_or_refer_rate": "pct",
    "auc": "num",
    "default_rate": "pct",
    "pd_mean": "pct",
    "calibration_error": "pct",
    "score_p10": "num",
    "score_p50": "num",
    "score_p90": "num",
}
GROUP_HEADERS = {
    "rows": "applicants",
    "share": "share",
    "approval_rate": "approved",
    "oracle_approval_rate": "oracle approves",
    "di_ratio": "DI ratio",
    "default_rate_approved": "default among approved",
    "tpr_good": "approved | repaid (TPR)",
    "oracle_tpr_good": "oracle TPR",
    "fpr_bad": "approved | defaulted (FPR)",
    "approve_or_refer_rate": "approved or referred",
    "auc": "AUC",
    "default_rate": "observed default",
    "pd_mean": "predicted PD",
    "calibration_error": "observed - predicted",
    "score_p10": "score p10",
    "score_p50": "median score",
    "score_p90": "score p90",
}


def attribute_figure(a: AttributeAudit, approve: float, refer: float) -> Figure:
    g = a.groups
    names = [str(x) for x in g.index]
    x = np.arange(len(names))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.2))
    ax = axes[0, 0]
    has_oracle = "oracle_approval_rate" in g.columns
    w = 0.38 if has_oracle else 0.6
    ax.bar(x - (w / 2 if has_oracle else 0), g["approval_rate"], w, label="model", color="#2e86c1")
    if has_oracle:
        ax.bar(x + w / 2, g["oracle_approval_rate"], w, label="oracle (true PD)", color="#aab7b8")
    ax.axhline(0.8 * g["approval_rate"].max(), color="#c0392b", linestyle="--", linewidth=1, label="four-fifths line")
    ax.set_xticks(x, names, rotation=20 if len(names) > 3 else 0)
    ax.set(ylabel="approval rate", title=f"Approval rate at score >= {approve:g}", ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[0, 1]
    ax.bar(x - 0.2, g["tpr_good"], 0.4, label="among borrowers who repaid (TPR)", color="#27ae60")
    ax.bar(x + 0.2, g["fpr_bad"], 0.4, label="among borrowers who defaulted (FPR)", color="#e67e22")
    ax.set_xticks(x, names, rotation=20 if len(names) > 3 else 0)
    ax.set(ylabel="approval rate", title="Equal opportunity and equalised odds", ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[1, 0]
    cal = a.calibration
    top = max(float(cal["pd_mean"].max()), float(cal["default_rate"].max()), 1e-3) * 1.05
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
    for name in names:
        c = cal[cal["group"].astype(str) == name]
        ax.plot(c["pd_mean"], c["default_rate"], marker="o", markersize=3, label=name)
    ax.set(
        xlabel="predicted PD (mean in decile)",
        ylabel="observed default rate",
        title=f"Calibration by decile (gap {a.calibration_gap:.3f})",
    )
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    edges = np.asarray(a.score_edges)
    for name in names:
        counts = np.asarray(a.score_hist[name], dtype=float)
        ax.stairs(counts / max(counts.sum(), 1), edges, label=name)
    for cut, style in ((approve, "-"), (refer, ":")):
        ax.axvline(cut, color="black", linestyle=style, linewidth=0.8)
    ax.set(xlabel="score", ylabel="share of group", title="Score distribution (cut-offs: approve -, refer :)")
    ax.legend(fontsize=8)
    fig.suptitle(a.name, fontsize=13)
    fig.tight_layout()
    return fig


def inclusion_figure(inc: InclusionLift) -> Figure:
    seg = inc.segments
    y = np.arange(len(seg))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(seg) + 1.6))
    ax.barh(y + 0.2, seg["model_approval_rate"], 0.4, label="this model", color="#2e86c1")
    ax.barh(y - 0.2, seg["baseline_approval_rate"], 0.4, label=inc.baseline, color="#aab7b8")
    ax.set_yticks(y, seg["segment"])
    ax.set(
        xlabel="approval rate",
        xlim=(0, 1),
        title=f"Approvals at the same bad rate among approved ({100 * inc.target_bad_rate:.1f}%)",
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def proxy_figure(proxies: list[ProxyAudit]) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(proxies) + 1.5))
    y = np.arange(len(proxies))[::-1]
    ax.barh(y, [p.auc for p in proxies], color="#8e44ad")
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, [p.attribute for p in proxies])
    ax.set(
        xlim=(0.4, 1),
        xlabel="held-out AUC of predicting the attribute from the model inputs",
        title="Proxy audit (0.5 = the inputs say nothing about it)",
    )
    fig.tight_layout()
    return fig


def _section_attribute(a: AttributeAudit, report: FairnessReport) -> str:
    checks = [c for c in report.checks if c.attribute == a.name]
    marks = "".join(
        f'<li class="{"good" if c.passed else "bad" if c.passed is False else "muted"}">{escape(c.sentence)}.</li>'
        for c in checks
    )
    findings = "".join(f"<li>{escape(f)}</li>" for f in a.findings)
    left = f'<p class="muted">Left out (too few rows): {escape(", ".join(a.left_out))}</p>' if a.left_out else ""
    oracle = ""
    if a.oracle_di_ratio is not None:
        oracle = (
            f"<p>Oracle yardstick: disparate impact ratio {a.oracle_di_ratio:.3f}, equal opportunity difference "
            f"{a.oracle_eo_diff:.3f} (model: {a.di_ratio:.3f} and {a.eo_diff:.3f}).</p>"
        )
    return (
        f"<h2>{escape(a.name)}</h2><ul>{marks}</ul>"
        f"<p>Equalised odds difference {a.eod_diff:.3f}; most-approved group: {escape(a.reference_group)}.</p>{oracle}"
        f"<ul>{findings}</ul>{left}"
        + "<div class='wide'>"
        + _table(a.groups.reset_index(), GROUP_COLUMNS, GROUP_HEADERS)
        + "</div>"
        + _img(attribute_figure(a, report.cutoffs.approve, report.cutoffs.refer), f"plots for {a.name}")
    )


def _section_inclusion(report: FairnessReport) -> str:
    inc = report.inclusion
    if inc is None:
        return ""
    seg = inc.segments.set_index("segment")
    words = []
    for name in seg.index:
        if (
            name == "all"
            or name.startswith("thin")
            or name in (f"{report.attributes[0].name}={report.attributes[0].worst_group}",)
        ):
            r = seg.loc[name]
            words.append(
                f"<li><b>{escape(name)}</b>: this model approves {_fmt(r['model_approval_rate'], 'pct')}, the "
                f"{escape(inc.baseline)} {_fmt(r['baseline_approval_rate'], 'pct')}: "
                f"{1000 * r['lift']:+.0f} approvals per 1,000 applicants.</li>"
            )
    table = _table(
        inc.segments,
        {
            "segment": "text",
            "rows": "int",
            "model_approval_rate": "pct",
            "baseline_approval_rate": "pct",
            "lift": "pct",
            "ratio": "num",
        },
        {
            "model_approval_rate": "model approves",
            "baseline_approval_rate": "baseline approves",
            "lift": "lift (points)",
            "ratio": "model / baseline",
        },
    )
    return (
        "<h2>Inclusion lift</h2>"
        f"<p>Both models are held to the same bad rate among approved applicants, "
        f"{_fmt(inc.target_bad_rate, 'pct')} (this model's own at its cut-off; achieved: model "
        f"{_fmt(inc.model_bad_rate, 'pct')}, baseline {_fmt(inc.baseline_bad_rate, 'pct')}). Thin-file means no "
        f"bureau (traditional) feature present.</p><ul>{''.join(words)}</ul>{table}"
        + _img(inclusion_figure(inc), "inclusion lift")
    )


def _section_proxies(proxies: list[ProxyAudit]) -> str:
    if not proxies:
        return ""
    rows = "".join(
        f'<tr><td class="l">{escape(p.attribute)}</td><td>{p.auc:.3f}</td><td>{p.rows:,}</td><td class="l">'
        + ", ".join(f"{escape(f)} ({100 * s:.0f}%)" for f, s in p.top_features)
        + "</td></tr>"
        for p in proxies
    )
    return (
        "<h2>Proxy audit</h2><p>A small gradient-boosted classifier tries to predict each protected attribute from the "
        "model inputs; its held-out AUC says how much the inputs reveal, and the gain shares say which inputs "
        "carry it. "
        "A strong proxy is not unfair by itself: the metrics above say whether the decisions are.</p>"
        '<table><tr><th class="l">attribute</th><th>AUC</th><th>rows</th>'
        f'<th class="l">features carrying it (gain share)</th></tr>{rows}</table>'
        + _img(proxy_figure(proxies), "proxy audit")
    )


def render_html(report: FairnessReport, title: str = "thinfile fairness report") -> str:
    """The whole report as one HTML document (no external files, no scripts)."""
    m = report.model
    model_line = " · ".join(f"{k}: {escape(str(v))}" for k, v in m.items() if v not in (None, "", []))
    data_line = " · ".join(f"{k}: {escape(str(v))}" for k, v in report.data.items())
    verdict_cls = "pass" if report.passed else "fail"
    fails = "".join(f"<li>{escape(c.sentence)}.</li>" for c in report.failures)
    o = report.overall
    overall = (
        f"<p>{int(o['rows']):,} applicants; observed default rate {_fmt(o['default_rate'], 'pct')}; "
        f"approved at score &ge; {report.cutoffs.approve:g}: {_fmt(o['approval_rate'], 'pct')}, of whom "
        f"{_fmt(o['default_rate_approved'], 'pct')} defaulted; AUC {_fmt(o['auc'])}"
        + (
            f"; oracle AUC {_fmt(o['oracle_auc'])}, oracle approves {_fmt(o['oracle_approval_rate'], 'pct')}"
            if "oracle_auc" in o
            else ""
        )
        + ".</p>"
    )
    checks = _table(
        pd.DataFrame(
            [
                {
                    "attribute": c.attribute,
                    "check": c.metric.replace("_", " "),
                    "value": c.value,
                    "limit": c.limit,
                    "result": {True: "pass", False: "FAIL", None: "n/a"}[c.passed],
                }
                for c in report.checks
            ]
        ),
        {"attribute": "text", "check": "text", "value": "num", "limit": "num", "result": "text"},
        {},
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1><p class='meta'>{model_line}<br>{data_line}</p>",
        f"<div class='verdict {verdict_cls}'>{escape(report.headline)}</div>",
        f"<ul>{fails}</ul>" if fails else "",
        overall,
        f"<p>Limits: disparate impact ratio &ge; {report.limits.disparate_impact_min:g} (four-fifths rule), equal "
        f"opportunity difference &le; {report.limits.equal_opportunity_max:g}, calibration gap &le; "
        f"{report.limits.calibration_gap_max:g}.</p>",
        checks,
        _section_inclusion(report),
        *[_section_attribute(a, report) for a in report.attributes],
        _section_proxies(report.proxies),
        "<h2>How to read this</h2><ul>"
        "<li><b>Disparate impact ratio</b>: a group's approval rate over the most-approved group's; below 0.8 "
        "breaks the four-fifths rule.</li>"
        "<li><b>Equal opportunity difference</b>: the largest gap between groups in the approval rate of applicants "
        "who repaid; <b>equalised odds difference</b> also counts the gap among those who defaulted.</li>"
        "<li><b>Calibration gap</b>: the largest difference between groups in observed minus predicted default rate; "
        "a positive group error means the model under-states that group's risk.</li>"
        "<li><b>Oracle</b>: a scorer that knew each applicant's true default probability (synthetic data only), "
        "held to the same cut-off. Where even the oracle approves fewer of a group, that group is truly riskier; "
        "where the model approves fewer than the oracle, it penalises a thin footprint, not risk.</li>"
        "<li>Metrics are computed with fairlearn's MetricFrame.</li></ul>",
        f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "",
        "</body></html>",
    ]
    return "".join(parts)


def write_report(
    report: FairnessReport, out_dir: str | Path, stem: str = "fairness_report", title: str = "thinfile fairness report"
) -> tuple[Path, Path]:
    """Write `<stem>.html` and `<stem>.json` to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html, js = out / f"{stem}.html", out / f"{stem}.json"
    html.write_text(render_html(report, title), encoding="utf-8")
    js.write_text(report.to_json(), encoding="utf-8")
    return html, js
