"""The `thinfile` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import pkgutil

import typer

from thinfile import commands
from thinfile.commands.common import PATH, fail, guarded
from thinfile.config import SETTINGS_FILE_VARIABLE, stray_variables

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# no usage reports leave a lender's machine unless its operator sets these to false (docs/operations.md); the
# servers `thinfile serve` starts inherit them
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
# a tracking server that stops answering costs seconds, not MLflow's default of minutes of retries
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


class _DropKnownNoise(logging.Filter):
    """MLflow's notes on logging a Python object as a model, re-checking its input example, creating its store's
    tables and finding no files to download say nothing a thinfile user can act on; everything else still shows."""

    NOISE = (
        "CloudPickle",
        "Validating input example",
        "Creating initial MLflow database tables",
        "Updating database",
        "No artifacts found to download",  # a model whose files are gone: thinfile's own error follows, saying so
        "SQLAlchemy database error",  # a store that failed (full disk, damage): thinfile's own line follows, with what
    )

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not any(noise in text for noise in self.NOISE)


for _logger in ("mlflow.pyfunc", "mlflow.store.db.utils", "mlflow.store.artifact.artifact_repo"):
    logging.getLogger(_logger).addFilter(_DropKnownNoise())

app = typer.Typer(
    name="thinfile",
    help=(
        "Alternative credit scoring for thin-file borrowers: generate a synthetic population, train "
        "Zhima-style 350-950 scorers tracked in MLflow, explain every score with reason codes, audit "
        "fairness across rural and urban borrowers, and serve or batch-score applicants."
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error instead of one line."),
    settings: str = typer.Option(
        None,
        "--settings",
        envvar=SETTINGS_FILE_VARIABLE,
        show_envvar=True,
        metavar=PATH,
        help="A YAML file of settings laid over the defaults (limits, thresholds, chunk sizes; it may hold only the "
        "fields to change; `thinfile settings --defaults` writes them all). Give it before the command. "
        "THINFILE_<SECTION>__<FIELD> variables win over it.",
    ),
) -> None:
    """Alternative credit scoring for thin-file borrowers (see `thinfile COMMAND --help`).

    Exit codes: 0 done; 1 a check failed (e.g. a fairness limit); 2 bad input, usage, or an expected fault
    (the one-line message says what to do); 3 counts did not reconcile; 4 a report is incomplete (a check could
    not run: a group too small, no audit key); 130 interrupted; 141 its output was closed
    (`| head` read what it wanted).
    """
    if settings:
        os.environ[SETTINGS_FILE_VARIABLE] = settings  # every command's settings read it, as if the user exported it
    stray = stray_variables(os.environ)
    if stray:  # before any command: a misspelt THINFILE_APPROVE_CUTOFF would otherwise be ignored without a word
        raise fail(f"bad settings: {'; '.join(stray)}")


def _register_commands(typer_app: typer.Typer) -> None:
    """Every module of thinfile.commands that defines `register(app)` adds its commands (nothing is listed);
    each command runs behind `guarded`, so an expected fault is one line and a non-zero exit."""
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(typer_app)
    _guard(typer_app)
    _whole_summaries(typer_app)


def _guard(typer_app: typer.Typer) -> None:
    """Every command, and every command of every group, behind `guarded`."""
    for command in typer_app.registered_commands:
        if command.callback is not None:
            command.callback = guarded(command.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard(group.typer_instance)


def _whole_summaries(typer_app: typer.Typer) -> None:
    """Plain click help for `typer_app` and its sub-commands, each listed with its whole first paragraph (rich's
    tables cut long option names and paths at 80 columns; click's default summary stops at about 60 characters)."""
    typer_app.rich_markup_mode = None
    for command in typer_app.registered_commands:
        command.short_help = command.short_help or _summary(command.callback.__doc__ if command.callback else None)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            group.short_help = group.short_help or _summary(group.typer_instance.info.help)
            _whole_summaries(group.typer_instance)


def _summary(doc: object) -> str | None:
    """A command's first paragraph on one line: click's help shows it whole in the list of commands (its default
    cuts it at about 60 characters)."""
    if not isinstance(doc, str) or not doc.strip():
        return None
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


_register_commands(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
