"""The `thinfile` command: a thin layer over the library, one module per command group."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil

import typer

from thinfile import commands

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class _DropKnownNoise(logging.Filter):
    """MLflow's notes on logging a Python object as a model and re-checking its input example say
    nothing a thinfile user can act on; everything else from MLflow still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return "CloudPickle" not in text and "Validating input example" not in text


logging.getLogger("mlflow.pyfunc").addFilter(_DropKnownNoise())

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
    rich_markup_mode="markdown",
)


@app.callback()
def _root() -> None:
    """Alternative credit scoring for thin-file borrowers (see `thinfile COMMAND --help`)."""


def _register_commands(typer_app: typer.Typer) -> None:
    """Every module of thinfile.commands that defines `register(app)` adds its commands (nothing is listed)."""
    for info in pkgutil.iter_modules(commands.__path__):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(typer_app)


_register_commands(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
