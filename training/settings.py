"""The training job's settings sections (what `thinfile train`, `thinfile loop` and the fairness stage read), kept
apart from the code that uses them so that reading settings does not load LightGBM, MLflow or the plots."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

import numpy as np
from pydantic import Field, field_validator, model_validator

from thinfile.features.jsonio import dumps
from thinfile.features.schema import Schema
from thinfile.features.settings import LeakChecks, Section, Seed, project_root
from thinfile.training.scorer.policy import Cutoffs, LendingPolicy
from thinfile.training.scorer.scale import ScoreScale

CHAMPION_ALIAS = "champion"  # the registry alias `thinfile serve` and `batch-score` use by default
CHALLENGER_ALIAS = "challenger"
MAX_LEAVES = 64  # leaves per tree: beyond this thinfile's exact TreeSHAP tables stop being the fast path
EVENTS_PER_LEAF = 40
MIN_TRIALS = 8

Method = Literal["none", "reweight", "augment", "parcel", "fuzzy", "ceiling"]
METHODS: tuple[str, ...] = ("none", "reweight", "augment", "parcel", "fuzzy")


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the embedded store under mlruns/ (SQLite, no server)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a SQLite store URI; None for any other store."""
    return Path(uri.removeprefix("sqlite:///")) if urlparse(uri).scheme == "sqlite" else None


def nothing_trained() -> str | None:
    """Why no model can be read, when the embedded store (THINFILE_HOME/mlruns/mlflow.db) was never made: reading
    it through MLflow would create it, with all of MLflow's migrations, only to find nothing in it."""
    path = None if "MLFLOW_TRACKING_URI" in os.environ else sqlite_path(tracking_uri())
    if path is None or path.exists():
        return None
    return (
        f"nothing has been trained under this THINFILE_HOME ({path} does not exist); run `thinfile run` or "
        "`thinfile train` first, or set THINFILE_HOME to the folder that holds mlruns/"
    )


def model_name_for(schema: Schema) -> str:
    """The registered model name of a project: its schema's name (letters of any script, digits, '-', '_' and
    '.'; anything else becomes '-')."""
    return re.sub(r"[^\w.-]+", "-", schema.name).strip("-") or "thinfile-scorer"


class StoreChecks(Section):
    """How long thinfile waits for a tracking server before saying it does not answer."""

    server_timeout_s: float = Field(5.0, gt=0, description="seconds to wait for the tracking server's first answer")


class DataChecks(Section):
    """What a table must satisfy before anything is trained on it."""

    max_reject_share: float = Field(
        0.05, ge=0, le=1, description="fail when more than this share of rows breaks the schema; fewer are dropped"
    )
    min_rows: int = Field(200, gt=0, description="fewest usable rows to train on")
    min_class_rows: int = Field(20, gt=0, description="fewest rows of each outcome class to train on")
    leaks: LeakChecks = LeakChecks()


