"""The lending loop's report: one self-contained HTML page and the same figures as JSON.

Takes the loop's result as plain data (`LoopResult.to_dict()`), so a JSON written earlier renders the same page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from thinfile.features.jsonio import dumps
from thinfile.training.reporting import PALETTE, Column, Verdict, image, new_figure, render, table

HTML_NAME = "lending-loop.html"
JSON_NAME = "lending-loop.json"
METHOD_COLOURS = {
    "none": PALETTE["reference"],
    "reweight": "#8e44ad",
    "augment": "#e67e22",
    "parcel": "#2e86c1",
    "fuzzy": "#16a085",
    "ceiling": "#1e8449",
}

AUC_VS_FLOOR = Column("truth_auc_vs_floor", "AUC minus the floor's", "num_ci", digits=5)  # leads of 0.0002
COMPARISON_COLUMNS = [
    Column("method", kind="text"),
    Column("role", kind="text"),
    Column("truth_auc", "AUC, all applicants", "num_ci", digits=4),
    AUC_VS_FLOOR,
    Column("truth_auc_rejects", "AUC, rejects", "num_ci"),
    Column("truth_auc_thin_rejects", "AUC, thin-file rejects", "num_ci"),
    Column("truth_auc_rural_rejects", "AUC, rural rejects", "num_ci"),
    Column("closed", "gap closed", "pct"),
    Column("truth_calibration_gap", "PD - true PD, all", "num_ci"),
    Column("truth_calibration_gap_rejects", "PD - true PD, rejects", "num_ci"),
    Column("truth_ece", "ECE vs truth"),
    Column("seconds_inference", "inference s"),
    Column("seconds_fit", "fit s"),
]
POLICY_COLUMNS = [
    Column("method", kind="text"),
    Column("policy_bad_rate_at_hist_approval", "bad rate at history's approval rate", "pct_ci", digits=2),
    Column("policy_approval_at_hist_bad_rate", "approved at history's bad rate", "pct_ci", digits=1),
    Column("policy_approval_thin_file_at_hist_bad_rate", "thin-file approved", "pct_ci", digits=1),
    Column("policy_approval_rural_at_hist_bad_rate", "rural approved", "pct_ci", digits=1),
    Column("thin_lift_vs_floor", "thin-file vs floor (points)", "pct"),
]
FAIRNESS_COLUMNS = [
    Column("method", kind="text"),
    Column("fair_approval_urban", "approval, urban", "pct"),
    Column("fair_approval_rural", "approval, rural", "pct"),
    Column("fair_di_ratio", "approval ratio"),
    Column("fair_eo_diff", "approval-among-good gap", "pct"),
    Column("fair_expected_bad_rate_urban", "bad rate, urban", "pct"),
    Column("fair_expected_bad_rate_rural", "bad rate, rural", "pct"),
    Column("fair_truth_auc_urban", "AUC, urban"),
    Column("fair_truth_auc_rural", "AUC, rural"),
]
EXPLORE_COLUMNS = [
    Column("explore_share", "explore share", "pct"),
    Column("explored_share_ttd", "of applicants", "pct"),
    Column("book_expected_bad_rate", "book's bad rate", "pct"),
    Column("extra_expected_defaults_per_1000", "extra defaults per 1,000 applicants"),
    Column("truth_auc", "AUC, all", "num_ci", digits=4),
    AUC_VS_FLOOR,
    Column("truth_auc_rejects", "AUC, rejects", "num_ci"),
    Column("closed", "gap closed", "pct"),
    Column("policy_approval_thin_file_at_hist_bad_rate", "thin-file approved at ref. bad rate", "pct_ci", digits=1),
    Column("seconds", "seconds"),
]
GENERATION_COLUMNS = [
    Column("generation", kind="int"),
    Column("method", kind="text"),
    Column("booked_share", "booked", "pct"),
    Column("booked_share_thin_file", "thin-file booked", "pct"),
    Column("booked_share_rural", "rural booked", "pct"),
    Column("book_expected_bad_rate", "book's bad rate", "pct"),
    Column("truth_auc", "AUC, all", "num_ci", digits=4),
    Column("ceiling_auc", "ceiling AUC", "num_ci", digits=4),
    Column("gap_to_ceiling", "gap to ceiling", "num_ci", digits=4),
]


def _closed(value: float, head: Mapping[str, Any]) -> float:
    gap = head["ceiling_auc"] - head["floor_auc"]
    return float((value - head["floor_auc"]) / gap) if gap >= 1e-3 else float("nan")


def verdict(head: Mapping[str, Any]) -> tuple[Verdict, list[str]]:
    """The banner and the findings in words, from the headline figures; nothing here is tuned."""
    lines = [
        f"A model trained on booked loans only (the floor) reaches AUC {head['floor_auc']:.4f}"
        f"{_ci(head, 'floor_auc')} on all through-the-door applicants against {head['ceiling_auc']:.4f}"
        f"{_ci(head, 'ceiling_auc')} for one trained with every outcome (the ceiling): a gap of {head['gap_auc']:.4f}"
        f"{_ci(head, 'gap_auc')} ({head['gap_auc_rejects']:.4f} on rejects)"
        + (f", {NOISE[head['gap_auc_within_noise']]}. " if "gap_auc_within_noise" in head else ". ")
        + (
            f"That meets the {head['gap_target']:g} a bureau-era book should cost."
            if head["gap_target_met"]
            else f"That is below the {head['gap_target']:g} expected of a bureau-era book: selection here depends only "
            "on model inputs, and the alternative data carry the same signal inside and outside the booked region, so "
            "a booked-only model ranks rejects nearly as well; its larger error is calibration on rejects."
        )
    ]
    if "best_method" in head:
        lines.append(
            f"Best reject-inference method: {head['best_method']} (AUC {head['best_method_auc']:.4f}), closing "
            f"{_pct(head['best_method_closed'])} of the gap; thin-file approvals at the history's bad rate "
            f"{head['best_method_thin_lift'] * 100:+.1f} points vs the floor." + _vs_floor(head, "best_method")
        )
    if "best_explore_share" in head:
        lines.append(
            f"Best exploration share: {head['best_explore_share']:.0%} of would-be rejects (AUC "
            f"{head['best_explore_auc']:.4f}), closing {_pct(head['best_explore_closed'])} of the gap; thin-file "
            f"approvals {head['best_explore_thin_lift'] * 100:+.1f} points vs the floor."
            + _vs_floor(head, "best_explore")
        )
    target = head["closed_target"]
    noise = " and within the sampling noise of the test applicants" if head.get("gap_auc_within_noise") else ""
    parts = [
        f"Floor-to-ceiling gap {head['gap_auc']:.4f} AUC ({'meets' if head['gap_target_met'] else 'below'} "
        f"the {head['gap_target']:g} expected of a bureau-era book{noise})."
    ]
    for who, key in (("reject-inference method", "best_method"), ("exploration share", "best_explore")):
        if f"{key}_closed" not in head:
            continue
        closed = head[f"{key}_closed"]
        best = head["best_method"] if key == "best_method" else f"{head['best_explore_share']:.0%}"
        noise = ", within the sampling noise of the test applicants" if head.get(f"{key}_vs_floor_within_noise") else ""
        if np.isfinite(closed) and closed >= target:
            parts.append(f"The best {who} ({best}) closes {closed:.0%} of it{noise}.")
        else:
            parts.append(f"No {who} closes {target:.0%} of it (best: {best}, {_pct(closed)}{noise}).")
    if head.get("test_applicants"):
        draws = head.get("bootstrap_draws", 0)
        parts.append(
            f"Measured on {head['test_applicants']:,} through-the-door test applicants with one seed "
            f"({head['seed']}): "
            + (
                f"each interval is the 95% range over {draws:,} bootstrap resamples of those applicants, not what "
                "another seed's training would change; "
                if draws
                else "no interval was computed (loop.bootstrap_draws is 0); "
            )
            + "trust an ordering of methods only once `thinfile loop --seed N` repeats it."
        )
    if not head.get("explored", True):
        parts.append("No exploration share was run.")
    if head.get("generations_run", 1) <= 1:
        parts.append("No later generation was run.")
    met = head["closed_target_met"] and head["gap_target_met"]
    return Verdict("pass" if met else "info", " ".join(parts)), lines


NOISE = {
    True: "within the sampling noise of the test applicants (its 95% interval holds 0: another sample of applicants "
    "could reverse it)",
    False: "beyond the sampling noise of the test applicants (its 95% interval excludes 0)",
}


def _ci(head: Mapping[str, Any], key: str, digits: int = 4) -> str:
    """' (95% interval low to high)' of `key` in the headline; nothing without an interval."""
    if f"{key}_low" not in head:
        return ""
    return f" (95% interval {head[f'{key}_low']:.{digits}f} to {head[f'{key}_high']:.{digits}f})"


def _vs_floor(head: Mapping[str, Any], key: str) -> str:
    """The sentence on whether `key`'s AUC differs from the floor's by more than the sampling noise."""
    if f"{key}_vs_floor_within_noise" not in head:
        return ""
    return (
        f" Its AUC minus the floor's, {head[f'{key}_vs_floor']:+.5f}{_ci(head, f'{key}_vs_floor', 5)}, is "
        f"{NOISE[head[f'{key}_vs_floor_within_noise']]}."
    )


def _pct(v: float) -> str:
    return "n/a (no gap)" if not np.isfinite(v) else f"{v:.0%}"


def comparison_figure(methods: Sequence[Mapping[str, Any]]) -> Figure:
    fig = new_figure(9, 3.6)
    ax = fig.subplots()
    keys = [("truth_auc", "all"), ("truth_auc_rejects", "rejects"), ("truth_auc_thin_rejects", "thin-file rejects")]
    keys.append(("truth_auc_rural_rejects", "rural rejects"))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        values = [m.get(k, np.nan) for k, _ in keys]
        x = np.arange(len(keys)) + (i - (len(methods) - 1) / 2) * width
        colour = METHOD_COLOURS.get(m["method"], PALETTE["model"])
        ax.bar(x, values, width, label=m["method"], color=colour, yerr=_errors(m, [k for k, _ in keys]), capsize=2)
    ax.set_xticks(np.arange(len(keys)), [label for _, label in keys])
    low = np.nanmin([m.get(k, np.nan) for m in methods for k, _ in keys])
    ax.set_ylim(max(0.5, low - 0.02), None)
    ax.set_ylabel("AUC against true_pd")
    ax.legend(ncols=len(methods), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    return fig


def exploration_figure(exploration: Sequence[Mapping[str, Any]], methods: Sequence[Mapping[str, Any]]) -> Figure:
    fig = new_figure(10, 3.8, 1, 2)
    ax_auc, ax_thin = fig.axes
    shares = [100 * e["explore_share"] for e in exploration]
    for ax, key, label in (
        (ax_auc, "truth_auc", "AUC against true_pd, all applicants"),
        (ax_thin, "policy_approval_thin_file_at_hist_bad_rate", "thin-file approved at share-0 bad rate"),
    ):
        ax.plot(shares, [e.get(key, np.nan) for e in exploration], "o-", color=PALETTE["model"], label="booked only")
        _band(ax, shares, exploration, key, PALETTE["model"])
        for m in methods:
            if m["method"] == "none":
                continue
            ax.axhline(
                m.get(key, np.nan),
                color=METHOD_COLOURS.get(m["method"], PALETTE["muted"]),
                ls="--" if m["method"] != "ceiling" else "-",
                lw=1,
                label=f"{m['method']} at share 0",
            )
        ax.set_xlabel("would-be rejects approved at random (%)")
        ax.set_title(label, fontsize=10)
    ax_thin.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.1f}%")
    ax_auc.legend(fontsize=7)
    return fig


def generations_figure(generations: Sequence[Mapping[str, Any]]) -> Figure:
    fig = new_figure(10, 3.6, 1, 3)
    frame = pd.DataFrame(list(generations))
    for ax, key, label in zip(
        fig.axes,
        ("booked_share_thin_file", "booked_share_rural", "gap_to_ceiling"),
        ("thin-file applicants booked", "rural applicants booked", "AUC gap to the ceiling"),
        strict=True,
    ):
        for method, rows in frame.groupby("method", sort=False):
            colour = METHOD_COLOURS.get(str(method), "#555")
            ax.plot(rows["generation"], rows[key], "o-", label=method, color=colour)
            _band(ax, rows["generation"], rows.to_dict(orient="records"), key, colour)
        ax.set_xlabel("generation")
        ax.set_title(label, fontsize=10)
        ax.set_xticks(sorted(frame["generation"].unique()))
    fig.axes[0].legend(fontsize=7)
    return fig


def _errors(row: Mapping[str, Any], keys: Sequence[str]) -> np.ndarray | None:
    """Error bars (2 x len(keys), below and above each value) from the row's 95% intervals; None without them."""
    if not all(f"{k}_low" in row for k in keys):
        return None
    values = np.array([row[k] for k in keys], dtype=np.float64)
    return np.vstack([values - [row[f"{k}_low"] for k in keys], [row[f"{k}_high"] for k in keys] - values])


