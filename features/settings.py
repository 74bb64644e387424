"""The base of every settings section, where thinfile keeps its files (THINFILE_HOME, PARTS_DIR), and the features'
sections (the synthetic world, its lending history, schema inference)."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PARTS_DIR = "population"  # the Parquet parts of a generated population, under its data folder


class Section(BaseModel):
    """A typed, frozen settings section; unknown keys, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


Seed = Annotated[
    int, Field(ge=0, le=2**32 - 1, description="a random seed (0 to 2^32 - 1, as NumPy and scikit-learn take)")
]


class GeneratorParams(Section):
    """The synthetic world. Defaults come from the seed's figures (see DATACARD.md)."""

    rural_share: float = Field(0.427, ge=0, le=1, description="590M rural of 1,383M (NBS 2016)")
    rural_online_rate: float = Field(0.34, ge=0, le=1, description="201M rural internet users / 590M")
    urban_online_rate: float = Field(0.67, ge=0, le=1, description="530M urban internet users / 793M")
    rural_footprint_intensity: float = Field(
        0.6, gt=0, le=1, description="activity of rural online users relative to urban ones"
    )
    rural_capacity_gap: float = Field(
        0.15, description="true capacity gap (sd units) of rural people; 0 makes groups equally creditworthy"
    )
    urban_bureau_rate: float = Field(0.30, ge=0, le=1, description="share of urban people with a bureau record")
    rural_bureau_rate: float = Field(0.09, ge=0, le=1, description="share of rural people with a bureau record")
    money_market_rate_rural: float = Field(0.17, ge=0, le=1, description="100M rural Yu'E Bao users / 590M")
    money_market_rate_urban: float = Field(0.13, ge=0, le=1, description="100M+ urban Yu'E Bao users / 793M")
    female_share: float = Field(0.49, ge=0, le=1)
    seller_rate: float = Field(0.03, ge=0, le=1, description="share of people running an online store")
    target_default_rate: float = Field(0.08, gt=0, lt=1, description="realistic thin-file microloan default rate")
    risk_spread: float = Field(1.55, gt=0, description="sd of the true log-odds; sets the oracle AUC")
    label_noise: float = Field(0.005, ge=0, lt=0.5, description="share of outcomes recorded wrongly")
    outlier_rate: float = Field(0.001, ge=0, lt=0.1, description="share of money amounts drawn from a far tail")
    chunk_rows: int = Field(250_000, gt=0, description="rows per generated Parquet part")


class Home(BaseSettings):
    """THINFILE_HOME: the folder holding data/, mlruns/, reports/ and audit/ (default: the current folder)."""

    model_config = SettingsConfigDict(env_prefix="THINFILE_", extra="ignore", frozen=True)

    home: Path = Field(Path("."), description="the folder holding data/, mlruns/, reports/ and audit/ (THINFILE_HOME)")


class TextFiles(BaseSettings):
    """THINFILE_CSV_ENCODING: the character encoding of CSV tables (default UTF-8)."""

    model_config = SettingsConfigDict(env_prefix="THINFILE_", extra="ignore", frozen=True, env_ignore_empty=True)

    csv_encoding: str = Field(
        "utf8",
        description="the character encoding of CSV tables (THINFILE_CSV_ENCODING), a Python codec name: gb18030 "
        "for the GBK / GB2312 files Excel saves on a Chinese system, big5, cp1252, ...",
    )

    @field_validator("csv_encoding")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            name = codecs.lookup(value).name
        except LookupError:
            raise ValueError(f"{value!r} is not an encoding Python knows (e.g. utf-8, gb18030, big5)") from None
        return "utf8" if name == "utf-8" else name  # pyarrow reads "utf8" without transcoding


class ParquetFiles(BaseSettings):
    """THINFILE_PARQUET_MAX_FOOTER_MB: the largest metadata (footer) a Parquet table file may hold."""

    model_config = SettingsConfigDict(env_prefix="THINFILE_", extra="ignore", frozen=True, env_ignore_empty=True)

    parquet_max_footer_mb: float = Field(
        64.0,
        gt=0,
        allow_inf_nan=False,
        description="a Parquet file whose metadata (its footer, read whole before any row) is larger is refused: "
        "it grows with row groups x columns, about 110 bytes each (20,000 one-row groups of 54 columns: 117 MB, "
        "over 1 GiB and seconds to parse), so such a file holds many small row groups; rewrite it with bigger ones",
    )


