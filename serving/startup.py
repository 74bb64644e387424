"""What `thinfile serve` checks before it starts the server (and each worker again): who may reach it, where its
audit log goes, which schema its model was trained on. Kept apart from the service, whose import loads BentoML, so
that a command that must refuse does so at once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import ValidationError

from thinfile.features.schema import BUILTIN_SCHEMA, Schema, SchemaError, load_schema
from thinfile.serving.settings import ServingSettings, is_loopback, misspelt_variables, setting_problems


class ServiceStartError(RuntimeError):
    """The service cannot start; the message says why and what to do."""


def settings_from_env(**overrides: object) -> ServingSettings:
    """The service's settings from its THINFILE_* variables (and the CLI's `overrides`), or why not in one line
    naming each bad variable (never its value)."""
    misspelt = misspelt_variables(os.environ)
    if misspelt:
        raise ServiceStartError(f"bad serving settings: {'; '.join(misspelt)}")
    try:
        return ServingSettings.from_env(**overrides)
    except ValidationError as err:
        raise ServiceStartError(f"bad serving settings: {setting_problems(err)}") from None


def contract_schema(settings: ServingSettings) -> Schema:
    """The schema the request contract is built from: THINFILE_SCHEMA_FILE, else the built-in one.

    `bentoml serve BENTO` (and a container's entry point) changes into the Bento's folder before it imports the
    service, so a relative THINFILE_SCHEMA_FILE that worked in the operator's folder is looked for there."""
    given = settings.schema_file
    try:
        return load_schema(given)
    except SchemaError as err:
        if given is None or given == BUILTIN_SCHEMA:
            raise ServiceStartError(f"the built-in schema cannot be read: {err}") from None
        path = Path(given)
        if not path.is_absolute() and not path.is_file():
            raise ServiceStartError(
                f"THINFILE_SCHEMA_FILE={given}: no such file {path.absolute()}; a relative path is read from the "
                "folder the service runs in, which under `bentoml serve <bento>` and in a container is the Bento's "
                "own folder: set THINFILE_SCHEMA_FILE to an absolute path"
            ) from None
        raise ServiceStartError(f"THINFILE_SCHEMA_FILE: {err}") from None


def bind_host(argv: list[str] | None = None) -> str:
    """The address `bentoml serve` binds: --host, else BENTOML_HOST, else BentoML's default (all interfaces)."""
    argv = sys.argv if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--host" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--host="):
            return arg.split("=", 1)[1]
    return os.environ.get("BENTOML_HOST") or "0.0.0.0"


def check_access(settings: ServingSettings, host: str) -> None:
    """Refuse to serve beyond loopback without an API key, or without a secret key for the audit log's hashes."""
    if is_loopback(host):
        return
    if settings.api_key is None:
        raise ServiceStartError(
            f"refusing to listen on {host} without an API key: set THINFILE_API_KEY (or THINFILE_API_KEY_FILE) "
            "or bind to 127.0.0.1"
        )
    if settings.audit_key is None:
        raise ServiceStartError(
            f"refusing to listen on {host} without an audit key: set THINFILE_AUDIT_KEY (or "
            "THINFILE_AUDIT_KEY_FILE) to a secret of at least 16 characters, e.g. `openssl rand -hex 32`"
        )


def check_audit_log(settings: ServingSettings) -> None:
    """Refuse to start when the audit log cannot be opened for appending (every decision would be a 503)."""
    path = settings.audit_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))
    except OSError as err:
        raise ServiceStartError(
            f"cannot write the audit log {path} ({err.strerror or err}); set THINFILE_AUDIT_LOG (or --audit-log) to "
            "a writable file"
        ) from None


def schema_mismatch(version: str, trained: str, schema: Schema) -> str:
    """Why a model version trained on schema `trained` cannot answer the request contract of `schema`."""
    return (
        f"model version {version} was trained on schema {trained}, but the service's request contract is built "
        f"from {schema.name!r} v{schema.version} ({schema.fingerprint}); serve it with the schema file it was "
        "trained with (thinfile serve --schema FILE, or THINFILE_SCHEMA_FILE)"
    )
