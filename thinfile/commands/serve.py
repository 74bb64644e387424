"""`thinfile serve` (the HTTP scoring service, over `bentoml serve`) and `thinfile audit` (query its decisions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from thinfile.commands.common import console, fail
from thinfile.serving.settings import ServingSettings

SERVICE = "thinfile.serving.service:Thinfile"


def serve(
    port: int = typer.Option(None, "--port", "-p", help="Port to listen on (default 3000, or THINFILE_PORT)."),
    host: str = typer.Option(
        None,
        "--host",
        help="Address to bind (default 127.0.0.1). Anything beyond loopback "
        "needs an API key (THINFILE_API_KEY or THINFILE_API_KEY_FILE).",
    ),
    workers: int = typer.Option(
        None, "--workers", "-w", min=1, help="Worker processes (default 2, or THINFILE_WORKERS)."
    ),
    model: str = typer.Option(
        None, "--model", "-m", help="Registry alias or version to serve (default 'champion', or THINFILE_MODEL)."
    ),
    audit_log: Path = typer.Option(
        None,
        "--audit-log",
        help="Where decisions are appended (default $THINFILE_HOME/audit/decisions.jsonl, or THINFILE_AUDIT_LOG).",
    ),
) -> None:
    """Serve the registered scorer over HTTP: POST /score, POST /score_batch, GET /model, /docs, /metrics.

    A thin wrapper over `bentoml serve`: it checks that the model exists and that access is safe, then hands
    over. Every decision is appended to the audit log; `thinfile audit` queries it.
    """
    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.serving.service import ServiceStartError, check_access
    from thinfile.training.registry import ModelNotFoundError, model_name_for, resolve

    try:
        settings = ServingSettings.from_env(port=port, host=host, workers=workers, model=model, audit_log=audit_log)
    except (ValidationError, ValueError) as err:
        raise fail(f"bad serving settings: {err}") from None
    try:
        check_access(settings, settings.host)
        name = settings.model_name or model_name_for(load_schema(settings.schema_file))
        version = resolve(settings.model, name)
    except (ServiceStartError, ModelNotFoundError, SchemaError) as err:
        raise fail(str(err)) from None
    env = {
        **os.environ,
        "THINFILE_MODEL": str(version.version),
        "THINFILE_MODEL_NAME": version.name,
        "THINFILE_WORKERS": str(settings.workers),
        "THINFILE_AUDIT_LOG": str(settings.audit_path()),
    }
    console.print(
        f"serving [bold]{version.name}[/] version {version.version} on http://{settings.host}:{settings.port} "
        f"with {settings.workers} worker(s); decisions audited to {settings.audit_path()}"
    )
    bentoml = Path(sys.executable).parent / "bentoml"
    cmd = [
        str(bentoml) if bentoml.exists() else "bentoml",
        "serve",
        SERVICE,
        "--host",
        settings.host,
        "--port",
        str(settings.port),
    ]
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


def audit(
    request_id: str = typer.Option(None, "--request-id", help="Only this decision."),
    input_sha256: str = typer.Option(None, "--input-sha256", help="Only decisions on this input (its sha256)."),
    decision: str = typer.Option(None, "--decision", help="approve, refer or decline."),
    model_version: str = typer.Option(None, "--model-version", help="Only decisions of this model version."),
    since: datetime = typer.Option(None, "--since", help="From this time (ISO, UTC if no zone)."),
    until: datetime = typer.Option(None, "--until", help="Before this time (ISO, UTC if no zone)."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Show the most recent N matches (0 = all)."),
    as_json: bool = typer.Option(False, "--json", help="Print matching records as JSON lines."),
    log: Path = typer.Option(None, "--log", help="Audit log to read (default as `thinfile serve` writes it)."),
) -> None:
    """Query the service's audit log: who was decided what, by which model version, and why (reason codes)."""
    from thinfile.serving.audit import AuditQuery, query_audit, summarise

    if decision and decision not in ("approve", "refer", "decline"):
        raise fail(f"--decision must be approve, refer or decline, got {decision!r}")
    path = log or ServingSettings.from_env().audit_path()
    query = AuditQuery(
        request_id=request_id,
        input_sha256=input_sha256,
        decision=decision,
        model_version=model_version,
        since=since,
        until=until,
    )
    try:
        records = query_audit(path, query)
    except FileNotFoundError as err:
        raise fail(str(err)) from None
    shown = records[-limit:] if limit else records
    if as_json:
        for r in shown:
            typer.echo(json.dumps(r))
        return
    table = Table(title=f"{len(shown)} of {len(records)} matching decisions in {path}")
    for column in ("time", "request id", "model", "score", "decision", "reason codes"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for r in shown:
        table.add_row(
            r["time"][:23],
            r["request_id"],
            f"v{r['model_version']}",
            f"{r['score']:.1f}",
            r["decision"],
            ", ".join(x["code"] for x in r["reasons"]),
        )
    console.print(table)
    summary = summarise(records)
    console.print(f"decisions: {summary['by_decision']}; model versions: {summary['by_model_version']}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("audit")(audit)