def parquet_max_footer_bytes() -> int:
    """The largest footer a Parquet table file may hold, in bytes (THINFILE_PARQUET_MAX_FOOTER_MB), or ValueError
    naming a bad value."""
    try:
        return int(ParquetFiles().parquet_max_footer_mb * 1e6)
    except ValidationError as err:
        why = str(err.errors(include_url=False)[0]["msg"])
        raise ValueError(f"THINFILE_PARQUET_MAX_FOOTER_MB: {why}") from None


def project_root() -> Path:
    """The folder holding mlruns/ and data/: THINFILE_HOME, else the current directory."""
    return Home().home.resolve()


def csv_encoding() -> str:
    """The encoding CSV tables are read in (THINFILE_CSV_ENCODING), or ValueError naming a bad value."""
    try:
        return TextFiles().csv_encoding
    except ValidationError as err:
        why = str(err.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
        raise ValueError(f"THINFILE_CSV_ENCODING: {why}") from None


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
    start_month: str = Field(
        "2016-01", pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="first application month (YYYY-MM)"
    )
    months: int = Field(12, ge=1, le=600, description="months the applications are spread over")


class InferSettings(Section):
    """How `thinfile schema infer` reads a table's columns."""

    max_text_levels: int = Field(
        50, ge=2, description="text columns with more distinct values are left out (free text or identifiers)"
    )
    max_level_chars: int = Field(
        200,
        ge=1,
        description="a text column holding a value longer than this is left out: free text, not a category (a "
        "category's values are short codes or words)",
    )
    min_number_share: float = Field(
        0.99,
        gt=0,
        le=1,
        description="a column with too many distinct texts for a category is a number column when at least this "
        "share of its present cells are numbers (the others: cells the check rejects)",
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
    rare_level_rows: int = Field(
        3, ge=1, description="a category value seen in fewer rows is flagged to check (a typo or a stray code?)"
    )
    grouped_names_shown: int = Field(
        8, ge=1, description="columns named in a to-do line that several columns share (the rest are counted)"
    )
    copy_check_rows: int = Field(
        10_000,
        ge=1,
        description="first rows hashed to find columns that copy another (likely copies are then compared whole)",
    )
    placeholder_magnitude: float = Field(
        1e300,
        gt=0,
        description="numbers this large are flagged as likely stand-ins for 'no value' (the float maximum often is)",
    )


class ValidationSettings(Section):
    """How rejected rows are worded."""

    shown_value_chars: int = Field(
        40, ge=8, description="characters of a rejected cell's value shown in its reason (longer ones are cut)"
    )
    examples_shown: int = Field(
        5, ge=1, description="rows that break the schema quoted with their reasons in a message; a file holds all"
    )


class LeakChecks(Section):
    """When an input is taken for a leak of the outcome: a fact known only once the loan has run."""

    proxy_auc: float = Field(
        0.95,
        gt=0.5,
        le=1,
        description="an input whose values alone tell defaults from repayments this well (AUC of its groups' "
        "default rates) is warned of as a likely leak (a bureau score reaches about 0.8); one that separates them "
        "perfectly is refused",
    )
    sample_rows: int = Field(
        20_000, ge=100, description="rows with an outcome read to judge the inputs (evenly spaced through the table)"
    )
    bins: int = Field(
        20,
        ge=2,
        le=1000,
        description="most quantile bins a number's present values are grouped into (fewer in a small table)",
    )
    recheck_margin: float = Field(
        0.15,
        ge=0,
        le=0.5,
        description="a number whose bins come this close to proxy_auc is judged on its values' order as well (bins "
        "can blur a threshold that splits the outcomes exactly)",
    )
    order_rows: int = Field(
        2_000,
        ge=0,
        description="with fewer rows with an outcome, every number is judged on its values' order as well as its "
        "bins (few rows make few, coarse bins)",
    )
    min_group_rows: int = Field(
        10,
        ge=1,
        description="a group (bin, level, missing values) needs this many rows to count with its own default rate; "
        "and each outcome needs this many rows for any input to be judged",
    )


class ScratchSettings(Section):
    """Scratch folders left in the system's temporary folder by a killed process (see `features.scratch`)."""

    orphan_age_s: float = Field(
        86_400.0,
        ge=0,
        description="a scratch folder whose process has ended is removed once nothing has been added to it for this "
        "long (a process in another container, whose pid this one cannot see, may still be using it)",
    )
