"""`thinfile ui`: the MLflow UI on the project's store."""

from __future__ import annotations

import os
import sys

import typer

from thinfile.commands.common import console, fail
from thinfile.commands.serve import port_in_use
from thinfile.training.settings import nothing_trained, tracking_uri


def ui(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; loopback by default."),
    port: int = typer.Option(5000, "--port", "-p", min=1, max=65535, help="Port of the MLflow UI."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="MLflow server worker processes."),
) -> None:
    """Open the MLflow UI on the project's store (runs side by side, registered models and aliases).

    The UI runs in a process group of its own: SIGTERM or Ctrl-C to this command stops it and every worker, and
    they stop too if this command is killed.
    """
    from thinfile.serving.processes import run_server_group
    from thinfile.training.tracking import artifact_root, ui_links

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        raise fail(f"MLFLOW_TRACKING_URI points at a tracking server ({uri}); open it in a browser instead")
    never = nothing_trained()
    if never is not None:
        raise fail(f"no runs to show: {never}")
    if port_in_use(host, port):
        raise fail(f"port {port} on {host} is already in use (another `thinfile ui`?); stop it or choose --port")
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    root = artifact_root(uri)
    if root is not None:
        cmd += ["--default-artifact-root", root.resolve().as_uri()]
    base = f"http://{host}:{port}"
    console.print(f"MLflow UI on {base}  (store {uri}; Ctrl-C stops it)")
    for name, link in ui_links(base).items():
        console.print(f"  {name:8} {link}", soft_wrap=True)
    raise typer.Exit(run_server_group(cmd, os.environ))


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
