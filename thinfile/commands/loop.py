"""`thinfile loop`: reject inference and exploration measured against the synthetic truth, over several generations."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from thinfile.commands.common import console, debugging, fail, from_settings, results, say, share_option, show
from thinfile.config import load_settings
from thinfile.features.schema import load_schema
from thinfile.features.settings import BureauEraPolicy, project_root


def _shares(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise fail(
            f"--explore-shares takes shares between 0 and 1 separated by commas, e.g. 0.01,0.05; got {text!r}"
        ) from None
    if any(not 0 < v <= 1 for v in values):
        raise fail(f"--explore-shares must lie in (0, 1]; got {text!r}")
    return values


def loop(
    rows: int = typer.Option(
        None,
        "--rows",
        "-n",
        min=2_000,
        help=f"Through-the-door applicants per generation ({from_settings('loop.rows')}).",
    ),
    seed: int = typer.Option(None, "--seed", "-s", help=f"Seed of the synthetic world ({from_settings('loop.seed')})."),
    methods: str = typer.Option(
        None,
        "--methods",
        help=f"Reject-inference methods to compare, comma-separated ({from_settings('loop.methods')}).",
    ),
    explore_shares: str = typer.Option(
        None,
        "--explore-shares",
        help="Shares of would-be rejects approved at random, comma-separated "
        f"({from_settings('loop.explore_shares')}; '' none).",
    ),
    generations: int = typer.Option(
        None,
        "--generations",
        "-g",
        min=0,
        max=8,
        help=f"Policy generations ({from_settings('loop.generations')}; 0: none).",
    ),
    book_share: float = share_option(
        "--book-share", f"Share of applicants each policy books ({from_settings('history.policy.book_share')})."
    ),
    out: Path = typer.Option(None, "--out", "-o", help="Report folder (default: reports/lending-loop)."),
    log_runs: bool = typer.Option(
        None,
        "--log-runs/--no-log-runs",
        help=f"Log each method's champion as an MLflow run, the comparison ({from_settings('loop.log_runs')}).",
        show_default=False,
    ),
) -> None:
    """Measure reject inference and exploration against the truth the synthetic world keeps about rejects.

    One bureau-era history (~35% booked, thin-file and rural applicants mostly rejected); each method's champion
    between the floor (booked loans only) and the ceiling (every outcome), on all applicants and on rejects; an
    exploration sweep; policy generations. Writes lending-loop.html and .json and logs MLflow runs.
    """
    from thinfile.training.lending_loop.report import write_report
    from thinfile.training.loop import log_summary, run_loop

    base = load_settings()
    given = {
        "rows": rows,
        "seed": seed,
        "methods": tuple(m.strip() for m in methods.split(",") if m.strip()) if methods is not None else None,
        "explore_shares": _shares(explore_shares) if explore_shares is not None else None,
        "generations": generations,
        "log_runs": log_runs,
    }
    try:
        loop_settings = type(base.loop)(
            **{**base.loop.model_dump(), **{k: v for k, v in given.items() if v is not None}}
        )
        history = base.history
        if book_share is not None:
            policy = BureauEraPolicy(**{**history.policy.model_dump(), "book_share": book_share})
            history = history.model_copy(update={"policy": policy})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise fail(f"bad loop parameter: {problems}") from None
    folder = out or project_root() / "reports" / "lending-loop"
    try:  # before minutes of training: a folder the report cannot go to is said at once
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise fail(f"cannot make the report folder {folder} ({err.strerror or err}); give another with -o") from None
    if not os.access(folder, os.W_OK):
        raise fail(f"cannot write the report folder {folder}; give another with -o")
    try:
        with console.status("lending loop") as status:
            result = run_loop(load_schema(), base.generator, history, loop_settings, base, progress=say(status))
    except ValueError as err:
        if debugging():
            raise
        raise fail(str(err)) from None
    if loop_settings.log_runs:
        files = log_summary(result, lambda report: write_report(report, folder))
    else:
        files = write_report(result.to_dict(), folder)
    _print(result)
    results.print(f"[green]report[/] {files['html']}  (JSON: {files['json']})")


def _print(result: object) -> None:
    from thinfile.training.loop import LoopResult

    assert isinstance(result, LoopResult)
    head = result.headline()
    table = Table(title="against the truth on through-the-door test applicants")
    for c in ("method", "AUC all", "AUC rejects", "AUC thin rejects", "thin approved*", "seconds"):
        table.add_column(c, justify="left" if c == "method" else "right")
    for r in result.runs:
        m = r.metrics
        table.add_row(
            r.method,
            f"{m['truth_auc']:.4f}",
            f"{m.get('truth_auc_rejects', float('nan')):.4f}",
            f"{m.get('truth_auc_thin_rejects', float('nan')):.4f}",
            f"{m.get('policy_approval_thin_file_at_hist_bad_rate', float('nan')):.1%}",
            f"{r.seconds_inference + r.seconds_fit:.1f}",
        )
    show(table)
    results.print("* at the history's expected bad rate")
    interval = ""
    if "gap_auc_low" in head:
        interval = f"95% interval {head['gap_auc_low']:.4f} to {head['gap_auc_high']:.4f}; "
    results.print(
        f"gap floor -> ceiling {head['gap_auc']:.4f} ({interval}target {head['gap_target']:g}: "
        f"{'met' if head['gap_target_met'] else 'NOT met'}); {head['closed_target']:.0%} of it closed by a method or "
        f"an exploration share: {'yes' if head['closed_target_met'] else 'NO'}"
    )


def register(app: typer.Typer) -> None:
    app.command("loop")(loop)
