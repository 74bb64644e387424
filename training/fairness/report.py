"""A FairnessReport as one self-contained HTML page (templates/fairness.html.j2): verdict and unchecked groups first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thinfile.features.settings import ValidationSettings
from thinfile.features.words import clipped, counted
from thinfile.training.fairness.audit import (
    AttributeAudit,
    FairnessReport,
    InclusionLift,
    ProxyAudit,
    versus_limit,
)
from thinfile.training.reporting import (
    PALETTE,
    Column,
    Image,
    Table,
    Verdict,
    format_value,
    image,
    new_figure,
    render,
    table,
)
from thinfile.training.reporting.layout import MeasuredLayout
from thinfile.training.settings import FOUR_FIFTHS


def _group_columns(limit: float) -> list[Column]:
    return [
        Column("group", "group", "text"),
        Column("checked", "checked", "text"),
        Column("rows", "applicants", "int"),
        Column("share", "share", "pct"),
        Column("approval_rate", "approved (95% CI)", "pct_ci"),
        Column("oracle_approval_rate", "oracle approves", "pct"),
        Column("di_ratio", "DI ratio", "num", lambda r: bool(r.get("di_ratio", np.nan) < limit)),
        Column("default_rate_approved", "default among approved", "pct_ci"),
        Column("tpr_good", "approved | repaid (TPR)", "pct_ci"),
        Column("oracle_tpr_good", "oracle TPR", "pct"),
        Column("fpr_bad", "approved | defaulted (FPR)", "pct_ci"),
        Column("approve_or_refer_rate", "approved or referred", "pct"),
        Column("auc", "AUC"),
        Column("default_rate", "observed default", "pct"),
        Column("pd_mean", "predicted PD", "pct"),
        Column("calibration_error", "observed - predicted", "pct"),
        Column("score_p10", "score p10", "num"),
        Column("score_p50", "median score", "num"),
        Column("score_p90", "score p90", "num"),
    ]


def _xticks(ax: Any, names: list[str]) -> None:
    ax.set_xticks(
        np.arange(len(names)), names, rotation=20 if len(names) > 3 else 0, ha="right" if len(names) > 3 else "center"
    )


def attribute_figure(a: AttributeAudit, approve: float, refer: float, di_min: float) -> Figure:
    """Approval rates with their Wilson intervals, TPR/FPR, calibration by decile and score distributions."""
    g = a.groups
    names = [str(x) for x in g.index]
    counted = g["counted"].to_numpy(dtype=bool)
    x = np.arange(len(names))
    fig = new_figure(12, 8.4, 2, 2)
    axes = np.asarray(fig.axes).reshape(2, 2)

    ax = axes[0, 0]
    has_oracle = "oracle_approval_rate" in g.columns
    w = 0.38 if has_oracle else 0.6
    rate = g["approval_rate"].to_numpy(dtype=float)
    err = np.vstack([rate - g["approval_rate_low"].to_numpy(float), g["approval_rate_high"].to_numpy(float) - rate])
    bars = ax.bar(
        x - (w / 2 if has_oracle else 0), rate, w, yerr=err, capsize=3, label="model (95% CI)", color=PALETTE["model"]
    )
    for bar, ok in zip(bars, counted, strict=True):
        if not ok:
            bar.set(hatch="//", alpha=0.45)
    if has_oracle:
        ax.bar(x + w / 2, g["oracle_approval_rate"], w, label="oracle (true PD)", color=PALETTE["reference"])
    if counted.any():
        line = di_min * float(np.nanmax(rate[counted]))
        ax.axhline(line, color=PALETTE["flag"], linestyle="--", linewidth=1, label=f"{di_min:g} x most-approved")
    _xticks(ax, names)
    ax.set(ylabel="approval rate", title=f"Approval rate at score >= {approve:g} (hatched: not checked)", ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[0, 1]
    ax.bar(x - 0.2, g["tpr_good"], 0.4, label="among borrowers who repaid (TPR)", color=PALETTE["good"])
    ax.bar(x + 0.2, g["fpr_bad"], 0.4, label="among borrowers who defaulted (FPR)", color=PALETTE["bad"])
    _xticks(ax, names)
    ax.set(ylabel="approval rate", title="Equal opportunity and equalised odds", ylim=(0, 1))
    ax.legend(loc="lower right", fontsize=8)

    ax = axes[1, 0]
    cal = a.calibration
    top = max(float(cal["pd_mean"].max()), float(cal["default_rate"].max()), 1e-3) * 1.05 if len(cal) else 1.0
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8)
    for name in names:
        c = cal[cal["group"].astype(str) == name]
        ax.plot(c["pd_mean"], c["default_rate"], marker="o", markersize=3, label=name)
    gap = "n/a" if a.calibration_gap is None else f"{a.calibration_gap:.3f}"
    ax.set(
        xlabel="predicted PD (mean in decile)",
        ylabel="observed default rate",
        title=f"Calibration by decile (gap {gap})",
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
    return fig


def inclusion_figure(inc: InclusionLift) -> Figure:
    seg = inc.segments
    y = np.arange(len(seg))[::-1]
    fig = new_figure(9, 0.45 * len(seg) + 1.6, layout=MeasuredLayout())
    ax = fig.subplots()
    ax.barh(y + 0.2, seg["model_approval_rate"].astype(float), 0.4, label="this model", color=PALETTE["model"])
    if inc.baseline_reaches:
        base = seg["baseline_approval_rate"].astype(float)
        ax.barh(y - 0.2, base, 0.4, label=inc.baseline, color=PALETTE["reference"])
    ax.set_yticks(y, seg["segment"])
    title = f"Approvals at the same bad rate among approved ({100 * inc.target_bad_rate:.1f}%)"
    if not inc.baseline_reaches:
        title += f"\n(the {inc.baseline} cannot reach this bad rate)"
    ax.set(xlabel="approval rate", xlim=(0, 1), title=title)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def proxy_figure(proxies: list[ProxyAudit]) -> Figure:
    fig = new_figure(7, 0.5 * len(proxies) + 1.5, layout=MeasuredLayout())
    ax = fig.subplots()
    y = np.arange(len(proxies))[::-1]
    ax.barh(y, [p.auc for p in proxies], color=PALETTE["proxy"])
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, [p.attribute for p in proxies])
    ax.set(
        xlim=(0.4, 1),
        xlabel="held-out AUC of predicting the attribute from the model inputs",
        title="Proxy audit (0.5 = the inputs say nothing about it)",
    )
    return fig


def _mark(passed: bool | None) -> str:
    return {True: "good", False: "bad", None: "muted"}[passed]


def _checked(a: AttributeAudit, group: str, counted: bool, why_not: str) -> str:
    """'yes', or why the group is in no check, or which check it is left out of."""
    if group in a.partly_checked:
        return f"not in equal opportunity: {a.partly_checked[group]}"
    return "yes" if counted else why_not


def _attribute(a: AttributeAudit, report: FairnessReport) -> dict[str, Any]:
    checks = [(_mark(c.passed), c.sentence + ".") for c in report.checks if c.attribute == a.name]
    lines = []
    if a.eod_diff is not None:
        lines.append(f"Equalised odds difference {a.eod_diff:.3f}; most-approved checked group: {a.reference_group}.")
    lines.extend(f"{words[:1].upper()}{words[1:]}." for words in a.left_out_sentences)
    if a.oracle_di_ratio is not None:
        lines.append(
            f"Oracle yardstick: disparate impact ratio {a.oracle_di_ratio:.3f}, equal opportunity difference "
            f"{format_value(a.oracle_eo_diff)} (model: {format_value(a.di_ratio)} and {format_value(a.eo_diff)})."
        )
    if a.unassigned_rows:
        why = [
            f"{n:,} with {what}"
            for n, what in ((a.no_value_rows, "no value"), (a.undeclared_rows, "a value the schema does not declare"))
            if n
        ]
        lines.append(f"{a.unassigned_rows:,} rows belong to no {a.name} group ({' and '.join(why) or 'no value'}).")
    groups: Table | None = None
    img: Image | None = None
    if len(a.groups):
        records = a.groups.reset_index()
        records["checked"] = [
            _checked(a, str(g), bool(n), str(why))
            for g, n, why in records[["group", "counted", "why_not"]].itertuples(index=False)
        ]
        groups = table(
            records,
            _group_columns(report.limits.disparate_impact_min),
            row_class=lambda r: "" if r["counted"] else "unchecked",
        )
        fig = attribute_figure(a, report.cutoffs.approve, report.cutoffs.refer, report.limits.disparate_impact_min)
        img = image(fig, f"plots for {a.name}")
    return {"name": a.name, "checks": checks, "lines": lines, "findings": a.findings, "table": groups, "image": img}


def _inclusion(report: FairnessReport) -> dict[str, Any] | None:
    inc = report.inclusion
    if inc is None:
        return None
    seg = inc.segments.set_index("segment")
    worst = [f"{a.name}={a.worst_group}" for a in report.attributes[:1] if a.worst_group is not None]
    words = []
    for name in seg.index:
        if name == "all" or str(name).startswith("thin") or name in worst:
            r = seg.loc[name]
            said = f"{name}: this model approves {format_value(r['model_approval_rate'], 'pct')}"
            if inc.baseline_reaches:
                said += (
                    f", the {inc.baseline} {format_value(r['baseline_approval_rate'], 'pct')}: "
                    f"{1000 * float(r['lift']):+.0f} approvals per 1,000 applicants."
                )
            else:
                said += f"; the {inc.baseline} cannot reach this bad rate."
            words.append(said)
    achieved = f"model {format_value(inc.model_bad_rate, 'pct')}"
    if inc.baseline_reaches:
        achieved += f", baseline {format_value(inc.baseline_bad_rate, 'pct')}"
    columns = [
        Column("segment", "segment", "text"),
        Column("rows", "rows", "int"),
        Column("model_approval_rate", "model approves", "pct"),
        Column("baseline_approval_rate", "baseline approves", "pct"),
        Column("lift", "lift (points)", "pct"),
        Column("ratio", "model / baseline"),
    ]
    small = int((~inc.segments["counted"].astype(bool)).sum()) if "counted" in inc.segments else 0
    if small:
        words.append(
            f"Grey rows: {counted(small, 'segment')} under {report.audit.min_group_rows:,} rows, too few for their "
            "rates to be findings (they are not logged as metrics)."
        )
    return {
        "target": format_value(inc.target_bad_rate, "pct"),
        "achieved": achieved,
        "line_rate": format_value(seg.loc["all", "model_approval_rate"], "pct") if "all" in seg.index else "n/a",
        "cutoff_rate": format_value(report.overall.get("approval_rate"), "pct"),
        "note": inc.baseline_note,
        "words": words,
        "table": table(inc.segments, columns, row_class=lambda r: "" if r.get("counted", True) else "unchecked"),
        "image": image(inclusion_figure(inc), "inclusion lift"),
    }


def _proxies(proxies: list[ProxyAudit]) -> dict[str, Any] | None:
    if not proxies:
        return None
    records = [
        {
            "attribute": p.attribute,
            "auc": p.auc,
            "rows": p.rows,
            "features": ", ".join(f"{f} ({100 * s:.0f}%)" for f, s in p.top_features),
            "left_out": ", ".join(f"{g} ({n:,} rows)" for g, n in p.left_out.items()),
        }
        for p in proxies
    ]
    columns = [
        Column("attribute", "attribute", "text"),
        Column("auc", "AUC"),
        Column("rows", "rows", "int"),
        Column("features", "features carrying it (gain share)", "text"),
        Column("left_out", "groups left out (too few rows)", "text"),
    ]
    return {"table": table(records, columns), "image": image(proxy_figure(proxies), "proxy audit")}


def _overall(report: FairnessReport) -> str:
    o = report.overall
    text = (
        f"{int(o['rows']):,} applicants; observed default rate {format_value(o['default_rate'], 'pct')}; approved at "
        f"score >= {report.cutoffs.approve:g}: {format_value(o['approval_rate'], 'pct')}, of whom "
        f"{format_value(o['default_rate_approved'], 'pct')} defaulted; AUC {format_value(o['auc'])}"
    )
    if "oracle_auc" in o:
        text += (
            f"; oracle AUC {format_value(o['oracle_auc'])}, oracle approves "
            f"{format_value(o['oracle_approval_rate'], 'pct')}"
        )
    return text + "."


def _interval(low: float | None, high: float | None, limit: float) -> str | None:
    if low is None or high is None:
        return None
    return f"{versus_limit(low, limit)} to {versus_limit(high, limit)}"


def render_html(report: FairnessReport, title: str = "thinfile fairness report") -> str:
    """The whole report as one HTML document (no external files, no scripts)."""
    confidence = f"{100 * report.audit.confidence:g}%"
    meta = [
        " · ".join(f"{k}: {v}" for k, v in report.model.items() if v not in (None, "", [])),
        " · ".join(f"{k}: {v}" for k, v in report.data.items()),
    ]
    chars = ValidationSettings().shown_value_chars
    unchecked = table(
        [{**u.__dict__, "group": clipped(u.group, chars)} for u in report.unchecked],
        [
            Column("attribute", "attribute", "text"),
            Column("group", "group", "text"),
            Column("rows", "rows", "int"),
            Column("reason", "why it was not checked", "text"),
        ],
    )
    checks = table(
        [
            {
                "attribute": c.attribute,
                "check": c.metric.replace("_", " "),
                "value": None if c.value is None else versus_limit(c.value, c.limit),
                "interval": _interval(c.low, c.high, c.limit),
                "limit": c.limit,
                "result": {True: "pass", False: "FAIL", None: "not run"}[c.passed],
                "noise": "yes: the interval crosses the limit" if c.within_noise else None if c.low is None else "no",
            }
            for c in report.checks
        ],
        [
            Column("attribute", "attribute", "text"),
            Column("check", "check", "text"),
            Column("value", "value"),
            Column("interval", f"{confidence} interval", "text"),
            Column("limit", "limit"),
            Column("result", "result", "text", lambda r: r["result"] != "pass"),
            Column("noise", "within sampling noise", "text", lambda r: r["noise"] not in (None, "no")),
        ],
    )
    limits = report.limits
    proxy_not_run = [f"{note[:1].upper()}{note[1:]}" for note in report.proxy_skipped.values()]
    return render(
        "fairness.html.j2",
        title=title,
        meta=[m for m in meta if m],
        verdict=Verdict(report.verdict, report.headline),
        unchecked=unchecked if report.unchecked else None,
        min_group_rows=report.audit.min_group_rows,
        confidence=confidence,
        coverage=report.coverage,
        failures=[c.line + "." for c in report.failures],
        noise=[c.line + "." for c in report.passes_within_noise],
        not_run=[c.sentence + "." for c in report.not_run] + proxy_not_run,
        overall=_overall(report),
        limits=(
            f"Limits: disparate impact ratio >= {limits.disparate_impact_min:g}"
            f"{' (the four-fifths rule)' if limits.disparate_impact_min == FOUR_FIFTHS else ''}, "
            f"equal opportunity difference <= {limits.equal_opportunity_max:g}, calibration gap <= "
            f"{limits.calibration_gap_max:g}."
        ),
        di_min=f"{limits.disparate_impact_min:g}",
        checks=checks,
        inclusion=_inclusion(report),
        attributes=[_attribute(a, report) for a in report.attributes],
        proxies=_proxies(report.proxies),
        notes=report.notes,
    )


def write_report(
    report: FairnessReport, out_dir: str | Path, stem: str = "fairness_report", title: str = "thinfile fairness report"
) -> tuple[Path, Path]:
    """Write `<stem>.json` then `<stem>.html` to `out_dir` (the JSON first: it is the record)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html, js = out / f"{stem}.html", out / f"{stem}.json"
    js.write_text(report.to_json(), encoding="utf-8")
    html.write_text(render_html(report, title), encoding="utf-8")
    return html, js


__all__ = ["attribute_figure", "inclusion_figure", "proxy_figure", "render_html", "write_report"]
