"""`thinfile schema infer` (a first schema from a table) and `thinfile schema check` (a table against a schema)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from thinfile.commands.common import console, fail, results, show
from thinfile.config import load_settings
from thinfile.features.io import TableReadError, read_table, read_table_setting_aside
from thinfile.features.schema import SchemaError, load_schema

if TYPE_CHECKING:
    import pandas as pd

    from thinfile.config import Settings
    from thinfile.features.schema import Schema
    from thinfile.features.validate import ValidationReport

schema_app = typer.Typer(
    name="schema",
    help="Describe a lender's own table: infer a first schema to edit, then check tables against it.",
    no_args_is_help=True,
)

TABLE_HELP = "The table: a .parquet/.csv file or a folder of them."
EXIT_MISMATCH = 1


def _columns(values: list[str] | None) -> list[str]:
    """Repeated options and comma-separated lists alike: --protected sex --protected age_band, or sex,age_band."""
    return [c.strip() for v in values or [] for c in v.split(",") if c.strip()]


def _name_of(table: Path) -> str:
    stem = table.stem if table.is_file() else table.name
    return re.sub(r"[^\w.-]+", "-", stem).strip("-") or "my-table"


@schema_app.command("infer")
def infer(
    table: Path = typer.Argument(..., help=TABLE_HELP),
    target: str = typer.Option(
        None, "--target", "-t", help="The outcome column (1 = defaulted, 0 = repaid). Default: guessed from names."
    ),
    id_column: str = typer.Option(None, "--id", help="The applicant id column. Default: guessed (unique per row)."),
    protected: list[str] = typer.Option(
        None,
        "--protected",
        help="A protected attribute kept for the fairness audit, never a model input (repeat, or comma-separate).",
    ),
    borrower: str = typer.Option(
        None,
        "--borrower",
        help="The column naming each loan's borrower, when a borrower can have several loans: never a model input; "
        "training's split keeps each borrower's loans together.",
    ),
    name: str = typer.Option(None, "--name", help="Schema name (names the registered model). Default: the file name."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the YAML here instead of to standard output."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Write a first schema for TABLE to edit: types, ranges, categories, missing values, guessed roles.

    The YAML goes to standard output (`thinfile schema infer loans.csv --target bad > loans.yaml`); what
    needs your decision is marked TODO in it and listed here. Then `thinfile schema check` the table.
    """
    from thinfile.features.infer import InferError, infer_schema

    if out is not None and out.exists() and not force:
        raise fail(f"{out} exists: give another --out, or --force to overwrite it")
    settings = load_settings()
    try:
        with console.status(f"reading {table}"):
            frame = read_table(table)
        inferred = infer_schema(
            frame,
            name=name or _name_of(table),
            target=target,
            id_column=id_column,
            protected=_columns(protected),
            borrower=borrower,
            source=table.name,
            settings=settings.infer,
            min_borrowers=settings.train.min_borrowers,
        )
    except (TableReadError, InferError, SchemaError) as err:
        raise fail(str(err)) from None
    text = inferred.to_yaml()
    s = inferred.schema
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    summary = console if out is None else results  # stdout keeps the YAML alone; with it in a file, this is the result
    summary.print(
        f"[green]schema {s.name!r}[/]: {len(s.features)} model inputs, id {s.id_column!r}, target {s.target!r}, "
        f"protected: {', '.join(s.protected_names) or 'none'}" + (f"; written to {out}" if out is not None else "")
    )
    left = [c.name for c in inferred.columns if c.role == "left_out"]
    if left:
        summary.print(f"left out: {', '.join(left)} (the reasons are at the end of the file)")
    if inferred.todo:
        summary.print(f"[yellow]{len(inferred.todo)} thing(s) to decide[/] (marked TODO in the file):")
        for t in inferred.todo_grouped:
            summary.print(f"  - {t}")
    summary.print(f"reason texts: {len(s.features)} placeholders say TODO; write what a declined applicant reads")


