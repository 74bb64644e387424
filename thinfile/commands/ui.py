"""`thinfile ui`: the MLflow UI on the project's store."""

from __future__ import annotations

import subprocess
import sys

import typer

from thinfile.commands.common import console, fail
from thinfile.training.registry import tracking_uri


def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; loopback by default."),
    port: int = typer.Option(5000, "--port", "-p", help="Port of the MLflow UI."),
) -> None:
    """Open the MLflow UI on the project's store (runs side by side, registered models and aliases)."""
    from thinfile.training.tracking import artifact_root

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        raise fail(f"MLFLOW_TRACKING_URI points at a tracking server ({uri}); open it in a browser instead")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    root = artifact_root(uri)
    if root is not None:
        cmd += ["--default-artifact-root", root.resolve().as_uri()]
    console.print(f"MLflow UI on http://{host}:{port}  (store {uri}; Ctrl-C stops it)")
    try:
        raise typer.Exit(subprocess.call(cmd))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
