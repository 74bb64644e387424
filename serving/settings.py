"""Settings of the HTTP scoring service, read from THINFILE_* environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from thinfile.features.settings import project_root
from thinfile.training.registry import CHAMPION_ALIAS
from thinfile.training.scorer.explain import DEFAULT_TOP_REASONS, TopReasons


def is_loopback(host: str | None) -> bool:
    """True for an address only this machine can reach."""
    return bool(host) and (host in ("::1", "localhost") or str(host).startswith("127."))


class ServingSettings(BaseSettings):
    """The HTTP scoring service; every field can be set by its THINFILE_* environment variable."""

    model_config = SettingsConfigDict(env_prefix="THINFILE_", extra="ignore", frozen=True, env_ignore_empty=True)

    host: str = Field("127.0.0.1", description="bind address (THINFILE_HOST); beyond loopback an API key is required")
    port: int = Field(3000, ge=1, le=65535, description="THINFILE_PORT")
    workers: int = Field(2, ge=1, le=64, description="worker processes (THINFILE_WORKERS)")
    model: str = Field(CHAMPION_ALIAS, description="registry alias or version to serve (THINFILE_MODEL)")
    model_name: str | None = Field(
        None, description="registered model name (THINFILE_MODEL_NAME); default: from the schema's name"
    )
    schema_file: str | None = Field(
        None, description="schema YAML of the request contract (THINFILE_SCHEMA_FILE); default the built-in one"
    )
    api_key: str | None = Field(None, repr=False, description="THINFILE_API_KEY, or read from THINFILE_API_KEY_FILE")
    api_key_file: Path | None = Field(None, description="file holding the API key (THINFILE_API_KEY_FILE)")
    audit_log: Path | None = Field(None, description="THINFILE_AUDIT_LOG; default $THINFILE_HOME/audit/decisions.jsonl")
    approve_cutoff: float | None = Field(
        None, description="override the model's approve cut-off (THINFILE_APPROVE_CUTOFF)"
    )
    refer_cutoff: float | None = Field(None, description="override the model's refer cut-off (THINFILE_REFER_CUTOFF)")
    top_reasons: TopReasons = Field(DEFAULT_TOP_REASONS, description="reason codes per answer (THINFILE_TOP_REASONS)")
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

    @model_validator(mode="after")
    def _key_from_file(self) -> ServingSettings:
        if self.api_key is None and self.api_key_file is not None:
            if not self.api_key_file.is_file():
                raise ValueError(f"THINFILE_API_KEY_FILE names {self.api_key_file}, which is not a readable file")
            object.__setattr__(self, "api_key", self.api_key_file.read_text().strip() or None)
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
