"""Population report of a batch job: score and band mix, approval at the cut-offs, PSI vs training, group approval.

Chunks are summarised into additive counts (`chunk_stats`), summed (`merge_stats`) by any engine, and
turned into the report at the end, so the report never needs the scored rows in memory.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from thinfile.features.schema import FeatureType
from thinfile.serving.batch.settings import BatchSettings
from thinfile.training.fairness.audit import FairnessAudit, FairnessLimits
from thinfile.training.fairness.metrics import MISSING_GROUP
from thinfile.training.plots import BAND_COLOURS
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.explain import Explanation
from thinfile.training.stability import StabilityLimits, bin_shares, psi

REPORT_JSON = "population_report.json"
REPORT_HTML = "population_report.html"
NO_REFERENCE = "the model carries no training reference, so stability (PSI) cannot be measured"


def _counts(values: np.ndarray, edges: list[float] | None, levels: int | None) -> list[int]:
    shares = np.asarray(bin_shares(values, edges or [], levels))
    return np.rint(shares * len(values)).astype(np.int64).tolist()


def score_grid(scorer: Scorer, step: float) -> np.ndarray:
    return np.arange(scorer.scale.min_score, scorer.scale.max_score + step, step)


def chunk_stats(scorer: Scorer, explanation: Explanation, groups: pd.DataFrame, settings: BatchSettings) -> dict:
    """Additive summary of one scored chunk (counts only; JSON-ready)."""
    score, schema = explanation.score, scorer.schema
    grid = score_grid(scorer, settings.approval_grid_step)
    hist = np.bincount(np.clip(np.searchsorted(grid, score, side="right") - 1, 0, len(grid) - 1), minlength=len(grid))
    approved = explanation.decision == "approve"
    stats: dict = {
        "rows": int(len(score)),
        "score_sum": float(score.sum()),
        "pd_sum": float(explanation.pd.sum()),
        "score_hist": hist.tolist(),
        "bands": {name: int((explanation.band == name).sum()) for name, _ in scorer.scale.bands},
        "decisions": {d: int((explanation.decision == d).sum()) for d in ("approve", "refer", "decline")},
        "at_or_above": {
            "refer": int((score >= scorer.cutoffs.refer).sum()),
            "approve": int((score >= scorer.cutoffs.approve).sum()),
        },
        "groups": {},
        "psi_counts": {},
    }
    for attr in groups.columns:
        values = groups[attr].astype(object).where(groups[attr].notna(), MISSING_GROUP).astype(str).to_numpy()
        stats["groups"][attr] = {
            str(g): [int((values == g).sum()), int(((values == g) & approved).sum())] for g in np.unique(values)
        }
    ref = scorer.reference
    if ref:
        stats["psi_counts"]["score"] = _counts(score, ref["score"]["edges"], None)
        for j, f in enumerate(schema.features):
            r = ref["features"].get(f.name)
            if r is not None:
                levels = len(f.levels) if f.type is FeatureType.category else None
                stats["psi_counts"][f.name] = _counts(explanation.X[:, j], r["edges"], levels)
    return stats


def merge_stats(a: dict | None, b: dict) -> dict:
    """Sum two summaries key by key (numbers add, lists add element-wise, dicts merge)."""
    if a is None:
        return json.loads(json.dumps(b))
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = json.loads(json.dumps(value))
        elif isinstance(value, dict):
            out[key] = merge_stats(out[key], value)
        elif isinstance(value, list):
            out[key] = [x + y for x, y in zip(out[key], value, strict=True)]
        else:
            out[key] = out[key] + value
    return out


def _stability(stats: dict, scorer: Scorer, limits: StabilityLimits) -> dict:
    ref = scorer.reference
    if not ref or not stats.get("psi_counts"):
        return {"available": False, "note": NO_REFERENCE}
    values = {
        name: psi(ref["score"]["shares"] if name == "score" else ref["features"][name]["shares"], counts)
        for name, counts in stats["psi_counts"].items()
    }
    features = {k: v for k, v in values.items() if k != "score"}
    shifted = sorted((k for k, v in values.items() if v > limits.shift), key=lambda k: -values[k])
    return {
        "available": True,
        "reference_rows": ref.get("rows"),
        "watch_above": limits.watch,
        "flag_above": limits.shift,
        "score": {"psi": round(values["score"], 6), "level": limits.level(values["score"])},
        "features": {
            k: {"psi": round(v, 6), "level": limits.level(v)}
            for k, v in sorted(features.items(), key=lambda kv: -kv[1])
        },
        "shifted": shifted,
        "flag": bool(shifted),
    }


def _fairness(stats: dict, scorer: Scorer, limits: FairnessLimits, groups_rule: FairnessAudit) -> dict:
    """Approval by group; only declared categories with at least `min_group_rows` rows count towards the ratio."""
    declared = {p.name: set(p.categories) for p in scorer.schema.protected}
    out = {}
    for attr, groups in stats.get("groups", {}).items():
        allowed = declared.get(attr, set())
        rows, left_out = [], []
        for g, (n, approved) in sorted(groups.items()):
            rate = approved / n if n else 0.0
            if g not in allowed:
                why = "missing" if g == MISSING_GROUP else "not a category the schema declares"
            elif n < groups_rule.min_group_rows:
                why = f"fewer than {groups_rule.min_group_rows} rows"
            else:
                why = ""
            row = {"group": g, "rows": n, "approval_rate": round(rate, 6), "counted": not why, "why_not": why or None}
            rows.append(row)
            if why:
                left_out.append(f"{g} ({n:,} rows: {why})")
        counted = [r for r in rows if r["counted"]]
        best = max((r["approval_rate"] for r in counted), default=0.0)
        for r in rows:
            r["disparate_impact"] = round(r["approval_rate"] / best, 6) if r["counted"] and best > 0 else None
        ratios = [r["disparate_impact"] for r in counted if r["disparate_impact"] is not None]
        complete = len(ratios) >= 2
        worst = min(ratios) if complete else None
        out[attr] = {
            "groups": rows,
            "disparate_impact_ratio": worst,
            "complete": complete,
            "left_out": left_out,
            "flag": worst is not None and worst < limits.disparate_impact_min,
            "four_fifths_limit": limits.disparate_impact_min,
        }
    return out


def build_report(
    stats: dict | None,
    scorer: Scorer,
    settings: BatchSettings,
    fairness: FairnessLimits,
    groups_rule: FairnessAudit,
    stability: StabilityLimits,
    job: dict | None = None,
    model: dict | None = None,
) -> dict:
    """The report from merged chunk summaries."""
    stats = stats or {}
    n = int(stats.get("rows", 0))
    grid = score_grid(scorer, settings.approval_grid_step)
    hist = np.asarray(stats.get("score_hist", np.zeros(len(grid))), dtype=np.int64)
    at_or_above = hist[::-1].cumsum()[::-1]

    def share(k: int) -> float | None:
        return round(k / n, 6) if n else None

    cut = stats.get("at_or_above", {"refer": 0, "approve": 0})
    return {
        "job": job or {},
        "model": model or {k: scorer.meta.get(k) for k in ("name", "version")},
        "rows_scored": n,
        "score": {
            "mean": round(stats["score_sum"] / n, 4) if n else None,
            "pd_mean": round(stats["pd_sum"] / n, 6) if n else None,
            "histogram": {"lower_edges": grid.tolist(), "counts": hist.tolist()},
        },
        "bands": [{"band": b, "rows": c, "share": share(c)} for b, c in stats.get("bands", {}).items()],
        "decisions": {d: {"rows": c, "share": share(c)} for d, c in stats.get("decisions", {}).items()},
        "approval_at_cutoffs": [
            {
                "cutoff": scorer.cutoffs.refer,
                "name": "refer",
                "rows_at_or_above": cut["refer"],
                "rate": share(cut["refer"]),
            },
            {
                "cutoff": scorer.cutoffs.approve,
                "name": "approve",
                "rows_at_or_above": cut["approve"],
                "rate": share(cut["approve"]),
            },
        ],
        "approval_curve": [{"cutoff": float(c), "rate": share(int(k))} for c, k in zip(grid, at_or_above)],
        "stability": _stability(stats, scorer, stability),
        "fairness": _fairness(stats, scorer, fairness, groups_rule),
    }


def _png(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figures(report: dict, scorer: Scorer) -> list[tuple[str, str]]:
    figs = []
    hist = report["score"]["histogram"]
    lows = [low for _, low in scorer.scale.bands]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
    edges = np.asarray(hist["lower_edges"])
    colours = [BAND_COLOURS[max(np.searchsorted(lows, e, side="right") - 1, 0) % len(BAND_COLOURS)] for e in edges]
    width = edges[1] - edges[0] if len(edges) > 1 else 10
    ax.bar(edges, hist["counts"], width=width, align="edge", color=colours)
    ax.set(xlabel="score", ylabel="rows", title="Score distribution (coloured by band)")
    curve = report["approval_curve"]
    ax2.plot([c["cutoff"] for c in curve], [c["rate"] or 0 for c in curve])
    for c in report["approval_at_cutoffs"]:
        ax2.axvline(c["cutoff"], linestyle=":", color="grey")
        ax2.annotate(f"{c['name']} {c['cutoff']:g}: {(c['rate'] or 0):.1%}", (c["cutoff"], c["rate"] or 0), fontsize=8)
    ax2.set(xlabel="cut-off score", ylabel="share at or above", title="Approval rate by cut-off")
    fig.tight_layout()
    figs.append(("Scores and approval", _png(fig)))
    stab = report["stability"]
    if stab["available"]:
        names = ["score", *stab["features"]]
        values = [stab["score"]["psi"], *(v["psi"] for v in stab["features"].values())]
        fig, ax = plt.subplots(figsize=(11, max(3.0, 0.18 * len(names))))
        ax.barh(
            names[::-1], values[::-1], color=["#c0392b" if v > stab["flag_above"] else "#7f8c8d" for v in values[::-1]]
        )
        ax.axvline(stab["watch_above"], linestyle=":", color="orange")
        ax.axvline(stab["flag_above"], linestyle="--", color="red")
        ax.tick_params(axis="y", labelsize=7)
        ax.set(xlabel="PSI vs training reference", title="Population stability")
        fig.tight_layout()
        figs.append(("Stability", _png(fig)))
    if report["fairness"]:
        attrs = list(report["fairness"])
        fig, axes = plt.subplots(1, len(attrs), figsize=(4 * len(attrs), 3.2), squeeze=False)
        for ax, attr in zip(axes[0], attrs):
            rows = report["fairness"][attr]["groups"]
            ax.bar([r["group"] for r in rows], [r["approval_rate"] for r in rows], color="#2980b9")
            ax.set(title=f"{attr}: DI {report['fairness'][attr]['disparate_impact_ratio']}", ylabel="approval rate")
            ax.tick_params(axis="x", labelsize=8)
        fig.tight_layout()
        figs.append(("Approval by group", _png(fig)))
    return figs


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: dict, scorer: Scorer) -> str:
    model = report["model"]
    stab = report["stability"]
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>thinfile population report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}.flag{color:#c0392b;font-weight:bold}</style>",
        "</head><body>",
        f"<h1>Population report</h1><p>Model {html.escape(str(model.get('name')))} version "
        f"{html.escape(str(model.get('version')))}; {report['rows_scored']:,} rows scored; "
        f"mean score {report['score']['mean']}.</p>",
    ]
    if stab["available"]:
        verdict = (
            f"<span class='flag'>Shift: {', '.join(stab['shifted'])} (PSI &gt; {stab['flag_above']})</span>"
            if stab["flag"]
            else "No feature or score shifted beyond the flag."
        )
        lines.append(f"<p>Stability: score PSI {stab['score']['psi']:.4f} ({stab['score']['level']}). {verdict}</p>")
    else:
        lines.append(f"<p>{html.escape(stab['note'])}</p>")
    lines.append("<h2>Bands and decisions</h2>" + _table(report["bands"]))
    lines.append(_table([{"decision": d, **v} for d, v in report["decisions"].items()]))
    lines.append("<h2>Approval at the cut-offs</h2>" + _table(report["approval_at_cutoffs"]))
    for attr, fair in report["fairness"].items():
        flag = " <span class='flag'>below the four-fifths rule</span>" if fair["flag"] else ""
        lines.append(
            f"<h2>Approval by {html.escape(attr)}: disparate impact ratio {fair['disparate_impact_ratio']}{flag}</h2>"
        )
        lines.append(_table(fair["groups"]))
    for title, png in _figures(report, scorer):
        lines.append(f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{png}' style='max-width:100%'>")
    lines.append("</body></html>")
    return "\n".join(lines)


def write_report(report: dict, scorer: Scorer, folder: str | Path) -> tuple[Path, Path]:
    """population_report.json and .html in `folder`, each written atomically."""
    folder = Path(folder)
    paths = []
    for name, text in ((REPORT_JSON, json.dumps(report, indent=1)), (REPORT_HTML, render_html(report, scorer))):
        path = folder / name
        tmp = folder / f".{name}.tmp-{os.getpid()}"
        tmp.write_text(text)
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]
