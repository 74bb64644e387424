"""The base of every settings section, and where thinfile keeps its files (THINFILE_HOME)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PARTS_DIR = "population"  # the Parquet parts of a generated population, under its data folder


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


class BureauEraPolicy(Section):
    """The default historical policy: points on the bureau record and the application form, one cut-off.

    Points are in log-odds-of-good units, the way a bureau-era scorecard adds them up; the cut-off is set
    on a reference sample of the world so that the policy books `book_share` of applicants.
    """

    book_share: float = Field(0.35, gt=0, lt=1, description="share of through-the-door applicants the policy books")
    bureau_record: float = Field(1.0, description="points for having a bureau record at all")
    per_delinquency: float = Field(-0.8, description="points per overdue bureau account (24 months), up to 4")
    utilisation: float = Field(-1.2, description="points per unit of bureau credit utilisation")
    per_account_year: float = Field(0.1, description="points per year of the oldest bureau account, up to 10 years")
    per_inquiry: float = Field(-0.25, description="points per bureau inquiry (6 months), up to 6")
    log_income: float = Field(0.9, description="points per unit of ln(declared income / income_reference_rmb)")
    income_reference_rmb: float = Field(4000.0, gt=0, description="declared monthly income worth 0 points")
    no_income: float = Field(-0.8, description="points when no income is declared")
    occupation_verified: float = Field(0.4, description="points for a verified occupation")
    reference_rows: int = Field(100_000, gt=1000, description="rows of the reference sample the cut-off is set on")


class HistorySettings(Section):
    """The lending history `thinfile generate --history` writes: policy, exploration and the months applied in."""

    policy: BureauEraPolicy = BureauEraPolicy()
    explore_share: float = Field(
        0.0, ge=0, le=1, description="share of would-be rejects approved at random (exploration)"
    )
    start_month: str = Field("2016-01", pattern=r"^\d{4}-\d{2}$", description="first application month (YYYY-MM)")
    months: int = Field(12, ge=1, le=600, description="months the applications are spread over")


class InferSettings(Section):
    """How `thinfile schema infer` reads a table's columns."""

    max_text_levels: int = Field(
        50, ge=2, description="text columns with more distinct values are left out (free text or identifiers)"
    )
    max_code_levels: int = Field(
        10,
        ge=2,
        description="whole numbers with at most this many distinct values become integer-coded categories, "
        "unless the name says they count or measure something",
    )
    range_margin: float = Field(
        0.5, ge=0, description="share of the observed span added beyond each end of a number's valid range"
    )
    shown_levels: int = Field(6, ge=1, description="category values listed with their counts in the comments")