def _band(ax: Any, x: Any, rows: Sequence[Mapping[str, Any]], key: str, colour: str) -> None:
    """The rows' 95% intervals of `key` as a shaded band behind their line (none where they have none)."""
    low = [r.get(f"{key}_low", np.nan) for r in rows]
    if np.isfinite(np.asarray(low, dtype=np.float64)).any():
        ax.fill_between(x, low, [r.get(f"{key}_high", np.nan) for r in rows], color=colour, alpha=0.15, lw=0)


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    head = report["headline"]
    banner, findings = verdict(head)
    methods = [dict(m) for m in report["methods"]]
    floor_thin = next(m for m in methods if m["method"] == "none").get("policy_approval_thin_file_at_hist_bad_rate")
    for m in methods:
        m["closed"] = _closed(m["truth_auc"], head) if m["role"] == "method" else np.nan
        m["thin_lift_vs_floor"] = m.get("policy_approval_thin_file_at_hist_bad_rate", np.nan) - (floor_thin or np.nan)
    exploration = [dict(e, closed=_closed(e["truth_auc"], head)) for e in report["exploration"]]
    draws = head.get("bootstrap_draws", 0)
    bars, band = ("", "")
    if draws:  # each figure's own interval; a difference between two models has a narrower, paired one (the tables)
        bars = "Bars: 95% intervals of each figure; the paired interval of a difference is in the table above."
        band = "Shaded: 95% intervals (the gap to the ceiling's paired: both models on the same resamples)."
    figures = [("Against the truth, by method", image(comparison_figure(methods), "AUC by method and segment", bars))]
    if exploration:
        figures.append(
            (
                "What exploration buys",
                image(
                    exploration_figure(exploration, methods), "AUC and thin-file approvals by exploration share", band
                ),
            )
        )
    if report["generations"]:
        figures.append(
            (
                "Generations of the loop",
                image(generations_figure(report["generations"]), "inclusion by generation", band),
            )
        )
    book = report["book"]
    meta = [
        f"loop {report['loop_id'][:8]} · {report['settings']['rows']:,} applicants per generation · seed "
        f"{report['settings']['seed']} · "
        + (
            f"95% intervals from {draws:,} bootstrap resamples of the test applicants"
            if draws
            else "no intervals (loop.bootstrap_draws 0)"
        ),
        f"history: {report['policy'].get('policy')} booked {book['booked_share']:.1%} (thin-file "
        f"{book['booked_share_thin_file']:.1%}, rural {book['booked_share_rural']:.1%}); expected bad rate booked "
        f"{book['expected_bad_rate_booked']:.2%} vs {book['expected_bad_rate_ttd']:.2%} through the door",
    ]
    return render(
        "lending_loop.html.j2",
        title="The lending loop: reject inference and exploration against the truth",
        meta=meta,
        verdict=banner,
        findings=findings,
        comparison=table(methods, COMPARISON_COLUMNS, "Each method's champion on through-the-door test applicants"),
        policy=table(methods, POLICY_COLUMNS, "The policy a lender would run with each champion"),
        fairness=table(methods, FAIRNESS_COLUMNS, "Rural and urban applicants at the history's approval rate"),
        exploration=table(exploration, EXPLORE_COLUMNS, "Booked-only champion by exploration share")
        if exploration
        else None,
        generations=table(report["generations"], GENERATION_COLUMNS, "Policy generations")
        if report["generations"]
        else None,
        figures=figures,
        seconds={("bootstrap (within the above)" if k == "bootstrap" else k): v for k, v in report["seconds"].items()},
    )


def write_report(report: Mapping[str, Any], out: Path) -> dict[str, str]:
    """HTML and JSON of a loop's report into `out`; returns their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    html, js = out / HTML_NAME, out / JSON_NAME
    html.write_text(render_html(report), encoding="utf-8")
    js.write_text(dumps(report), encoding="utf-8")
    return {"html": str(html), "json": str(js)}
