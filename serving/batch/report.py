"""Population report of a batch job: score and band mix, approval at the cut-offs, PSI vs training, group approval.

Chunks are summarised into additive counts (`stats.chunk_stats`), summed (`stats.merge_stats`) by any
engine, and turned into the report at the end, so the report never needs the scored rows in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from thinfile.features import jsonio
from thinfile.features.schema import protected_values
from thinfile.features.words import counted
from thinfile.serving.batch.output import REPORT_HTML, REPORT_JSON, write_texts_together
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.batch.stats import score_grid
from thinfile.training.fairness.impact import disparate_impact
from thinfile.training.reporting import (
    BAND_COLOURS,
    PALETTE,
    Column,
    Image,
    Verdict,
    image,
    render,
    table,
    text_inches,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import FairnessAudit, FairnessLimits, StabilityLimits
from thinfile.training.stability import psi

NO_REFERENCE = "the model carries no training reference, so stability (PSI) cannot be measured"
NO_ROWS = "no row was scored, so stability (PSI) cannot be measured"


def group_rows(
    raw: dict[str, list[int]], names: Mapping[str, str] | None = None
) -> tuple[dict[str, int], dict[str, int]]:
    """Rows and approvals per group label, from counts per protected value as chunks kept them (JSON keys).

    Labels come from `protected_values` over the book's distinct values at once, as the fairness audit
    labels a column (integer-coded 1.0 as "1", a labelled code by its `names`, missing as MISSING_GROUP).
    """
    keys = list(raw)
    values = pd.Series([json.loads(k) for k in keys])
    labels: list[str] = protected_values(values, names).tolist() if keys else []
    rows: dict[str, int] = {}
    approved: dict[str, int] = {}
    for key, label in zip(keys, labels, strict=True):
        rows[str(label)] = rows.get(str(label), 0) + raw[key][0]
        approved[str(label)] = approved.get(str(label), 0) + raw[key][1]
    return rows, approved


def _stability(stats: dict, scorer: Scorer, limits: StabilityLimits) -> dict:
    ref = scorer.reference
    if not ref or not stats.get("psi_counts"):
        return {"available": False, "note": NO_REFERENCE if not ref else NO_ROWS}
    values = {
        name: psi(ref["score"]["shares"] if name == "score" else ref["features"][name]["shares"], counts)
        for name, counts in stats["psi_counts"].items()
    }
    features = {k: v for k, v in values.items() if k != "score"}
    rows = int(sum(stats["psi_counts"]["score"]))
    judged = rows >= limits.min_rows

    def level(value: float) -> str:
        return limits.level(value) if judged else "not judged"

    shifted = sorted((k for k, v in values.items() if judged and v > limits.shift), key=lambda k: -values[k])
    return {
        "available": True,
        "judged": judged,
        "rows": rows,
        "min_rows": limits.min_rows,
        **({} if judged else {"note": f"{rows:,} scored rows, fewer than {limits.min_rows:,}: PSI not judged"}),
        "reference_rows": ref.get("rows"),
        "watch_above": limits.watch,
        "flag_above": limits.shift,
        "score": {"psi": round(values["score"], 6), "level": level(values["score"])},
        "features": {
            k: {"psi": round(v, 6), "level": level(v)} for k, v in sorted(features.items(), key=lambda kv: -kv[1])
        },
        "shifted": shifted,
        "flag": bool(shifted),
    }


def _fairness(stats: dict, scorer: Scorer, limits: FairnessLimits, groups_rule: FairnessAudit) -> dict:
    """Approval by group and the disparate impact ratio, by the fairness audit's own rule (`disparate_impact`).

    Missing values are not groups; a value outside the schema's categories, and a declared group under
    `min_group_rows` rows, is listed but not counted, and makes the attribute incomplete (as in the fairness audit).
    """
    declared, names = scorer.schema.protected_groups, scorer.schema.group_names
    out = {}
    for attr, raw in stats.get("groups", {}).items():
        rows_by_group, approved_by_group = group_rows(raw, names.get(attr))
        di = disparate_impact(
            rows_by_group,
            approved_by_group,
            min_rows=groups_rule.min_group_rows,
            categories=declared.get(attr),
        )
        rows, left_out = [], []
        for g, r in di.groups.iterrows():
            rate, ratio = float(r["approval_rate"]), float(r["di_ratio"])
            rows.append(
                {
                    "group": str(g),
                    "rows": int(r["rows"]),
                    "approval_rate": round(rate, 6) if np.isfinite(rate) else None,
                    "counted": bool(r["counted"]),
                    "why_not": r["why_not"],
                    "disparate_impact": round(ratio, 6) if np.isfinite(ratio) else None,
                }
            )
            if not r["counted"]:
                n, why = int(r["rows"]), str(r["why_not"])
                left_out.append(f"{g} ({why})" if why.startswith(f"{n:,} row") else f"{g} ({counted(n, 'row')}: {why})")
        worst = None if di.ratio is None else round(di.ratio, 6)
        out[attr] = {
            "groups": rows,
            "disparate_impact_ratio": worst,
            "reference_group": di.reference,
            "worst_group": di.worst,
            "complete": worst is not None and di.unchecked.empty and not left_out,
            "unchecked": [str(g) for g in di.unchecked.index],
            "left_out": left_out,
            "flag": worst is not None and worst < limits.disparate_impact_min,
            "four_fifths_limit": limits.disparate_impact_min,
            "min_group_rows": groups_rule.min_group_rows,
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
        "groups_absent": [p for p in scorer.schema.protected_names if p not in stats.get("groups", {})] if n else [],
    }


def absent_groups_note(report: dict) -> str:
    """One sentence on the protected attributes the book has no column for (approval by group not measured), or ''."""
    absent = report.get("groups_absent") or []
    if not absent:
        return ""
    return (
        f"Approval by group not measured for {', '.join(absent)}: the book has no such column (the schema's protected "
        "attributes; a scoring book need not hold them)."
    )


_PAD_IN = 0.12


def _margins(
    width: float, height: float, *, left: float, cols: int = 1, gap: float = 0.0, bottom: float = 0.5, top: float = 0.32
) -> dict[str, float]:
    """`subplots_adjust` arguments for margins and gaps between `cols` axes given in inches: the layout measured
    once from the widest labels, rather than by the constrained-layout engine's two passes over every tick label
    (half of drawing a figure)."""
    inner = width - left - 2 * _PAD_IN
    axis = (inner - (cols - 1) * gap) / cols
    return {
        "left": (left + _PAD_IN) / width,
        "right": 1 - _PAD_IN / width,
        "bottom": (bottom + _PAD_IN) / height,
        "top": 1 - (top + _PAD_IN) / height,
        "wspace": gap / axis,
    }


def _figure(width: float, height: float, rows: int = 1, cols: int = 1) -> Figure:
    """A figure of `rows` x `cols` axes whose titles sit just above them: no axis here writes a tick label or an
    offset ('1e6') above its axes (counts are written whole), so matplotlib's search for a place for each title
    would find that place (skipped: 0.02 s of the report's 0.27 s of figures)."""
    fig = Figure(figsize=(width, height))
    with rc_context({"axes.titley": 1.0}):
        fig.subplots(rows, cols, squeeze=False)
    return fig


def report_figures(report: dict, scorer: Scorer) -> list[tuple[str, Image]]:
    """The report's figures (they read scores, approval, stability and fairness: not the job's summary)."""
    figures = [
        (
            "Scores and approval",
            image(_scores_figure(report, scorer), "score distribution and approval rate by cut-off"),
        )
    ]
    if report["stability"]["available"]:
        figures.append(("Stability", image(_stability_figure(report), "population stability index per feature")))
    if report["fairness"]:
        figures.append(
            (
                "Approval by group (hatched: not counted)",
                image(_fairness_figure(report), "approval rate by protected group"),
            )
        )
    return figures


def _scores_figure(report: dict, scorer: Scorer) -> Figure:
    hist = report["score"]["histogram"]
    lows = [low for _, low in scorer.scale.bands]
    fig = _figure(11, 3.6, 1, 2)
    ax, ax2 = fig.axes
    counts = text_inches([f"{max(hist['counts'], default=0):,}"], 10)
    fig.subplots_adjust(**_margins(11, 3.6, left=counts + 0.4, cols=2, gap=0.85))
    edges = np.asarray(hist["lower_edges"])
    colours = [BAND_COLOURS[max(np.searchsorted(lows, e, side="right") - 1, 0) % len(BAND_COLOURS)] for e in edges]
    width = edges[1] - edges[0] if len(edges) > 1 else 10
    ax.bar(edges, hist["counts"], width=width, align="edge", color=colours)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # a few rows: ticks 0, 1, 2, not 0.5 written "0"
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set(xlabel="score", ylabel="rows", title="Score distribution (coloured by band)")
    curve = report["approval_curve"]
    ax2.plot([c["cutoff"] for c in curve], [c["rate"] or 0 for c in curve], color=PALETTE["model"])
    for c in report["approval_at_cutoffs"]:
        ax2.axvline(c["cutoff"], linestyle=":", color="grey")
        ax2.annotate(f"{c['name']} {c['cutoff']:g}: {(c['rate'] or 0):.1%}", (c["cutoff"], c["rate"] or 0), fontsize=8)
    ax2.set(xlabel="cut-off score", ylabel="share at or above", title="Approval rate by cut-off")
    return fig


def _stability_figure(report: dict) -> Figure:
    stab = report["stability"]
    names = ["score", *stab["features"]]
    values = [stab["score"]["psi"], *(v["psi"] for v in stab["features"].values())]
    height = max(3.0, 0.18 * len(names))
    fig = _figure(11, height)
    ax = fig.axes[0]
    fig.subplots_adjust(**_margins(11, height, left=text_inches(names, 7) + 0.3))
    colour = [PALETTE["flag"] if v > stab["flag_above"] else PALETTE["muted"] for v in values[::-1]]
    ax.barh(names[::-1], values[::-1], color=colour)
    ax.axvline(stab["watch_above"], linestyle=":", color="orange", label=f"watch > {stab['watch_above']:g}")
    ax.axvline(stab["flag_above"], linestyle="--", color="red", label=f"shift > {stab['flag_above']:g}")
    ax.tick_params(axis="y", labelsize=7)
    ax.set(xlabel="PSI vs training reference", title="Population stability")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _fairness_figure(report: dict) -> Figure:
    attrs = list(report["fairness"])
    fig = _figure(4 * len(attrs), 3.2, 1, len(attrs))
    fig.subplots_adjust(**_margins(4 * len(attrs), 3.2, left=0.75, cols=len(attrs), gap=0.85, bottom=0.3))
    for ax, attr in zip(fig.axes, attrs, strict=True):
        fair = report["fairness"][attr]
        rows = fair["groups"]
        counted = [bool(r.get("counted", True)) for r in rows]
        bars = ax.bar([r["group"] for r in rows], [r["approval_rate"] or 0 for r in rows], color=PALETTE["model"])
        for bar, ok in zip(bars, counted, strict=True):
            if not ok:
                bar.set(hatch="//", alpha=0.45)
        ratio = fair.get("disparate_impact_ratio")
        ax.set(title=f"{attr}: DI {'n/a' if ratio is None else f'{ratio:.3f}'}", ylabel="approval rate")
        ax.tick_params(axis="x", labelsize=8)
    return fig


def _limit(fair: dict) -> float | None:
    value = fair.get("disparate_impact_min", fair.get("four_fifths_limit"))
    return None if value is None else float(value)


def _below(limit: float | None) -> Callable[[Mapping[str, Any]], bool]:
    def flag(row: Mapping[str, Any]) -> bool:
        ratio = row.get("disparate_impact")
        return limit is not None and ratio is not None and ratio < limit

    return flag


def _table(rows: list[dict], columns: list[Column]) -> Any:
    return table(rows, columns) if rows else None


def _banner(report: dict) -> Verdict:
    """Red when the book shifted or a group is under the disparate-impact limit; amber when something is unmeasured."""
    stab, fairness = report["stability"], report["fairness"]
    if not report["rows_scored"]:
        rows_in = (report.get("job") or {}).get("rows_in")
        why = {0: "The book has no rows", None: "No row was scored"}.get(rows_in, "Every row was rejected")
        return Verdict("incomplete", f"{why}: nothing was scored, so nothing here was measured.")
    bad, gaps = [], []
    if stab["available"] and stab["flag"]:
        bad.append(f"Shift: {', '.join(stab['shifted'])} (PSI > {stab['flag_above']:g})")
    if not stab["available"]:
        gaps.append("stability not measured")
    elif not stab["judged"]:
        gaps.append(f"stability not judged ({stab['note']})")
    for attr, fair in fairness.items():
        ratio, limit = fair.get("disparate_impact_ratio"), _limit(fair)
        if fair.get("flag"):
            bad.append(f"{attr}: disparate impact ratio {ratio:.3f} below {limit:g}")
        if not fair.get("complete", True):
            gaps.append(f"{attr}: not every group counted")
    absent = absent_groups_note(report)
    absent = f" {absent}" if absent else ""
    if bad:
        return Verdict("fail", "; ".join(bad) + (f". Also: {'; '.join(gaps)}." if gaps else ".") + absent)
    if gaps:
        return Verdict("incomplete", "No shift or disparate impact found, but " + "; ".join(gaps) + "." + absent)
    note = "No feature or score shifted beyond the flag"
    return Verdict(
        "pass", note + (", and every group is within the disparate-impact limit." if fairness else ".") + absent
    )


def _count(rows: object) -> str:
    return f"{rows:,}" if isinstance(rows, int) else "the"


def job_facts(job: Mapping[str, Any]) -> list[str]:
    """The job's summary in words for the page's head (engine, rows, time, rejects by column, duplicate ids)."""
    if not job:
        return []
    facts = [f"engine {job.get('engine')}"]
    if "rows_in" in job:
        facts.append(f"{job['rows_in']:,} rows in = {job['scored']:,} scored + {job['rejected']:,} rejected")
    if job.get("seconds") is not None:
        facts.append(f"{job['seconds']:,.1f} s")
    by_column = job.get("rejected_by_column") or {}
    if by_column:
        shown = ", ".join(f"{column} {count:,}" for column, count in list(by_column.items())[:5])
        facts.append(f"rejected by column: {shown}{', ...' if len(by_column) > 5 else ''}")
    duplicates = job.get("duplicate_ids") or {}
    if duplicates.get("ids"):
        first = ", ".join(str(i) for i in duplicates.get("first", []))
        facts.append(f"duplicate ids: {duplicates['ids']:,} ({duplicates['rows']:,} rows), first {first}")
    return facts


def render_html(report: dict, scorer: Scorer, figures: list[tuple[str, Image]] | None = None) -> str:
    """The population report as one self-contained page (templates/population.html.j2); `figures` if drawn already."""
    model, stab = report["model"], report["stability"]
    mean = report["score"]["mean"]
    meta = [
        f"model {model.get('name')} version {model.get('version')}; {report['rows_scored']:,} rows scored; "
        f"mean score {'n/a' if mean is None else f'{mean:.1f}'}",
    ]
    stability = None
    if stab["available"]:
        stability = {
            "line": f"Score PSI {stab['score']['psi']:.4f} ({stab['score']['level']}) against "
            f"{_count(stab.get('reference_rows'))} training rows; watch above {stab['watch_above']:g}, "
            f"shift above {stab['flag_above']:g}." + ("" if stab["judged"] else f" {stab['note']}: too few to tell."),
            "table": _table(
                [{"feature": k, **v} for k, v in stab["features"].items() if v["level"] != "stable"],
                [Column("feature", "feature", "text"), Column("psi", "PSI", "num"), Column("level", "level", "text")],
            ),
        }
    fairness = []
    for attr, fair in report["fairness"].items():
        limit = _limit(fair)
        columns = [
            Column("group", "group", "text"),
            Column("rows", "rows", "int"),
            Column("approval_rate", "approved", "pct_ci"),
            Column("disparate_impact", "DI ratio", "num", _below(limit)),
            Column("counted", "counted", "yesno"),
            Column("why_not", "why not", "text"),
        ]
        ratio = fair.get("disparate_impact_ratio")
        fairness.append(
            {
                "attribute": attr,
                "ratio": "n/a" if ratio is None else f"{ratio:.3f}",
                "limit": "" if limit is None else f"{limit:g}",
                "flag": bool(fair.get("flag")),
                "left_out": fair.get("left_out", []),
                "table": table(fair["groups"], columns),
            }
        )
    pct = Column("share", "share", "pct")
    return render(
        "population.html.j2",
        title="thinfile population report",
        meta=meta,
        verdict=_banner(report),
        job=job_facts(report.get("job") or {}),
        stability=stability,
        stability_note=None if stab["available"] else stab["note"],
        bands=_table(report["bands"], [Column("band", "band", "text"), Column("rows", "rows", "int"), pct]),
        decisions=_table(
            [{"decision": d, **v} for d, v in report["decisions"].items()],
            [Column("decision", "decision", "text"), Column("rows", "rows", "int"), pct],
        ),
        cutoffs=_table(
            report["approval_at_cutoffs"],
            [
                Column("name", "cut-off", "text"),
                Column("cutoff", "score", "g"),
                Column("rows_at_or_above", "rows at or above", "int"),
                Column("rate", "share at or above", "pct"),
            ],
        ),
        fairness=fairness,
        figures=report_figures(report, scorer) if figures is None else figures,
        scored=bool(report["rows_scored"]),
    )


def write_report(
    report: dict, scorer: Scorer, folder: str | Path, figures: list[tuple[str, Image]] | None = None
) -> tuple[Path, Path]:
    """population_report.json (strict: NaN as null) and .html in `folder`, written together: both or neither (a
    full disk leaves neither, not even an earlier run's)."""
    folder = Path(folder)
    texts = {
        folder / REPORT_JSON: jsonio.dumps(report, indent=1),
        folder / REPORT_HTML: render_html(report, scorer, figures),
    }
    write_texts_together(texts)
    return folder / REPORT_JSON, folder / REPORT_HTML
