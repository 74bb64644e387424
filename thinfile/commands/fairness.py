"""`thinfile fairness`: the fairness report of a registered model on a table (HTML + JSON, logged to its run)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from thinfile.commands.common import console, default_population, fail, model_name
from thinfile.config import Settings
from thinfile.training.registry import CHAMPION_ALIAS


def fairness(
    model: str = typer.Option(
        CHAMPION_ALIAS,
        "--model",
        "-m",
        help="Registered model to audit: an alias (champion, challenger) or a version number.",
    ),
    data: Path = typer.Option(
        None,
        "--data",
        "-d",
        help="Table to audit (.parquet/.csv file or folder). Default: the "
        "table `thinfile train` used by default (data/synthetic/population/, else the seeded "
        "synthetic rows it generates).",
    ),
    schema: str = typer.Option(
        None, "--schema", help="Schema file (YAML) describing the table. Default: the model's own schema."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for fairness_vN.html and .json. Default: reports/ under THINFILE_HOME (or the current folder).",
    ),
    all_rows: bool = typer.Option(
        False,
        "--all-rows/--holdout",
        help="Audit every row, or (default) only the held-out test part of the split training makes of this table.",
    ),
    rows: int = typer.Option(200_000, "--rows", "-n", min=1, help="Rows to generate when there is no table."),
    name: str = typer.Option(None, "--name", help="Registered model name. Default: from the schema's name."),
    log: bool = typer.Option(
        True, "--log/--no-log", help="Also log the report and fair_* metrics to the model's MLflow run."
    ),
) -> None:
    """Audit a model's decisions across rural/urban, gender, age band and residence x gender.

    Approval and default rates, TPR/FPR, disparate impact (four-fifths rule), equal opportunity and
    equalised odds, AUC and calibration per group, score distributions, a proxy audit, the inclusion
    lift over the bureau-only scorecard and, on synthetic data, the oracle yardstick; pass/fail
    against the limits in thinfile.config.FairnessLimits is stated at the top.
    """
    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.training.data import TrainingDataError, load_training_table
    from thinfile.training.fairness import FairnessError
    from thinfile.training.fairness_stage import audit_scorer, holdout
    from thinfile.training.registry import ModelNotFoundError, load_scorer
    from thinfile.training.split import SplitError

    settings = Settings()
    ref: str | int = int(model) if model.isdigit() else model
    try:
        spec = load_schema(schema)
        with console.status(f"loading model {model!r}"):
            scorer = load_scorer(ref, model_name(name, spec))
        if schema is None:
            spec = scorer.schema
        if spec.fingerprint != scorer.schema.fingerprint:
            missing = [f for f in scorer.schema.feature_names if f not in spec.feature_names]
            if missing:
                raise FairnessError(f"schema {spec.name!r} lacks the model's input(s) {', '.join(missing[:8])}")
        if data is None:
            data = default_population(rows, settings.train.seed, settings.generator)
        with console.status("reading the table"):
            frame, source = load_training_table(data), str(data)
        if not all_rows:
            frame = holdout(frame, spec, settings)
            source += " (held-out test part)"
        with console.status(f"auditing {len(frame):,} rows"):
            report, (html, js) = audit_scorer(scorer, frame, out, settings, log=log, source=source)
    except (ModelNotFoundError, SchemaError, FairnessError, TrainingDataError, SplitError) as err:
        raise fail(str(err)) from None
    colour = "green" if report.passed else "red"
    console.print(f"[bold {colour}]{report.headline}[/]")
    for c in report.failures:
        console.print(f"  - {c.sentence}")
    table = Table(title=f"{len(frame):,} rows")
    for col in ("attribute", "DI ratio", "EO diff", "EOdds diff", "calib gap", "oracle DI"):
        table.add_column(col, justify="left" if col == "attribute" else "right")
    for a in report.attributes:
        oracle = f"{a.oracle_di_ratio:.3f}" if a.oracle_di_ratio is not None else "-"
        table.add_row(
            a.name, f"{a.di_ratio:.3f}", f"{a.eo_diff:.3f}", f"{a.eod_diff:.3f}", f"{a.calibration_gap:.3f}", oracle
        )
    console.print(table)
    if report.inclusion is not None:
        seg = report.inclusion.segments.set_index("segment")
        if "thin-file" in seg.index:
            r = seg.loc["thin-file"]
            console.print(
                f"inclusion: at a {report.inclusion.target_bad_rate:.1%} bad rate among approved, this model "
                f"approves {r.model_approval_rate:.1%} of thin-file applicants, the bureau-only scorecard "
                f"{r.baseline_approval_rate:.1%}"
            )
    console.print(f"report: {html}\njson:   {js}")
    if log:
        console.print(f"logged to run {report.model.get('run_id', '?')} under fairness/ (open it with `thinfile ui`)")


def register(app: typer.Typer) -> None:
    app.command("fairness")(fairness)
