"""`thinfile fairness`: the fairness report of a registered model on a table (HTML + JSON, logged to its run)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from thinfile.commands.common import (
    EXIT_INCOMPLETE,
    console,
    default_population,
    fail,
    from_settings,
    generated_rows_option,
    model_name,
    results,
    schema_option,
    show,
    table_rows,
)
from thinfile.config import load_settings
from thinfile.features.settings import ValidationSettings
from thinfile.training.settings import CHAMPION_ALIAS

if TYPE_CHECKING:
    from thinfile.training.fairness.audit import AttributeAudit, FairnessReport
    from thinfile.training.fairness_stage import TrainingRowsFound

EXIT_CODES = {"pass": 0, "fail": 1, "incomplete": EXIT_INCOMPLETE}
VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "incomplete": "bold yellow"}


def _figure(value: float | None, limit: float | None = None) -> str:
    """Three decimals, or as many more as it takes not to print the limit for a value on the other side of it."""
    if value is None:
        return "-"
    if limit is None:
        return f"{value:.3f}"
    from thinfile.training.fairness.audit import versus_limit

    return versus_limit(value, limit)


def check_lines(report: FairnessReport) -> list[str]:
    """The console's list of checks that failed, could not run, or passed within sampling noise: each said once, and
    under the last heading without repeating what the heading says."""
    lines = []
    for heading, checks, say in (
        ("outside the limits:", report.failures, lambda c: c.line),
        ("could not run:", report.not_run, lambda c: c.line),
        (
            "passed, but within sampling noise (each interval reaches beyond its limit: more rows are needed to be "
            "sure):",
            report.passes_within_noise,
            lambda c: c.sentence,
        ),
    ):
        if checks:
            lines.append(heading)
            lines.extend(f"  - {say(c)}" for c in checks)
    return lines


def training_rows_line(found: TrainingRowsFound | None, in_sample: bool, limit: float) -> str | None:
    """What an --all-rows audit found of the model's own training rows, said before its verdict; None when it found
    none."""
    if found is None:
        return (
            "the training-row check could not run: the model's run recorded no training rows (trained before thinfile "
            "recorded them), so only the whole table was compared with the one it read; retrain to record them"
        )
    allowed = f"the {100 * limit:g}% (audit.max_trained_share) an audit logged to the model's run may hold"
    if in_sample and found.share > limit:
        return f"{found.sentence}, more than {allowed}"
    if in_sample:
        return f"these are the rows the model's run read; {found.sentence}"
    return f"{found.sentence}, within {allowed}" if found.found else None


def groups_checked(a: AttributeAudit) -> str:
    """'4 of 6': the groups in every check of the attribute, of all its groups (a group left out of one is not)."""
    everywhere = [g for g in a.checked_groups if g not in a.partly_checked]
    return f"{len(everywhere)} of {len({*a.checked_groups, *(u.group for u in a.unchecked)})}"


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
    schema: str = schema_option("Schema file (YAML) describing the table. Default: the model's own schema."),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for fairness_NAME_vN.html and .json (NAME and N: the model's registered name and version). "
        "Default: reports/ under THINFILE_HOME (or here).",
    ),
    all_rows: bool = typer.Option(
        False,
        "--all-rows/--holdout",
        help="Audit every row, or (default) only the held-out test part of the split training makes of this table. "
        "Either way rows that break the schema (a value out of range, an undeclared code, an outcome that is not "
        "0/1) and rows with no outcome yet are left out, as training leaves them out, and counted.",
    ),
    min_group_rows: int = typer.Option(
        None,
        "--min-group-rows",
        min=1,
        help=f"Fewest rows a group needs to be checked ({from_settings('audit.min_group_rows')}). Smaller "
        "groups are listed at the top with their size and confidence intervals, and the verdict is 'incomplete'.",
    ),
    rows: int | None = generated_rows_option(),
    name: str = typer.Option(None, "--name", help="Registered model name. Default: from the schema's name."),
    log: bool = typer.Option(
        True, "--log/--no-log", help="Also log the report and fair_* metrics to the model's MLflow run."
    ),
) -> None:
    """Audit a model's decisions across every protected attribute of the schema and the first two crossed.

    Approval and default rates with Wilson confidence intervals, TPR/FPR, disparate impact (four-fifths
    rule), equal opportunity and equalised odds, AUC and calibration per group, score distributions, a
    proxy audit, the inclusion lift over the bureau-only scorecard and, on synthetic data, the oracle
    yardstick. The verdict against the settings' fairness limits (THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN, ...;
    `thinfile settings`) is stated at the top: PASS only when every check ran on every declared group; groups
    too small to check make it INCOMPLETE.

    Exit codes: 0 pass, 1 fail (a check is outside its limit), 4 incomplete (a group or check could not be
    checked), 2 a usage error or a fault (bad model, table or schema); 141 when its output was closed first
    (`| head`).
    """
    import pandas as pd

    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.features.table_hash import data_hash_as_before
    from thinfile.training.audit_groups import audit_rows
    from thinfile.training.data import TrainingDataError, load_training_table, outcome_unknown, set_aside_words
    from thinfile.training.fairness import FairnessError
    from thinfile.training.fairness_stage import audit_scorer, trained_on_data, training_rows_in
    from thinfile.training.registry import ModelNotFoundError, load_scorer, training_data_hash
    from thinfile.training.split import splits_otherwise

    settings = load_settings()
    if min_group_rows is not None:
        settings = settings.model_copy(
            update={"audit": settings.audit.model_copy(update={"min_group_rows": min_group_rows})}
        )
    ref: str | int = int(model) if model.isdigit() else model
    population = table_rows(rows, data)
    try:
        spec = load_schema(schema)
        with console.status(f"loading model {model!r}"):
            scorer = load_scorer(ref, model_name(name, spec))
        if schema is None:
            spec = scorer.schema
        scorer = scorer.with_protected(spec)
        if spec.fingerprint != scorer.schema.fingerprint:
            missing = [f for f in scorer.schema.feature_names if f not in spec.feature_names]
            if missing:
                raise FairnessError(f"schema {spec.name!r} lacks the model's input(s) {', '.join(missing[:8])}")
            if not all_rows and (split := splits_otherwise(spec, scorer.schema)):
                raise FairnessError(
                    f"schema {spec.name!r} splits the table otherwise than the model's own schema ({split}): its "
                    "held-out part would not be the rows `thinfile train` tested on; give the schema the model was "
                    "trained with, or audit every row with --all-rows"
                )
        if data is None:
            data = default_population(population, settings.train.seed, settings.generator)
        with console.status("reading the table"):
            table = load_training_table(data)
            rows_in = audit_rows(table, spec, settings, all_rows=all_rows, source=f"table {data}")
        frame = rows_in.frame
        found: TrainingRowsFound | None = None
        trained_on: dict[str, object] = {}
        if all_rows:
            trained = training_data_hash(str(scorer.meta.get("run_id") or ""))
            same_table = trained is not None and trained in (rows_in.data_hash, data_hash_as_before(table))
            with console.status(f"looking for the model's training rows among {len(frame):,}"):
                found = training_rows_in(frame, scorer, spec.target)
            trained_on = trained_on_data(same_table, found, settings.audit.max_trained_share)
        in_sample = bool(trained_on.get("trained_on"))
        with console.status(f"auditing {len(frame):,} rows"):
            report, (html, js) = audit_scorer(
                scorer, frame, out, settings, log=log and not in_sample, source=rows_in.source, trained_on=trained_on
            )
    except (ModelNotFoundError, SchemaError, FairnessError, TrainingDataError) as err:
        raise fail(str(err)) from None
    if all_rows and (line := training_rows_line(found, in_sample, settings.audit.max_trained_share)):
        results.print(line)
    style = VERDICT_STYLE[report.verdict]
    results.print(f"[{style}]{report.headline}[/]")
    set_aside = rows_in.set_aside
    if len(set_aside):
        left_out = set_aside_words(set_aside, spec.target)
        listed = js.with_name(f"{js.stem}_set_aside.csv")
        set_aside.to_csv(listed, index=False)
        results.print(f"{left_out}, not audited (as training leaves them out):")
        pending = outcome_unknown(set_aside, spec.target)  # the rows that break the schema first
        shown = pd.concat([set_aside[~pending], set_aside[pending]]).head(ValidationSettings().examples_shown)
        for r in shown.itertuples():
            results.print(f"  - row {r.row} (id {r.id}): {r.reason}")
        more = len(set_aside) - ValidationSettings().examples_shown
        results.print(f"  {f'... and {more:,} more; ' if more > 0 else ''}every one with its reasons: {listed}")
    if report.unchecked:
        results.print(
            f"not checked (groups need {settings.audit.min_group_rows:,} rows and a declared value; each says why):"
        )
        for u in report.unchecked:
            results.print(f"  - {u.sentence}")
    for line in report.coverage:
        results.print(f"  {line}")
    for line in check_lines(report):
        results.print(line)
    for attr, why in report.proxy_skipped.items():
        results.print(f"  {why or f'proxy audit of {attr} could not run'}")
    table = Table(title=f"{len(frame):,} rows")
    for col in ("attribute", "groups checked", "DI ratio", "EO diff", "EOdds diff", "calib gap", "oracle DI"):
        table.add_column(col, justify="left" if col == "attribute" else "right")
    for a in report.attributes:
        table.add_row(
            a.name,
            groups_checked(a),
            _figure(a.di_ratio, settings.fairness.disparate_impact_min),
            _figure(a.eo_diff, settings.fairness.equal_opportunity_max),
            _figure(a.eod_diff),
            _figure(a.calibration_gap, settings.fairness.calibration_gap_max),
            _figure(a.oracle_di_ratio),
        )
    show(table)
    for a in report.attributes:
        for words in a.left_out_sentences:
            results.print(f"  {a.name}: {words}.")
    inc = report.inclusion
    if inc is not None:
        seg = inc.segments.set_index("segment")
        if not inc.baseline_reaches:
            results.print(f"inclusion: {inc.baseline_note}")
        elif "thin-file" in seg.index:
            r = seg.loc["thin-file"]
            results.print(
                f"inclusion: at a {inc.target_bad_rate:.1%} bad rate among approved, this model "
                f"approves {r.model_approval_rate:.1%} of thin-file applicants, the {inc.baseline} "
                f"{r.baseline_approval_rate:.1%}"
            )
    results.print(f"report: {html}\njson:   {js}")
    if log and in_sample:
        results.print("not logged to the model's run: an audit of its own training rows is no evidence for promotion")
    elif log:
        results.print(f"logged to run {report.model.get('run_id', '?')} under fairness/ (open it with `thinfile ui`)")
    raise typer.Exit(EXIT_CODES[report.verdict])


def register(app: typer.Typer) -> None:
    app.command("fairness")(fairness)
