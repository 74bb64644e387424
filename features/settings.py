"""The base of every settings section, and where thinfile keeps its files (THINFILE_HOME)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Section(BaseModel):
    """A typed, frozen settings section; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Home(BaseSettings):
    """THINFILE_HOME: the folder holding data/, mlruns/, reports/ and audit/ (default: the current folder)."""

    model_config = SettingsConfigDict(env_prefix="THINFILE_", extra="ignore", frozen=True)

    home: Path = Field(Path("."), description="THINFILE_HOME")


def project_root() -> Path:
    """The folder holding mlruns/ and data/: THINFILE_HOME, else the current directory."""
    return Home().home.resolve()


def default_data_dir() -> Path:
    """Where `thinfile generate` writes the default population and its data card."""
    return project_root() / "data" / "synthetic"