@schema_app.command("check")
def check(
    table: Path = typer.Argument(..., help=TABLE_HELP),
    schema: Path = typer.Option(..., "--schema", help="The schema file (YAML) the table should match."),
    scoring: bool = typer.Option(
        False,
        "--scoring",
        help="A table to score: the target, protected and booked columns are not required, and not read.",
    ),
    rejects: Path = typer.Option(None, "--rejects", help="Also write every rejected row and its reasons (CSV)."),
) -> None:
    """Check TABLE against a schema without training: exit 0 when it matches, 1 when it does not, 2 when the table
    or the schema cannot be read (or the command is mistyped), 141 when its output was closed first (`| head`).

    Checks the columns, every value (type, range, declared categories, missing values), that no id repeats, the
    protected attributes' values against their declared categories, and the target (0/1). With the schema's
    booked column (a lending history), the target is read on booked rows only, as training reads it. Fails on an
    input that is the outcome under another name, and warns of one that alone nearly gives it away (as train
    does); with a borrower column, counts the borrowers and fails with fewer than train.min_borrowers.
    """
    from thinfile.features.infer import check_table, error_summary, wrong_fields_problems
    from thinfile.features.words import counted
    from thinfile.training.data import outcome

    settings = load_settings()
    try:
        spec = load_schema(schema)
        with console.status(f"reading {table}"):
            frame, aside = read_table_setting_aside(table, settings.batch.max_wrong_field_rows)
    except (TableReadError, SchemaError) as err:
        raise fail(str(err)) from None
    with console.status(f"checking {counted(len(frame), 'row')}"):
        result = check_table(
            frame,
            spec,
            for_training=not scoring,
            target_reader=outcome,
            path=table,
            leaks=settings.checks.leaks,
            min_borrowers=settings.train.min_borrowers,
        )
    if aside:
        result = replace(result, problems=[*wrong_fields_problems(aside, for_training=not scoring), *result.problems])
    unread = f" (and {len(aside):,} not read: another number of fields than the header)" if aside else ""
    results.print(
        f"schema {spec.name!r} v{spec.version}: {len(spec.features)} model inputs, target {spec.target!r}, "
        f"protected: {', '.join(spec.protected_names) or 'none'}; table {table.name}: "
        f"{counted(len(frame), 'row')}{unread}, {counted(len(frame.columns), 'column')}"
    )
    if not scoring:  # on a table that fails too: its small groups, with the other fixes
        said = _audit_warnings(frame, spec, result.report, settings, table.name, whole_only=not result.ok)
        result = replace(result, warnings=[*result.warnings, *said])
    summary = error_summary(result.report, written=result.written)
    if len(summary):
        fate = "left out of training; rejected when scoring, but for the outcome"
        grid = Table(title=f"rows that break the schema ({'rejected when scoring' if scoring else fate})")
        for col, justify in (("column", "left"), ("reason", "left"), ("rows", "right"), ("examples", "left")):
            grid.add_column(col, justify=justify)  # type: ignore[arg-type]
        for r in summary.itertuples():
            grid.add_row(str(r.column), str(r.reason), f"{r.rows:,}", str(r.examples))
        show(grid)
    for p in result.problems:
        results.print(f"[red]  - {p}[/]")
    for n in result.notes:
        results.print(f"  · {n}")
    for n in result.not_checked:
        results.print(f"[yellow]  not checked: {n}[/]")
    for w in result.warnings:
        results.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)
    if rejects is not None and not result.report.errors.empty:
        result.report.rejects().to_csv(rejects, index=False)
        results.print(f"rejected rows written to {rejects}")
    colour = "green" if result.ok else "red"
    results.print(f"[bold {colour}]{result.headline(spec)}[/]")
    if not result.ok:
        raise typer.Exit(EXIT_MISMATCH)


def _audit_warnings(
    frame: pd.DataFrame, schema: Schema, report: ValidationReport, settings: Settings, source: str, whole_only: bool
) -> list[str]:
    """What `thinfile train` would refuse this table for (a table too small, too few defaults), and the protected
    groups too small for the fairness audit, in the table and in the held-out part train would test on; with
    `whole_only` (a table that fails its check, whose problems already say what train would refuse), the groups of
    the whole table alone."""
    from thinfile.training.audit_groups import FairnessError, NotTrainable, audit_rows, too_small_to_audit

    if whole_only:
        return too_small_to_audit(frame, frame.iloc[:0], schema, settings.audit.min_group_rows)
    refused = []
    try:
        held_out = audit_rows(frame, schema, settings, all_rows=False, source=source, report=report).frame
    except FairnessError as err:  # no held-out part: the whole table's groups alone
        held_out = frame.iloc[:0]
        refused = [f"train would refuse it: {err.reason}"] if isinstance(err, NotTrainable) else []
    return refused + too_small_to_audit(frame, held_out, schema, settings.audit.min_group_rows)


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app, name="schema")
