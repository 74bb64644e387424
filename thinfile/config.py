"""All of thinfile's settings, typed, with their defaults, in one place."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

MODEL_NAME = "thinfile-scorer"
EXPERIMENT_NAME = "thinfile"
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScoreScale(Frozen):
    """PD -> score: score = offset + factor * ln(odds of good), factor = pdo / ln 2."""

    base_score: float = 650.0
    base_odds: float = Field(20.0, gt=0, description="odds of good (good:bad) at base_score")
    pdo: float = Field(50.0, gt=0, description="points to double the odds")
    min_score: float = 350.0
    max_score: float = 950.0
    bands: tuple[tuple[str, float], ...] = (
        ("poor", 350.0),
        ("fair", 550.0),
        ("good", 600.0),
        ("very good", 650.0),
        ("excellent", 700.0),
    )

    @model_validator(mode="after")
    def _check(self) -> ScoreScale:
        lows = [low for _, low in self.bands]
        if lows != sorted(lows) or lows[0] > self.min_score:
            raise ValueError("bands must be given by ascending lower bound, the first at or below min_score")
        if self.min_score >= self.max_score:
            raise ValueError("min_score must be below max_score")
        return self


class Cutoffs(Frozen):
    """Decision rule on the score: approve at or above `approve`, refer down to `refer`, else decline."""

    approve: float = 600.0
    refer: float = 550.0

    @model_validator(mode="after")
    def _check(self) -> Cutoffs:
        if self.refer > self.approve:
            raise ValueError(f"refer cut-off {self.refer} is above approve cut-off {self.approve}")
        return self


class GeneratorParams(Frozen):
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


class TrainConfig(Frozen):
    """Hyper-parameters of the champion and the split; defaults chosen in bench/train_shape."""

    seed: int = 7
    test_size: float = Field(0.2, gt=0, lt=1)
    valid_size: float = Field(0.2, gt=0, lt=1)
    learning_rate: float = 0.05
    num_leaves: int = 8
    max_depth: int = 3
    max_rounds: int = 400
    early_stopping_rounds: int = 30
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    bagging_freq: int = 1
    lambda_l2: float = 1.0
    num_threads: int = 0
    tune: bool = False
    tune_trials: int = 20


class FairnessLimits(Frozen):
    disparate_impact_min: float = 0.8
    equal_opportunity_max: float = 0.05
    calibration_gap_max: float = 0.02


class PipelineConfig(Frozen):
    """How `thinfile train` runs around the champion fit: data checks, baselines, evaluation, tracking."""

    max_reject_share: float = Field(
        0.05, ge=0, le=1, description="fail when more than this share of rows breaks the schema; fewer are dropped"
    )
    min_rows: int = Field(200, gt=0, description="fewest usable rows to train on")
    min_class_rows: int = Field(20, gt=0, description="fewest rows of each outcome class to train on")
    baselines: bool = Field(True, description="also fit the bureau-only and all-inputs WoE scorecards")
    register_champion: bool = Field(True, description="register the champion as MODEL_NAME with alias 'champion'")
    global_explanations: bool = Field(True, description="log the champion's global-explanation plots")
    eval_cutoffs: tuple[float, ...] | None = Field(
        None, description="scores at which to report approval and bad rate; None: the band lower bounds"
    )
    calibration_bins: int = Field(10, ge=2, description="equal-count bins for the calibration table and ECE")
    timing_rows: int = Field(20_000, gt=0, description="rows used to time predictions")
    explain_timing_rows: int = Field(20_000, gt=0, description="rows used to time explanations (enough to use every core)")
    plot_rows: int = Field(200_000, gt=0, description="rows drawn (seeded) for score-distribution plots")


class FairnessAudit(Frozen):
    """How the fairness report is computed (the pass/fail limits are in FairnessLimits)."""

    min_group_rows: int = Field(50, ge=1, description="smaller groups are listed but left out of the audit")
    calibration_bins: int = Field(10, ge=2, description="equal-count bins of predicted PD (deciles)")
    score_bins: int = Field(30, ge=5, description="histogram bins of the score distribution per group")
    proxy_rows: int = Field(30_000, ge=100, description="rows sampled to fit each proxy classifier")
    proxy_rounds: int = Field(80, ge=1, description="boosting rounds of each proxy classifier")
    proxy_top_features: int = Field(5, ge=1, description="features listed as carrying each proxy")
    oracle_tolerance: float = Field(
        0.01, ge=0, description="approval-rate shortfall vs the oracle that the report calls out in words"
    )
    mitigate_attribute: str | None = Field(
        None, description="protected attribute the challenger reweighs against (None: the schema's first)"
    )
    mitigation_rounds: int = Field(3, ge=1, description="reweigh-and-refit rounds of the mitigated challenger")
    mitigation_step: float = Field(
        6.0, ge=0, description="how strongly each round upweights repaid borrowers of less-approved groups"
    )
    explain_rows: int = Field(5_000, ge=100, description="rows sampled for the global explanation plots")
    dependence_plots: int = Field(6, ge=0, description="dependence plots for this many top features")


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class ServingSettings(Frozen):
    """The HTTP scoring service; every field can be set by its THINFILE_* environment variable."""

    host: str = Field("127.0.0.1", description="bind address (THINFILE_HOST); beyond loopback an API key is required")
    port: int = Field(3000, ge=1, le=65535, description="THINFILE_PORT")
    workers: int = Field(2, ge=1, le=64, description="worker processes (THINFILE_WORKERS)")
    model: str = Field(CHAMPION_ALIAS, description="registry alias or version to serve (THINFILE_MODEL)")
    schema_file: str | None = Field(None, description="schema YAML of the request contract (THINFILE_SCHEMA_FILE); "
                                    "default the built-in synthetic schema")
    api_key: str | None = Field(None, repr=False, description="THINFILE_API_KEY, or read from THINFILE_API_KEY_FILE")
    audit_log: Path | None = Field(None, description="THINFILE_AUDIT_LOG; default $THINFILE_HOME/audit/decisions.jsonl")
    approve_cutoff: float | None = Field(None, description="override the model's approve cut-off (THINFILE_APPROVE_CUTOFF)")
    refer_cutoff: float | None = Field(None, description="override the model's refer cut-off (THINFILE_REFER_CUTOFF)")
    max_batch_rows: int = Field(1000, ge=1, le=100_000, description="applicants per /score_batch request")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body accepted")
    batch_max_latency_ms: int = Field(10_000, ge=10, description="adaptive batching: longest a request may queue")
    timeout_s: int = Field(30, ge=1, description="per-request timeout")

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

    def audit_path(self) -> Path:
        return self.audit_log or project_root() / "audit" / "decisions.jsonl"

    @classmethod
    def from_env(cls, **overrides: object) -> ServingSettings:
        """Defaults, then THINFILE_* variables, then explicit overrides (None means not given)."""
        env = {name: os.environ.get(f"THINFILE_{name.upper()}") for name in cls.model_fields}
        key_file = os.environ.get("THINFILE_API_KEY_FILE")
        if not env["api_key"] and key_file:
            path = Path(key_file)
            if not path.is_file():
                raise ValueError(f"THINFILE_API_KEY_FILE names {path}, which is not a readable file")
            env["api_key"] = path.read_text().strip() or None
        values = {k: v for k, v in env.items() if v not in (None, "")}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


class BatchSettings(Frozen):
    """How `thinfile batch-score` runs: chunking, parallelism, output and the population report."""

    chunk_rows: int = Field(50_000, gt=0, description="rows per output part; bounds memory per worker (10M rows: 2.3 GiB peak)")
    workers: int = Field(0, ge=0, description="scoring processes; 0: one per CPU core")
    in_flight_per_worker: int = Field(1, ge=1, description="chunks read ahead per worker (memory bound)")
    top_reasons: int = Field(4, ge=1, le=10, description="reason codes written per row")
    psi_flag: float = Field(0.25, gt=0, description="PSI above which a feature or the score is flagged as shifted")
    approval_grid_step: float = Field(10.0, gt=0, description="score step of the approval-rate-by-cut-off curve")
    manifest_every_s: float = Field(5.0, ge=0, description="seconds between manifest rewrites while running")
    spark_master: str = Field("local[*]", description="Spark master for --engine spark")


class Settings(Frozen):
    """Top-level settings; paths default to the repository layout, overridable by environment."""

    scale: ScoreScale = ScoreScale()
    cutoffs: Cutoffs = Cutoffs()
    train: TrainConfig = TrainConfig()
    fairness: FairnessLimits = FairnessLimits()
    audit: FairnessAudit = FairnessAudit()
    generator: GeneratorParams = GeneratorParams()
    pipeline: PipelineConfig = PipelineConfig()
    batch: BatchSettings = BatchSettings()


def project_root() -> Path:
    """The folder holding mlruns/ and data/: THINFILE_HOME, else the current directory."""
    return Path(os.environ.get("THINFILE_HOME", ".")).resolve()


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the embedded store under mlruns/ (SQLite, no server)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    root = project_root() / "mlruns"
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def default_data_dir() -> Path:
    return project_root() / "data" / "synthetic"
