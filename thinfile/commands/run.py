"""`thinfile run`: the main job, end to end on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import typer
from rich.table import Table

from thinfile.commands.common import (
    POLICY_HELP,
    console,
    lending_policy,
    population_rows_option,
    results,
    row_progress,
    say,
    share_option,
    show,
)
from thinfile.commands.generate import report_population
from thinfile.config import load_settings
from thinfile.features.schema import load_schema
from thinfile.features.settings import PARTS_DIR, default_data_dir
from thinfile.training.settings import CHALLENGER_ALIAS, CHAMPION_ALIAS, tracking_uri


def _same_population_on_disk(rows: int, seed: int) -> bool:
    """True when data/synthetic already holds a population of this size and seed (its data card says so)."""
    card = default_data_dir() / "DATACARD.md"
    parts = sorted((default_data_dir() / PARTS_DIR).glob("part-*.parquet"))
    if not card.exists() or not parts:
        return False
    on_disk = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    return on_disk == rows and f"- seed: {seed}  " in card.read_text()


VERDICT_CELL = {"pass": "[green]pass[/]", "fail": "[bold red]FAIL[/]", "incomplete": "[yellow]incomplete[/]"}


def _points(share: float) -> str:
    return "-" if share != share else f"{share * 100:+.1f}"


def run(
    rows: int = population_rows_option("Size of the default synthetic population.", minimum=1000),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed of the population."),
    fairness: bool = typer.Option(
        True, "--fairness/--no-fairness", help="Write fairness reports and train the mitigated challenger."
    ),
    promote: bool = typer.Option(
        True,
        "--promote/--no-promote",
        help="End with the promotion gate: champion = the model that passes every "
        "fairness check at the smallest AUC cost (see `thinfile promote --auto`).",
    ),
    cutoff: float = typer.Option(None, "--cutoff", help=POLICY_HELP["cutoff"]),
    approval_rate: float = share_option("--approval-rate", POLICY_HELP["approval_rate"]),
    bad_rate: float = share_option("--bad-rate", POLICY_HELP["bad_rate"]),
    policy: Path = typer.Option(None, "--policy", help=POLICY_HELP["policy"]),
) -> None:
    """Generate the default population, train and register the champion and baselines, audit fairness.

    Everything lands in the embedded defaults: data/synthetic/ (population + DATACARD.md), mlruns/
    (MLflow store: runs, registered model thinfile-synthetic@champion and @challenger) and reports/
    (fairness reports). An existing population of the same size and seed is reused.

    Exit codes: 0 the job ran, whether or not the promotion gate moved the champion (its line says which, and why;
    `thinfile promote --auto` exits 1 when it moves nothing); 2 it could not run or stopped part-way (the one-line
    message says what to do); 130 interrupted; 143 terminated (SIGTERM).
    """
    from thinfile.features.population import generate_population
    from thinfile.training import promotion
    from thinfile.training.fairness_stage import fairness_stage
    from thinfile.training.pipeline import ready_to_train, train

    schema = load_schema()
    settings = load_settings()
    settings = settings.model_copy(
        update={"policy": lending_policy(cutoff, approval_rate, bad_rate, policy, settings.policy)}
    )
    experiment = ready_to_train(settings)  # a store or cut-off that cannot work is named before the population
    out = default_data_dir()
    if not _same_population_on_disk(rows, seed):
        with row_progress("generating population", rows) as advance:
            generated = generate_population(schema, out, rows, seed, settings.generator, on_chunk=advance)
        report_population(generated)
    else:
        console.print(f"reusing the {rows:,}-row population (seed {seed}) in {out / PARTS_DIR}")

    with console.status("training") as status:
        result = train(out / PARTS_DIR, None, settings, progress=say(status), experiment=experiment)
    models = Table(title="test metrics")
    for col in ("model", "AUC", "oracle gap", "ECE", "AUC thin-file", "run"):
        models.add_column(col)
    for r in result.comparison(("auc", "oracle_gap", "ece", "auc_thin_file")).itertuples():
        models.add_row(
            r.model,
            f"{r.auc:.4f}",
            f"{r.oracle_gap:.4f}",
            f"{r.ece:.4f}",
            f"{r.auc_thin_file:.4f}",
            r.run_id[:8],
        )
    show(models)
    results.print(f"registered {result.model_name} version {result.registered_version} as '{CHAMPION_ALIAS}'")

    if fairness:
        with console.status("fairness audit and mitigated challenger"):
            stage = fairness_stage(result, settings)
        table = Table(title="fairness across residence (rural / urban)")
        for col in ("model", "AUC", "DI", "EO", "calib", "+thin", "+rural", "verdict"):
            table.add_column(col, no_wrap=True)
        summary = stage.summary()
        for r in summary.itertuples(index=False):
            r = r._asdict()
            table.add_row(
                str(r["model"]),
                *("-" if r.get(c) != r.get(c) else f"{r[c]:.3f}" for c in ("auc", "di_ratio", "eo_diff", "calib_gap")),
                *(_points(r.get(c, float("nan"))) for c in ("lift_thin_file", "lift_residence_worst")),
                VERDICT_CELL[str(r["verdict"])],
            )
        show(table)
        failing = [f"{m}: {f}" for m, f in summary[["model", "failing"]].itertuples(index=False) if f]
        if failing:
            results.print(f"FAIL on (every attribute, not only residence): {'; '.join(failing)}")
        limits = settings.fairness
        results.print(
            f"DI: approval-rate ratio rural/urban (>= {limits.disparate_impact_min:g}); EO: equal-opportunity "
            f"difference (<= {limits.equal_opportunity_max:g}); calib: calibration gap (<= "
            f"{limits.calibration_gap_max:g}); +thin / +rural: extra approvals per 100 thin-file / rural "
            "applicants vs the bureau-only scorecard at the same bad rate; verdict: pass = every check on every "
            "attribute within its limits, FAIL = one is outside, incomplete = a group or check could not be "
            "checked (see its report)"
        )
        for name, error in stage.errors.items():
            results.print(f"[yellow]fairness audit of {name} could not run:[/] {error}")
        for name, path in stage.files.items():
            results.print(f"fairness report ({name}): {path}")
        if stage.challenger_version:
            results.print(f"registered {result.model_name} version {stage.challenger_version} as '{CHALLENGER_ALIAS}'")
        audited = {"champion", "challenger"} <= set(stage.reports)
        if promote and audited and result.registered_version and stage.challenger_version:
            gate = settings.promotion
            candidates = [
                promotion.report_candidate(result.registered_version, "champion", stage.reports["champion"], gate),
                promotion.report_candidate(stage.challenger_version, "challenger", stage.reports["challenger"], gate),
            ]
            decision = promotion.choose(candidates, settings.promotion)
            promotion.apply(result.model_name, decision, CHAMPION_ALIAS)
            results.print(f"[bold]promotion:[/] {promotion.outcome(result.model_name, decision)}")

    results.print(
        f"MLflow store: {tracking_uri()} — compare the runs with `thinfile ui`, "
        "serve the champion with `thinfile serve`"
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run)
