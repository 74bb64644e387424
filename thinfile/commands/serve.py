"""`thinfile serve` (the HTTP scoring service, over `bentoml serve`) and `thinfile audit` (its decisions)."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import sys
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from thinfile.commands.common import EXIT_INCOMPLETE, console, fail, guarded, results, show, warn_of_schema
from thinfile.features.settings import project_root
from thinfile.serving.settings import ServingSettings
from thinfile.training.settings import model_name_for, nothing_trained

SERVICE = "thinfile.serving.service:Thinfile"


BUILT_IN = ServingSettings.model_construct()
"""The service's built-in settings, which flag help quotes (THINFILE_* variables may change them)."""


def serving_settings(**overrides: object) -> ServingSettings:
    """The service's settings, or one line naming each bad THINFILE_* variable (never its value)."""
    from thinfile.serving.startup import ServiceStartError, settings_from_env

    try:
        return settings_from_env(**overrides)
    except ServiceStartError as err:
        raise fail(str(err)) from None


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (so the server would die on 'Address already in use');
    connections of a server that just stopped (TIME_WAIT) do not count, as servers bind with SO_REUSEADDR."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as err:
            return err.errno == errno.EADDRINUSE
    return False


def serve(
    port: int = typer.Option(
        None, "--port", "-p", min=1, max=65535, help=f"Port to listen on (default {BUILT_IN.port}, or THINFILE_PORT)."
    ),
    host: str = typer.Option(
        None,
        "--host",
        help=f"Address to bind (default {BUILT_IN.host}). Anything beyond loopback needs an API key "
        "(THINFILE_API_KEY or THINFILE_API_KEY_FILE) and an audit key (THINFILE_AUDIT_KEY or THINFILE_AUDIT_KEY_FILE).",
    ),
    workers: int = typer.Option(
        None, "--workers", "-w", min=1, help=f"Worker processes (default {BUILT_IN.workers}, or THINFILE_WORKERS)."
    ),
    model: str = typer.Option(
        None,
        "--model",
        "-m",
        help=f"Registry alias or version to serve (default '{BUILT_IN.model}', or THINFILE_MODEL).",
    ),
    audit_log: Path = typer.Option(
        None,
        "--audit-log",
        help="Where decisions are appended (default $THINFILE_HOME/audit/decisions.jsonl, or THINFILE_AUDIT_LOG).",
    ),
    schema: Path = typer.Option(
        None,
        "--schema",
        help="The schema file the model was trained with: the request contract, and its name names the model "
        "(default: built-in, or THINFILE_SCHEMA_FILE).",
    ),
    name: str = typer.Option(
        None, "--name", help="Registered model name (default: from the schema's name, or THINFILE_MODEL_NAME)."
    ),
) -> None:
    """Serve the registered scorer over HTTP: POST /score, POST /score_batch, GET /model, /docs, /metrics.

    Checks that the model exists and that access is safe, then becomes a small supervisor (same process id) that
    runs `bentoml serve` in a process group of its own: SIGTERM or Ctrl-C stops the server and its workers, says so
    in one line and exits 143 or 130 (as a shell reports a process that signal stopped); they stop too if whatever
    started this command dies.
    Every decision is appended to the audit log before it is answered; `thinfile audit` reads it.
    """
    settings = serving_settings(
        port=port,
        host=host,
        workers=workers,
        model=model,
        audit_log=audit_log,
        schema_file=str(schema.resolve()) if schema else None,
        model_name=name,
    )
    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.serving.startup import ServiceStartError, check_access, check_audit_log, schema_mismatch

    try:
        check_access(settings, settings.host)
        contract = load_schema(settings.schema_file)
    except (ServiceStartError, SchemaError) as err:
        raise fail(str(err)) from None
    name = settings.model_name or model_name_for(contract)
    never = nothing_trained()  # said before MLflow is loaded, which takes seconds
    if never is not None:
        raise fail(f"no model {name!r} answers to {settings.model!r}: {never}")
    from thinfile.serving.processes import exec_server
    from thinfile.training.registry import ModelNotFoundError, resolve, trained_schema

    try:
        version = resolve(settings.model, name)
        check_audit_log(settings)
    except (ServiceStartError, ModelNotFoundError) as err:
        raise fail(str(err)) from None
    trained = trained_schema(version)
    if trained is not None and trained[1] != contract.fingerprint:
        raise fail(schema_mismatch(str(version.version), f"{trained[0]!r} ({trained[1]})", contract))
    if settings.schema_file:
        warn_of_schema(contract)
    if port_in_use(settings.host, settings.port):
        raise fail(
            f"port {settings.port} on {settings.host} is already in use (another `thinfile serve`?); stop it or "
            "choose another --port"
        )
    env = {
        **os.environ,
        "THINFILE_MODEL": str(version.version),
        "THINFILE_MODEL_NAME": version.name,
        "THINFILE_WORKERS": str(settings.workers),
        "THINFILE_HOST": settings.host,
        "THINFILE_PORT": str(settings.port),
        "THINFILE_AUDIT_LOG": str(settings.audit_path()),
        **({"THINFILE_SCHEMA_FILE": settings.schema_file} if settings.schema_file else {}),
        "BENTOML_HOME": str(server_home(settings.host, settings.port)),
    }
    console.print(
        f"starting [bold]{version.name}[/] version {version.version} on http://{settings.host}:{settings.port} "
        f"with {settings.workers} worker(s), ready when /readyz answers 200; decisions audited to "
        f"{settings.audit_path()}"
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
    exec_server(cmd, env, settings.stop_grace_s)


def server_home(host: str, port: int) -> Path:
    """BentoML's home for the server on host:port, under THINFILE_HOME: BentoML empties its metrics folder there at
    every start, so two servers sharing one home would wipe each other's /metrics counts. `thinfile serve` runs the
    service from the installed package, never from BentoML's store of Bentos."""
    return project_root() / "servers" / f"{re.sub(r'[^0-9A-Za-z.-]', '_', host)}-{port}" / "bentoml"


audit_app = typer.Typer(
    name="audit",
    help="The service's audit log: query decisions (`thinfile audit`), or check the log (`thinfile audit verify`).",
    no_args_is_help=False,
    invoke_without_command=True,
)


def _log_path(log: Path | None) -> Path:
    return log or serving_settings().audit_path()


@audit_app.callback()
def audit(
    ctx: typer.Context,
    request_id: str = typer.Option(None, "--request-id", help="Only this decision."),
    input_file: Path = typer.Option(
        None,
        "--input",
        help="Only decisions on the applicant in this JSON file (a /score body), matched by its HMAC under "
        "THINFILE_AUDIT_KEY: the key the service ran with. Read by --schema.",
    ),
    schema: Path = typer.Option(
        None,
        "--schema",
        help="The schema file the service ran with: the request contract --input is read and hashed by "
        "(default: built-in, or THINFILE_SCHEMA_FILE).",
    ),
    input_hmac: str = typer.Option(None, "--input-hmac", help="Only decisions on the input with this HMAC."),
    decision: str = typer.Option(None, "--decision", help="approve, refer or decline."),
    model_version: str = typer.Option(
        None, "--model-version", help="Only decisions of this model version (as the table shows it: 3 or v3)."
    ),
    since: datetime = typer.Option(None, "--since", help="From this time (ISO, UTC if no zone)."),
    until: datetime = typer.Option(None, "--until", help="Before this time (ISO, UTC if no zone)."),
    limit: int = typer.Option(20, "--limit", "-n", min=0, help="Show the most recent N matches (0 = all)."),
    as_json: bool = typer.Option(False, "--json", help="Print matching records as JSON lines."),
    log: Path = typer.Option(None, "--log", help="Audit log to read (default as `thinfile serve` writes it)."),
) -> None:
    """Query the service's audit log: who was decided what, by which model version, and why (reason codes)."""
    if ctx.invoked_subcommand is not None:
        return
    guarded(_query)(
        request_id, input_file, schema, input_hmac, decision, model_version, since, until, limit, as_json, log
    )


def _query(
    request_id: str | None,
    input_file: Path | None,
    schema_file: Path | None,
    input_hmac: str | None,
    decision: str | None,
    model_version: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
    log: Path | None,
) -> None:
    from thinfile.serving.audit import AuditQuery, scan_audit

    if decision and decision not in ("approve", "refer", "decline"):
        raise fail(f"--decision must be approve, refer or decline, got {decision!r}")
    if input_file is not None:
        input_hmac = _hmac_of(input_file, schema_file)
    path = _log_path(log)
    query = AuditQuery(
        request_id=request_id,
        input_hmac=input_hmac,
        decision=decision,
        model_version=_version_number(model_version),
        since=since,
        until=until,
    )
    try:
        scan = scan_audit(path, query, limit)
    except FileNotFoundError as err:
        raise fail(str(err)) from None
    shown = scan.shown
    if as_json:
        for r in shown:
            typer.echo(json.dumps(r))
        return
    summary = scan.tally.summary()
    if not summary["decisions"]:
        whole = "; --request-id matches a whole id, as /score returned it" if request_id else ""
        results.print(f"no decision in {path} matches{whole}", soft_wrap=True, highlight=False)
        return
    table = Table(title=f"{len(shown)} of {scan.tally.decisions} matching decisions in {path}")
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
    show(table)
    decisions = ", ".join(f"{d} {n:,}" for d, n in summary["by_decision"].items())
    versions = ", ".join(f"v{v} {n:,}" for v, n in summary["by_model_version"].items())
    results.print(f"all {summary['decisions']:,} matching: {decisions}; by model version: {versions}")


def _version_number(version: str | None) -> str | None:
    """A model version as the log holds it: the table's `v3` is version 3."""
    if version is not None and version[:1] in ("v", "V") and version[1:].isdigit():
        return version[1:]
    return version


def _hmac_of(input_file: Path, schema_file: Path | None) -> str:
    """The audit HMAC of the applicant in a JSON file, under the configured audit key and request contract."""
    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.serving.contract import BadRequest, RequestReader, input_hmac

    settings = serving_settings(schema_file=str(schema_file.resolve()) if schema_file else None)
    if settings.audit_key is None:
        raise fail("--input needs the audit key the service ran with: set THINFILE_AUDIT_KEY (or _FILE)")
    if not input_file.is_file():
        raise fail(f"--input {input_file} is not a file")
    try:
        schema = load_schema(settings.schema_file)
    except SchemaError as err:
        raise fail(str(err)) from None
    try:
        applicant = RequestReader(schema, 1).applicant(input_file.read_bytes())
    except BadRequest as err:
        source = settings.schema_file or "the built-in schema"
        raise fail(
            f"{input_file} does not fit schema {schema.name!r} v{schema.version} ({source}): {err.summary}; if the "
            "service ran with another schema, give its file: --schema FILE (or THINFILE_SCHEMA_FILE)"
        ) from None
    return input_hmac(settings.audit_key.get_secret_value().encode(), schema, applicant)


VERIFY_EXIT_CODES = {"pass": 0, "fail": 1, "incomplete": EXIT_INCOMPLETE}
VERDICT_WORD = {"pass": "[green]PASS[/]", "fail": "[bold red]FAIL[/]", "incomplete": "[bold yellow]INCOMPLETE[/]"}
NO_KEY = (
    "integrity NOT checked: no audit key, so no record's MAC could be checked (edits go unseen); set "
    "THINFILE_AUDIT_KEY or THINFILE_AUDIT_KEY_FILE to the key the service ran with"
)


@audit_app.command("verify")
def verify(
    log: Path = typer.Option(None, "--log", help="Audit log to check (default as `thinfile serve` writes it)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the audit log and its rotated files: torn lines, repeated request ids, and each writer's chain of
    records: sequence gaps (deleted records), order and, with the audit key, every record's MAC (edits).

    The key is read as the service reads it: THINFILE_AUDIT_KEY or THINFILE_AUDIT_KEY_FILE. Deleting a chain's
    last records cannot be seen in the log itself. Records written under another key (their key id is not the
    given key's, as after a run with a key of its own) cannot have their MACs checked and are counted by key id.
    Exit codes: 0 pass (every check ran, nothing found); 1 fail (a problem found: a torn line, a repeated id, a
    sequence gap or disorder, or a MAC that does not match the key the records name); 4 incomplete (nothing found,
    but some integrity could not be checked: no key, records under another key, or records older than chaining);
    2 the log could not be read; 141 the report's reader stopped reading (`| head`), which says nothing of the log.
    """
    from dataclasses import asdict

    from thinfile.serving.audit import PROBLEMS
    from thinfile.serving.audit import verify as verify_log

    path = _log_path(log)
    if path.is_dir():
        raise fail(f"{path} is a folder; give the audit log file (default: $THINFILE_HOME/audit/decisions.jsonl)")
    secret = serving_settings().audit_key
    key = secret.get_secret_value().encode() if secret is not None else None
    report = guarded(verify_log)(path, key)
    if not report.files:
        raise fail(f"no audit log at {path} (nor rotated files beside it)")
    if as_json:
        typer.echo(json.dumps({**asdict(report), "verdict": report.verdict, "ok": report.ok}))
        raise typer.Exit(VERIFY_EXIT_CODES[report.verdict])
    if not report.records:
        results.print(
            "[bold yellow]the log holds no records: nothing could be checked (an emptied log reads the same)[/]"
        )
    if key is None:
        results.print(f"[bold yellow]{NO_KEY}[/]")
    elif report.wrong_key:
        results.print(
            f"[bold yellow]the key given is not the one these records were written with (key id {report.key_id}; "
            f"the records name key id(s) {', '.join(report.other_keys)}): no MAC could be checked; set "
            "THINFILE_AUDIT_KEY or THINFILE_AUDIT_KEY_FILE to the key the service ran with[/]"
        )
    elif report.macs_checked and not report.macs_matched:
        results.print(
            f"[bold red]the MACs do not match the key given (key id {report.key_id}; records name key id(s) "
            f"{', '.join(report.key_ids)}): likely the wrong key, or the records were rewritten[/]"
        )
    span = f" from {report.first} to {report.last}" if report.records else ""
    results.print(
        f"{VERDICT_WORD[report.verdict]} {report.records:,} records in {len(report.files)} file(s){span}; "
        f"{len(report.torn)} torn line(s); {report.duplicates} repeated request id(s); {len(report.chains)} "
        f"chain(s), {report.sealed:,} chained record(s)"
    )
    if key is not None:
        matched = (
            f"{report.macs_matched:,} of {report.macs_checked:,} checked match"
            if report.macs_checked
            else "none checked"
        )
        unchecked = (
            f"; {report.macs_after_gaps:,} not checked: each follows records missing from its chain (below), whose "
            "MAC it chains from"
            if report.macs_after_gaps
            else ""
        )
        results.print(f"  MACs: {matched} (key id {report.key_id}){unchecked}")
    for other, n in report.other_keys.items():
        results.print(f"  {n:,} record(s) under key id {other}, not the key given: their MACs not checked")
    for file, line in report.torn[:10]:
        results.print(f"  torn: {file} line {line}")
    if len(report.torn) > 10:
        results.print(f"  ... and {len(report.torn) - 10} more torn line(s)")
    for rid in report.duplicate_ids:
        results.print(f"  repeated request id: {rid}")
    for kind, found in report.problems.items():
        if not found.count:
            continue
        results.print(f"  {found.count:,} {PROBLEMS[kind]}:")
        for example in found.examples:
            results.print(f"    {example}", soft_wrap=True, highlight=False)
        if found.entries > len(found.examples):
            results.print(f"    ... and {found.entries - len(found.examples):,} more")
    for name, chain in list(report.chains.items())[:10]:
        results.print(
            f"  chain {name}: {chain['records']:,} record(s), seq {chain['first_seq']}..{chain['last_seq']}, "
            f"last at {chain['last']}",
            soft_wrap=True,
            highlight=False,
        )
    if len(report.chains) > 10:
        results.print(f"  ... and {len(report.chains) - 10} more chain(s)")
    if report.quarantined_bytes:
        results.print(f"  {report.quarantined_bytes:,} bytes of torn records were moved aside to {path}.torn")
    if report.key_ids:
        results.print(f"  key ids: {', '.join(f'{k} ({n:,} records)' for k, n in report.key_ids.items())}")
    raise typer.Exit(VERIFY_EXIT_CODES[report.verdict])


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(audit_app)