class TrainConfig(Section):
    """Hyper-parameters of the champion and the split; fitted to the table unless set explicitly.

    The fixed values below are those of the synthetic 200,000-row world (chosen in bench/train_shape.py).
    On another table, `fitted_to` scales what is not set explicitly to the training rows n, the defaults
    among them e and the defaults among validation rows e_v:

    - min_child_samples = 0.1% of n, between 10 and 100;
    - num_leaves = the largest power of two <= e / 40 (about 40 defaults per leaf of the deepest tree),
      between 4 and 8, and max_depth = log2(num_leaves) (the trees stay complete and shallow);
    - early_stopping_rounds = 30 x sqrt(1000 / e_v), between 30 and 100 (a small validation part is a
      noisy signal: wait longer before stopping);
    - num_threads = 1 under `single_thread_below_rows` training rows (LightGBM's threads cost more than
      they save on small data, many times more on a busy machine), else all cores;
    - tune_trials = 200,000 / n, and at most 8,000,000 / (n x inputs), between 8 and 20 (the search's cost
      grows with rows x inputs x trials: a table of 40 inputs or fewer is searched by its rows alone, a wide
      one with fewer trials: 3,600 training rows x 205 inputs, 10 trials, not 20).

    On 120,000 training rows with ~10,000 defaults that gives back 100, 8 leaves at depth 3 and 30.
    Then, on tables under `tune_below_rows` rows (or always with `tune=True`), a short cross-validated
    search (training.tuning) starts from those values; trees stay within 64 leaves, where thinfile's exact
    TreeSHAP is fastest. `tune=False` keeps the fitted values.
    """

    seed: Seed = 7
    test_size: float = Field(0.2, gt=0, lt=1)
    valid_size: float = Field(0.2, gt=0, lt=1)
    min_borrowers: int = Field(
        20,
        ge=5,
        description="fewest distinct borrowers a split by borrower (the schema's borrower_column) takes: fewer "
        "cannot fill the test and validation parts and the search's folds",
    )
    uneven_split: float = Field(
        0.5,
        gt=0,
        description="a split by borrower whose part holds a share of rows this far (relative) from its aim is "
        "warned of: a few borrowers hold many of the loans",
    )
    borrower_share: float = Field(
        0.25, gt=0, le=1, description="a split by borrower where one borrower holds more of a part's rows is warned of"
    )
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(8, ge=2, le=MAX_LEAVES)
    max_depth: int = Field(3, ge=-1, description="deepest tree; 0 or -1: no limit but num_leaves")
    max_rounds: int = Field(400, ge=1)
    early_stopping_rounds: int = Field(30, ge=1)
    min_child_samples: int = Field(100, ge=1)
    feature_fraction: float = Field(0.8, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(1.0, ge=0)
    num_threads: int = Field(0, ge=0, description="LightGBM threads; 0: every core")
    fit_to_table: bool = Field(True, description="scale leaf size, tree shape and early stopping to the table")
    tune: bool | None = Field(
        None, description="cross-validated search first: None = on tables under tune_below_rows rows"
    )
    tune_trials: int = Field(
        20, ge=1, description="trials of the search (the first is the fitted defaults); fewer on larger tables"
    )
    tune_row_trials: int = Field(
        200_000, ge=0, description="unless tune_trials is set: trials x training rows at most this (8 trials at least)"
    )
    tune_cell_trials: int = Field(
        8_000_000, ge=0, description="and trials x training rows x inputs at most this (a wide table's search)"
    )
    tune_folds: int = Field(5, ge=2, description="folds of the cross-validation that scores each trial")
    tune_below_rows: int = Field(50_000, ge=0, description="search by default on tables with fewer usable rows")
    single_thread_below_rows: int = Field(50_000, ge=0, description="fit on one thread below this many training rows")

    def fitted_to(self, rows: int, events: int, valid_events: int, *, inputs: int) -> TrainConfig:
        """This config with leaf size, tree shape, early stopping and the search's trials scaled to a table of
        `rows` training rows and `inputs` model inputs (see the class doc); fields set explicitly are kept."""
        if not self.fit_to_table:
            return self
        leaves = 2 ** int(np.clip(np.floor(np.log2(max(events, 1) / EVENTS_PER_LEAF)), 2, 3))
        fitted: dict[str, int] = {
            "min_child_samples": int(np.clip(round(rows / 1000), 10, 100)),
            "num_leaves": leaves,
            "max_depth": int(np.log2(leaves)),
            "early_stopping_rounds": int(np.clip(round(30 * np.sqrt(1000 / max(valid_events, 1))), 30, 100)),
            "num_threads": 1 if rows < self.single_thread_below_rows else 0,
            "tune_trials": int(
                np.clip(
                    min(self.tune_row_trials // max(rows, 1), self.tune_cell_trials // max(rows * inputs, 1)),
                    MIN_TRIALS,
                    self.tune_trials,
                )
            ),
        }
        if "num_leaves" in self.model_fields_set or "max_depth" in self.model_fields_set:
            fitted.pop("num_leaves"), fitted.pop("max_depth")
        update = {k: v for k, v in fitted.items() if k not in self.model_fields_set}
        return self.model_copy(update=update) if update else self

    @property
    def part_shares(self) -> tuple[float, float, float]:
        """The shares of rows the split aims at for its train, validation and test parts."""
        return (1 - self.test_size - self.valid_size, self.valid_size, self.test_size)

    def searches(self, rows: int) -> bool:
        """Whether the cross-validated search runs on a table with `rows` usable rows."""
        return self.tune if self.tune is not None else rows < self.tune_below_rows


def tree_depth(config: TrainConfig) -> int:
    """How deep the champion's trees can grow: `max_depth` (LightGBM reads 0 or less as no limit), and never
    more than num_leaves - 1 levels (a 2-leaf tree has depth 1)."""
    return config.num_leaves - 1 if config.max_depth <= 0 else min(config.max_depth, config.num_leaves - 1)


class EvaluationConfig(Section):
    """How every model is evaluated on the test rows and what is logged beside its metrics."""

    eval_cutoffs: tuple[float, ...] | None = Field(
        None, description="scores at which to report approval and bad rate; None: the band lower bounds"
    )
    calibration_bins: int = Field(10, ge=2, description="equal-count bins for the calibration table and ECE")
    group_auc_min_class_rows: int = Field(
        10,
        ge=1,
        description="fewest defaults and fewest repayments a group's test rows need for its AUC to be reported "
        "(below that an AUC is mostly noise: one default and one repayment give 0 or 1)",
    )
    timing_rows: int = Field(20_000, gt=0, description="rows used to time predictions")
    explain_timing_rows: int = Field(
        20_000, gt=0, description="rows used to time explanations (enough to use every core)"
    )
    plot_rows: int = Field(200_000, gt=0, description="rows drawn (seeded) for score-distribution plots")
    psi_rows: int = Field(
        50_000, gt=0, description="training rows drawn (seeded) whose scores are the reference of the score's PSI"
    )
    seed: Seed = Field(7, description="seed of the plotted sample")
    plot_timeout_s: float = Field(
        300.0,
        gt=0,
        description="a plot-drawing process still busy this long after the run waits for it is ended "
        "and its plots drawn in the training process",
    )


class GlobalExplainConfig(Section):
    """The champion's global explanation plots (SHAP beeswarm, dependence, points by dimension and group)."""

    rows: int = Field(5_000, ge=100, description="rows sampled for the global explanation plots")
    dependence_plots: int = Field(6, ge=0, description="dependence plots for this many top features")
    seed: Seed = 7


FOUR_FIFTHS = 0.8
"""the four-fifths rule's disparate impact ratio (US EEOC), the default limit"""


class FairnessLimits(Section):
    """Pass/fail limits of the fairness checks (the four-fifths rule and its companions)."""

    disparate_impact_min: float = Field(
        FOUR_FIFTHS,
        gt=0,
        le=1,
        description="lowest approval-rate ratio to the most-approved group (0.8: the four-fifths rule)",
    )
    equal_opportunity_max: float = Field(
        0.05, ge=0, le=1, description="largest gap in approval rate among borrowers who repaid"
    )
    calibration_gap_max: float = Field(
        0.02, ge=0, le=1, description="largest gap between groups in observed minus predicted default rate"
    )


class FairnessAudit(Section):
    """How the fairness report is computed (the pass/fail limits are in FairnessLimits)."""

    min_group_rows: int = Field(
        50,
        ge=1,
        description="a group with fewer rows is shown with its uncertainty but not checked: the verdict is then "
        "'incomplete', never 'pass'",
    )
    confidence: float = Field(
        0.95, gt=0, lt=1, description="level of the Wilson interval on every group rate and of each check's interval"
    )
    interval_draws: int = Field(
        4_000,
        ge=100,
        description="draws of the parametric bootstrap behind each check's interval (seeded: a report is reproducible)",
    )
    calibration_bins: int = Field(10, ge=2, description="equal-count bins of predicted PD (deciles)")
    score_bins: int = Field(30, ge=5, description="histogram bins of the score distribution per group")
    proxy_rows: int = Field(30_000, ge=100, description="rows sampled to fit each proxy classifier")
    proxy_rounds: int = Field(80, ge=1, description="boosting rounds of each proxy classifier")
    proxy_top_features: int = Field(5, ge=1, description="features listed as carrying each proxy")
    oracle_tolerance: float = Field(
        0.01, ge=0, description="approval-rate shortfall vs the oracle that the report calls out in words"
    )
    max_trained_share: float = Field(
        0.01,
        ge=0,
        le=1,
        description="share of an --all-rows audit's rows the model was trained on beyond which the audit says so "
        "first and is not logged to the model's run (an in-sample audit flatters it)",
    )
    mitigate_attribute: str | None = Field(
        None, description="protected attribute the challenger reweighs against (None: the schema's first)"
    )
    mitigation_rounds: int = Field(3, ge=1, description="reweigh-and-refit rounds of the mitigated challenger")
    mitigation_step: float = Field(
        6.0, ge=0, description="how strongly each round upweights repaid borrowers of less-approved groups"
    )


class StabilityLimits(Section):
    """PSI levels: below `watch` stable, up to `shift` worth watching, above `shift` shifted (retrain)."""

    watch: float = Field(0.1, gt=0, description="PSI above which a distribution is worth watching")
    shift: float = Field(0.25, gt=0, description="PSI above which a feature or the score has shifted")
    min_rows: int = Field(
        500,
        ge=1,
        description="fewest scored rows on which a batch's PSI is judged: fewer, and it is reported but flags "
        "nothing (sampling alone gives a PSI of about (bins - 1) / rows: 0.9 on 10 rows, 0.02 on 500)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> StabilityLimits:
        if self.watch >= self.shift:
            raise ValueError("watch must be below shift (a distribution is worth watching before it has shifted)")
        return self

    def level(self, value: float) -> str:
        return "shift" if value > self.shift else "watch" if value > self.watch else "stable"


class RejectInference(Section):
    """Which reject-inference method trains the champion, and its parameters."""

    method: Method = Field("none", description="none | reweight | augment | parcel | fuzzy (ceiling: reference only)")
    risk_factor: float = Field(
        1.5, ge=1, description="augment, parcel: rejects assumed this many times as risky as the KGB model says"
    )
    reject_weight: float = Field(1.0, gt=0, description="augment, parcel, fuzzy: weight of each inferred reject row")
    max_weight: float = Field(20.0, ge=1, description="reweight: largest 1 / P(booked | inputs) used as a weight")
    selection_rounds: int = Field(
        100, ge=10, description="reweight: most boosting rounds (learning rate 0.1) of the booking-probability model"
    )
    seed: Seed = Field(0, description="parcel: seed of the random labels")

    def params(self) -> dict[str, object]:
        """The parameters that matter for this method, as logged."""
        used = {
            "none": (),
            "ceiling": (),
            "reweight": ("max_weight", "selection_rounds"),
            "augment": ("risk_factor", "reject_weight"),
            "parcel": ("risk_factor", "reject_weight", "seed"),
            "fuzzy": ("reject_weight",),
        }[self.method]
        return {"reject_inference.method": self.method, **{f"reject_inference.{k}": getattr(self, k) for k in used}}


class PromotionGate(Section):
    """How much AUC a lender gives up for a model that passes every fairness check."""

    max_auc_cost: float = Field(0.005, ge=0, le=1, description="largest AUC given up against the best candidate")
    oracle_tolerance: float = Field(
        0.01, ge=0, description="how much worse than the oracle a model may be on a check the oracle also fails"
    )


MIN_BOOTSTRAP_DRAWS = 100


class LoopSettings(Section):
    """What `thinfile loop` runs: the world's size, the methods, the exploration sweep and the generations."""

    rows: int = Field(200_000, ge=2_000, description="through-the-door applicants per generation")
    seed: Seed = Field(0, description="seed of the world (generation g draws new applicants with seed + g - 1)")
    methods: tuple[str, ...] = Field(METHODS, description="reject-inference methods compared (none is the floor)")
    explore_shares: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        (0.01, 0.02, 0.05, 0.10), description="shares of would-be rejects approved at random, swept against 0"
    )
    generations: int = Field(3, ge=0, le=8, description="policy generations to simulate (0: none)")
    log_runs: bool = Field(True, description="log each method's champion as an MLflow run (the comparison)")
    closed_share_target: float = Field(0.5, ge=0, le=1, description="share of the floor-to-ceiling gap to close")
    gap_target: float = Field(0.02, ge=0, description="AUC a bureau-era book should cost a booked-only model")
    bootstrap_draws: int = Field(
        200,
        ge=0,
        description="resamples of the test applicants behind each compared figure's 95% interval (seeded by seed; "
        "0: no intervals)",
    )

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in methods if m not in METHODS]
        if unknown:
            named = ", ".join(m[:40] for m in unknown[:5])
            raise ValueError(f"unknown reject-inference method(s) {named}; each is one of {', '.join(METHODS)}")
        return methods

    @field_validator("bootstrap_draws")
    @classmethod
    def _enough_draws(cls, draws: int) -> int:
        if 0 < draws < MIN_BOOTSTRAP_DRAWS:
            raise ValueError(
                f"a 95% interval needs at least {MIN_BOOTSTRAP_DRAWS} resamples (2.5% of them beyond each end); got "
                f"{draws} (0: no intervals)"
            )
        return draws


class PipelineConfig(Section):
    """What `thinfile train` fits and logs around the champion."""

    baselines: bool = Field(True, description="also fit the bureau-only and all-inputs WoE scorecards")
    register_champion: bool = Field(True, description="register the champion and point alias 'champion' at it")
    model_name: str | None = Field(None, description="registered model name; None: derived from the schema's name")
    global_explanations: bool = Field(True, description="log the champion's global-explanation plots")


class TrainingSettings(Section):
    """What `thinfile train` and the fairness stage read: every section of the training job."""

    scale: ScoreScale = ScoreScale()
    policy: LendingPolicy = LendingPolicy()
    train: TrainConfig = TrainConfig()
    checks: DataChecks = DataChecks()
    evaluation: EvaluationConfig = EvaluationConfig()
    pipeline: PipelineConfig = PipelineConfig()
    fairness: FairnessLimits = FairnessLimits()
    audit: FairnessAudit = FairnessAudit()
    stability: StabilityLimits = StabilityLimits()
    explanations: GlobalExplainConfig = GlobalExplainConfig()
    reject_inference: RejectInference = RejectInference()

    def model_name(self, schema: Schema) -> str:
        return self.pipeline.model_name or model_name_for(schema)

    def training_json(self) -> str:
        """This job's training sections as strict JSON, as each of its MLflow runs logs them (settings.json): only
        the sections declared here, so that a caller's other sections (batch, service) stay out."""
        return dumps({name: getattr(self, name).model_dump(mode="json") for name in TrainingSettings.model_fields}, 2)

    @property
    def cutoffs(self) -> Cutoffs:
        """The policy's cut-offs when it states them as scores (a policy by rates is resolved per model)."""
        return self.policy.score_cutoffs()
