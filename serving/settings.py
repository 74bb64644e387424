"""Settings of the HTTP scoring service, read from THINFILE_* environment variables (pydantic-settings)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from thinfile.features.settings import project_root
from thinfile.training.scorer.explain import DEFAULT_TOP_REASONS, TopReasons
from thinfile.training.settings import CHAMPION_ALIAS

MIN_AUDIT_KEY_CHARS = 16
SERVICE_PREFIX = "THINFILE_"


def _read_key(path: Path, variable: str) -> str | None:
    if not path.is_file():
        raise ValueError(f"{variable} names {path}, which is not a readable file")
    return path.read_text().strip() or None


def misspelt_variables(environ: Mapping[str, str], cutoff: float = 0.8) -> list[str]:
    """THINFILE_* variables that are not the service's own but read like one of them misspelt (THINFILE_APROVE_
    CUTOFF), each with the one meant: the service would otherwise run on that setting's default without a word.
    Other thinfile variables (a training section's, THINFILE_HOME) are not this close to any of them."""
    own = [name.removeprefix(SERVICE_PREFIX) for name in service_variables()]
    out = []
    for key in sorted(environ):
        upper = key.upper()
        name = upper.removeprefix(SERVICE_PREFIX)
        if name == upper or "__" in name or name in own:
            continue
        close = difflib.get_close_matches(name, own, n=1, cutoff=cutoff)  # without the prefix all 9 letters agree
        if close:
            out.append(f"{key}: not a setting; did you mean {SERVICE_PREFIX}{close[0]}?")
    return out


def service_variables() -> list[str]:
    """The names of the service's own environment variables (THINFILE_APPROVE_CUTOFF, ...), sorted."""
    return sorted(SERVICE_PREFIX + name.upper() for name in ServingSettings.model_fields)


def is_loopback(host: str | None) -> bool:
    """True for an address only this machine can reach."""
    return bool(host) and (host in ("::1", "localhost") or str(host).startswith("127."))


def setting_problems(err: ValidationError) -> str:
    """What is wrong with the THINFILE_* variables, each named, never with its value (a key may be one)."""
    return "; ".join(
        f"THINFILE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" if e["loc"] else e["msg"]
        for e in err.errors(include_url=False, include_input=False, include_context=False)
    )


class ServingSettings(BaseSettings):
    """The HTTP scoring service; every field can be set by its THINFILE_* environment variable."""

    model_config = SettingsConfigDict(env_prefix=SERVICE_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True)

    host: str = Field("127.0.0.1", description="bind address (THINFILE_HOST); beyond loopback an API key is required")
    port: int = Field(3000, ge=1, le=65535, description="the port the service listens on (THINFILE_PORT)")
    workers: int = Field(2, ge=1, le=64, description="worker processes (THINFILE_WORKERS)")
    model: str = Field(CHAMPION_ALIAS, description="registry alias or version to serve (THINFILE_MODEL)")
    model_name: str | None = Field(
        None, description="registered model name (THINFILE_MODEL_NAME); default: from the schema's name"
    )
    schema_file: str | None = Field(
        None, description="schema YAML of the request contract (THINFILE_SCHEMA_FILE); default the built-in one"
    )
    api_key: str | None = Field(
        None, repr=False, description="the key a client sends (THINFILE_API_KEY), or read from THINFILE_API_KEY_FILE"
    )
    api_key_file: Path | None = Field(None, description="file holding the API key (THINFILE_API_KEY_FILE)")
    audit_log: Path | None = Field(
        None,
        description="the service's decision log (THINFILE_AUDIT_LOG); default $THINFILE_HOME/audit/decisions.jsonl",
    )
    audit_key: SecretStr | None = Field(
        None, description="secret key of the audit log's input HMAC (THINFILE_AUDIT_KEY), or THINFILE_AUDIT_KEY_FILE"
    )
    audit_key_file: Path | None = Field(None, description="file holding the audit key (THINFILE_AUDIT_KEY_FILE)")
    audit_rotate: Literal["day", "size", "never"] = Field(
        "day", description="start a new audit file each UTC day, or past audit_max_bytes (THINFILE_AUDIT_ROTATE)"
    )
    audit_max_bytes: int = Field(
        256 * 1024 * 1024, ge=4096, description="audit file size that starts a new one when rotating by size"
    )
    audit_retry_s: int = Field(
        30,
        ge=1,
        description="after the audit log could not be written (a decision refused with 503): the Retry-After of "
        "that answer, and how long /readyz answers 503 so that a load balancer sends traffic elsewhere "
        "(THINFILE_AUDIT_RETRY_S)",
    )
    approve_cutoff: float | None = Field(
        None,
        allow_inf_nan=False,
        description="override the model's approve cut-off, serving and in batch-score (THINFILE_APPROVE_CUTOFF)",
    )
    refer_cutoff: float | None = Field(
        None,
        allow_inf_nan=False,
        description="override the model's refer cut-off, serving and in batch-score (THINFILE_REFER_CUTOFF)",
    )
    top_reasons: TopReasons = Field(
        DEFAULT_TOP_REASONS,
        description="reason codes per answer, and per row batch-score writes (THINFILE_TOP_REASONS)",
    )
    max_batch_rows: int = Field(1000, ge=1, le=100_000, description="applicants per /score_batch request")
    max_body_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="largest request body accepted (1,000 full applicants are ~1.1 MB)"
    )
    max_row_bytes: int = Field(
        16 * 1024, ge=1024, description="largest /score body (one full applicant is ~1.1 KB); bounds /score_batch too"
    )
    max_errors: int = Field(5, ge=1, le=100, description="validation errors listed in one 400 answer")
    batch_max_latency_ms: int = Field(10_000, ge=10, description="adaptive batching: longest a request may queue")
    timeout_s: int = Field(30, ge=1, description="per-request timeout")
    body_timeout_s: float = Field(
        10.0, gt=0, description="longest a request body may take to arrive: a slower one gets 408 (below timeout_s)"
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="longest a request's headers may take to arrive, from the connection or its previous answer: a "
        "slower one gets 408 and is closed (THINFILE_HEADER_TIMEOUT_S)",
    )
    max_connections: int = Field(
        1000,
        ge=1,
        description="connections one worker holds open; one more gets 503 and is closed (lowered to what the "
        "process's file limit allows) (THINFILE_MAX_CONNECTIONS)",
    )

    stop_grace_s: float = Field(
        20.0,
        gt=0,
        description="after SIGTERM or Ctrl-C to `thinfile serve`, how long the server has to stop before what is "
        "left of it is killed (THINFILE_STOP_GRACE_S)",
    )

    @model_validator(mode="after")
    def _body_before_request_timeout(self) -> ServingSettings:
        if self.body_timeout_s >= self.timeout_s:
            raise ValueError(
                f"body_timeout_s ({self.body_timeout_s:g}) must be below timeout_s ({self.timeout_s}): a slow body "
                "should get 408, not the server's timeout"
            )
        return self

    @model_validator(mode="after")
    def _keys_from_files(self) -> ServingSettings:
        if self.api_key is None and self.api_key_file is not None:
            object.__setattr__(self, "api_key", _read_key(self.api_key_file, "THINFILE_API_KEY_FILE"))
        if self.audit_key is None and self.audit_key_file is not None:
            key = _read_key(self.audit_key_file, "THINFILE_AUDIT_KEY_FILE")
            object.__setattr__(self, "audit_key", SecretStr(key) if key else None)
        if self.audit_key is not None and len(self.audit_key.get_secret_value()) < MIN_AUDIT_KEY_CHARS:
            raise ValueError(
                f"the audit key must have at least {MIN_AUDIT_KEY_CHARS} characters (e.g. `openssl rand -hex 32`)"
            )
        return self

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def max_batch_body_bytes(self) -> int:
        """The /score_batch body bound: max_body_bytes, or max_batch_rows full rows if that is less."""
        return min(self.max_body_bytes, self.max_batch_rows * self.max_row_bytes)

    def audit_path(self) -> Path:
        return self.audit_log or project_root() / "audit" / "decisions.jsonl"

    @classmethod
    def from_env(cls, **overrides: object) -> ServingSettings:
        """Defaults, then THINFILE_* variables, then the overrides given (None means not given)."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
