"""`thinfile train`: any table + its schema -> checked, split once, champion and baselines fitted, evaluated, logged."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from thinfile.features.infer import (
    protected_without_value,
    repeated_ids_problem,
    respelt_borrowers,
    undeclared_protected,
)
from thinfile.features.schema import Schema, load_schema
from thinfile.features.scratch import remove_orphans
from thinfile.features.validate import require_frame
from thinfile.training import tracking
from thinfile.training.audit_groups import too_small_to_audit
from thinfile.training.champion import fit_scorer, missing_sentence, rarely_missing
from thinfile.training.data import PreparedData, load_training_table, prepare
from thinfile.training.global_explain import global_explanation_plots
from thinfile.training.lending_loop.measure import TruthSet, truth_metrics
from thinfile.training.registry import log_scorer, pinned_requirements, set_alias
from thinfile.training.reject_inference import Inferred, booked_split, check_method, infer
from thinfile.training.runlog import (
    ModelResult,
    ModelSpec,
    PdModel,
    PendingRun,
    RunContext,
    evaluate_and_log,
    start_evaluate_and_log,
)
from thinfile.training.scorecard import (
    ALL_INPUTS_FAMILY,
    BUREAU_FAMILY,
    WoeScorecard,
    fit_all_inputs_scorecard,
    fit_bureau_scorecard,
    log_scorecard_model,
)
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs, LendingPolicy, check_reachable, resolve_cutoffs
from thinfile.training.scorer.scale import ScoreScale, bands, pd_to_score, score_to_pd
from thinfile.training.settings import (
    CHAMPION_ALIAS,
    TrainConfig,
    TrainingSettings,
    tree_depth,
)
from thinfile.training.split import Split, borrowers_across, split_frame, uneven_parts
from thinfile.training.tuning import choose_config

CHAMPION_FAMILY = "lightgbm"
Progress = Callable[[str], None]


TRAINED_ON_REPEATS = (
    "Trained on as they are: an applicant in both the training and the test rows makes the test metrics look better "
    "than they are"
)


@dataclass
class TrainResult:
    """Everything one `train` produced: the data, its one split, and the models (champion first)."""

    experiment_id: str
    data: PreparedData
    split: Split
    model_name: str
    models: list[ModelResult] = field(default_factory=list)
    registered_version: str | None = None
    global_explanations_logged: bool = False
    through_the_door: Split | None = None  # every applicant's split when the schema names a booked column
    train_config: TrainConfig | None = None  # the champion's hyper-parameters as chosen for this table
    unlearnt: tuple[str, ...] = ()
    """what the champion could not learn from its rows (an input missing too rarely), said on the console and card"""
    warnings: tuple[str, ...] = ()
    """what the job warned of about its table or split (a likely leak, an uneven split), first on every card"""

    @property
    def split_method(self) -> str:
        return self.split.method

    @property
    def champion(self) -> ModelResult:
        """The champion's result: its `model` is the Scorer, with its metrics and MLflow run."""
        return next(m for m in self.models if m.role == "champion")

    def baseline(self, family: str) -> ModelResult | None:
        """The result of the model of `family` (bureau_scorecard, all_inputs_scorecard), None when not trained."""
        return next((m for m in self.models if m.family == family), None)

    def comparison(
        self,
        metrics: tuple[str, ...] = (
            "auc",
            "oracle_gap",
            "ks",
            "ece",
            "brier",
            "auc_thin_file",
            "psi_score",
            "explain_rows_per_s",
        ),
    ) -> pd.DataFrame:
        """One row per model, named by its MLflow run, the same metric columns for each (what the MLflow UI
        compares)."""
        rows = [
            {"model": m.run_name or m.family, "role": m.role, "run_id": m.run_id}
            | {k: m.metrics.get(k, np.nan) for k in metrics}
            for m in self.models
        ]
        return pd.DataFrame(rows)


def _scorecard_spec(sc: WoeScorecard, seconds: float, split: Split, seed: int) -> ModelSpec:
    bureau = sc.family == BUREAU_FAMILY
    return ModelSpec(
        family=sc.family,
        role="baseline",
        fit_seconds=seconds,
        title=f"Baseline: WoE logistic scorecard on {'bureau-record features only' if bureau else 'every model input'}",
        intended_use=(
            "A reference point, not for decisions: what a lender without alternative data would score."
            if bureau
            else "An interpretable challenger: one points table per input (optbinning bins, WoE, logistic)."
        ),
        params={
            "model_family": sc.family,
            "features": len(sc.features),
            "feature_list": ",".join(sc.features),
            "binning": "optbinning BinningProcess (monotone trends from schema)",
            "estimator": "LogisticRegression(C=1.0)",
            "seed": seed,
        },
        log_model=lambda: log_scorecard_model(sc, split.test),
        explain=sc.contributions,
        tables={"binning_table.csv": sc.binning_table()},
    )


def champion_shape(scorer: Scorer, config: TrainConfig) -> Callable[[dict[str, float]], dict[str, object]]:
    """The model card's tree-shape section, once the timings are known."""

    def shape(metrics: dict[str, float]) -> dict[str, object]:
        return {
            "trees": int(metrics["best_iteration"]),
            "leaves_per_tree": config.num_leaves,
            "max_depth": tree_depth(config),
            "monotone_constraints": "from the schema (higher-is-better features can only raise the score)",
            "explanations": f"{metrics['explain_rows_per_s']:,.0f} rows/s (exact TreeSHAP) against "
            f"{metrics['predict_rows_per_s']:,.0f} rows/s for a plain prediction",
            "explanation_engine": scorer.explain_engine,
            "trade": "a shallow, small-leaf forest makes per-applicant reason codes several times cheaper; "
            + (
                "on this synthetic population it gives up at most ~0.002 AUC against unconstrained LightGBM "
                "(bench/train_shape.py)"
                if scorer.schema.oracle_column
                else "its AUC cost against unconstrained LightGBM was measured on the synthetic population only "
                "(~0.002, bench/train_shape.py), not on this table"
            ),
            "calibration": (
                "Platt scaling on validation (kept because it lowered log loss)"
                if tuple(scorer.calibration) != (1.0, 0.0)
                else "none (Platt scaling did not lower validation log loss)"
            ),
        }

    return shape


def scorer_metrics(scorer: Scorer) -> dict[str, float]:
    a, b = scorer.calibration
    return {
        "best_iteration": float(scorer.booster.best_iteration or scorer.booster.num_trees()),
        "calibration_slope": float(a),
        "calibration_intercept": float(b),
    }


def scorer_params(config: TrainConfig, scale: ScoreScale, schema: Schema, family: str) -> dict[str, object]:
    return {
        **{f"train.{k}": v for k, v in config.model_dump().items()},
        "model_family": family,
        "features": len(schema.feature_names),
        "scale.base_score": scale.base_score,
        "scale.base_odds": scale.base_odds,
        "scale.pdo": scale.pdo,
    }


def _champion_spec(
    scorer: Scorer,
    seconds: float,
    ctx: RunContext,
    settings: TrainingSettings,
    register_as: str | None,
    bureau_run: str | None,
    run_name: str = "champion",
) -> ModelSpec:
    cut = scorer.cutoffs
    return ModelSpec(
        family=CHAMPION_FAMILY,
        role="champion",
        run_name=run_name,
        fit_seconds=seconds,
        title="Champion: monotone LightGBM scorer (350-950)",
        intended_use=(
            "Scores applicants, thin-file included, from the schema's model inputs; every score comes "
            "with points per feature and its reasons. Decisions at the project's cut-offs "
            f"(approve >= {cut.approve:g}, refer >= {cut.refer:g}; policy: {settings.policy.describe()})."
        ),
        params={
            **scorer_params(settings.train, settings.scale, ctx.schema, CHAMPION_FAMILY),
            "policy": settings.policy.describe(),
            "cutoff.approve": cut.approve,
            "cutoff.refer": cut.refer,
        },
        log_model=lambda: log_scorer(
            scorer,
            ctx.split.test,
            register_as=register_as,
            pip_requirements=pinned_requirements("lightgbm", "numba", "pyarrow"),
        ),
        explain=scorer.explain,
        shape=champion_shape(scorer, settings.train),
        metrics={**scorer_metrics(scorer), "rows_rejected": float(len(ctx.prepared.rejects))},
        tags={tracking.BUREAU_BASELINE_TAG: bureau_run} if bureau_run else {},
        policy=scorer.cutoffs,
        tables={"rejects.csv": ctx.prepared.rejects} if len(ctx.prepared.rejects) else {},
    )


def policy_cutoffs(
    model: PdModel, split: Split, policy: LendingPolicy, scale: ScoreScale, valid_pd: np.ndarray | None = None
) -> Cutoffs:
    """The policy's cut-offs for this model, set on the validation rows (scores, and outcomes for a bad-rate rule);
    `valid_pd`: the model's PDs of those rows when already known."""
    if policy.fixed:
        return check_reachable(policy.score_cutoffs(), scale.min_score, scale.max_score)
    pd_valid = model.predict_pd(split.X_valid) if valid_pd is None else valid_pd
    return resolve_cutoffs(policy, pd_to_score(pd_valid, scale), split.y("valid"))


def bad_rate_support(
    policy: LendingPolicy, cutoffs: Cutoffs, score: np.ndarray, defaulted: np.ndarray | None
) -> str | None:
    """A warning when the approve cut-off was set by bad rate on too few approved rows, or defaults, to show it:
    the 95% Wilson interval (scipy's binomtest) of their bad rate reaches `bad_rate_support` times the target."""
    rule = policy.approve
    if rule.by != "bad_rate" or defaulted is None:
        return None
    approved = np.asarray(score, dtype=np.float64) >= cutoffs.approve
    n, k = int(approved.sum()), int(np.asarray(defaulted, dtype=np.int64)[approved].sum())
    if n == 0:
        return None
    interval = binomtest(k, n).proportion_ci(0.95, method="wilson")
    if interval.high < policy.bad_rate_support * rule.value:
        return None
    return (
        f"the approve cut-off {cutoffs.approve:g} was set by a {rule.value:.1%} bad rate among approved on "
        f"{n:,} approved validation rows with {k:,} default(s): the 95% interval of their bad rate is "
        f"{interval.low:.1%} to {interval.high:.1%}, so the rows do not show that rate (policy.bad_rate_support); "
        "train on more rows, or state the cut-off as a score or an approval rate"
    )


def at_cutoff(cutoffs: Cutoffs, scale: ScoreScale) -> str:
    """What the approve cut-off means: the default probability a score there stands for, and its band."""
    band = bands(np.array([cutoffs.approve]), scale)[0]
    pd_ = float(score_to_pd(cutoffs.approve, scale))
    return f"a score of {cutoffs.approve:g} stands for a {pd_:.1%} PD (band '{band}')"


def lending_truth(ttd: Split) -> TruthSet | None:
    """The TTD test rows seen from the synthetic truth, when the table has the oracle column (else None)."""
    oracle = ttd.schema.oracle_column
    return TruthSet.from_frame(ttd.test, ttd.schema) if oracle and oracle in ttd.test.columns else None


def with_lending(
    spec: ModelSpec, model: PdModel, ttd: Split, truth: TruthSet | None, inferred: Inferred | None = None
) -> ModelSpec:
    """The spec plus the reject-inference method (parameters, cost) and, on synthetic data, the truth on TTD rows."""
    params, metrics, tags = dict(spec.params), dict(spec.metrics), dict(spec.tags)
    if inferred is not None:
        params.update(inferred.params)
        metrics.update({"reject_inference_seconds": inferred.seconds, **inferred.metrics})
        tags["thinfile.reject_inference"] = inferred.method
    if truth is not None:
        metrics.update(truth_metrics(model.predict_pd(ttd.X_test), truth))
    return replace(spec, params=params, metrics=metrics, tags=tags)


def ready_to_train(settings: TrainingSettings, schema: Schema | None = None) -> str:
    """What can be refused before any work, refused: a cut-off outside the scores, a store that cannot be written
    or whose files live elsewhere (a copied home), or that is damaged, locked or unreadable where the training
    will write (its experiment, the registered model of `schema`, None: the built-in synthetic one). The
    experiment's id."""
    if settings.policy.fixed:
        check_reachable(settings.policy.score_cutoffs(), settings.scale.min_score, settings.scale.max_score)
    experiment = tracking.experiment_id()
    if settings.pipeline.register_champion:
        tracking.check_registry(settings.model_name(schema or load_schema()))
    return experiment


def train_frame(
    frame: pd.DataFrame,
    schema: Schema | str | Path,
    settings: TrainingSettings | None = None,
    *,
    source: str = "the table",
    progress: Progress | None = None,
    experiment: str | None = None,
    champion_run: str = "champion",
    run_tags: Mapping[str, str] | None = None,
) -> TrainResult:
    """Check, split, fit champion and baselines, evaluate and log each the same way; alias the champion last.
    `schema`: a Schema or its file. `experiment`: what `ready_to_train(settings)` returned, when the caller already
    asked it. `champion_run` names the champion's run and `run_tags` are set on every run as it opens, so that a
    caller's run says whose it is even when the job is stopped part-way (the lending loop's)."""
    require_frame(frame)
    schema = schema if isinstance(schema, Schema) else load_schema(schema)
    settings = settings or TrainingSettings()
    say = progress or (lambda _msg: None)
    experiment = experiment or ready_to_train(settings, schema)
    left = remove_orphans()
    if left:
        say(f"removed {len(left)} scratch folder(s) that killed runs left in {left[0].parent}")
    ended = tracking.end_abandoned_runs(experiment)
    if ended:
        say(f"{len(ended)} run(s) of a killed train were still RUNNING; marked KILLED: {', '.join(ended)}")
    say(f"checking {len(frame):,} rows against schema {schema.name!r}")
    prepared = prepare(frame, schema, settings.checks, source)
    check_method(settings.reject_inference, schema)
    split = split_frame(prepared.frame, schema, settings.train)
    uneven = uneven_parts(split, settings.train)
    across = borrowers_across(split)
    if across:
        say(across)
    respelt = respelt_borrowers(prepared.frame[schema.borrower_column]) if schema.borrower_column else None
    repeated = prepared.repeated_ids
    warned = (
        *(p.warning(schema.target) for p in prepared.leak_suspects),
        *([uneven] if uneven else []),
        *([f"{schema.borrower_column}: {respelt}"] if respelt else []),
        *([f"{repeated_ids_problem(schema.id_column, repeated)}. {TRAINED_ON_REPEATS}"] if repeated else []),
    )
    for warning in warned:
        say(f"warning: {warning}")
    ttd, truth = split, None
    if schema.booked_column:
        split = booked_split(ttd)
        truth = lending_truth(ttd)
        booked, applied = len(split.rows_of("train")), len(ttd.rows_of("train"))
        say(f"{booked:,} of {applied:,} training applicants were booked (outcomes known)")
    for warning in (
        *undeclared_protected(prepared.frame, schema),
        *protected_without_value(prepared.frame, schema),
        *too_small_to_audit(prepared.frame, split.test, schema, settings.audit.min_group_rows),
    ):
        say(f"warning: {warning}")
    ctx = RunContext(
        prepared,
        split,
        experiment,
        settings.scale,
        settings.evaluation.model_copy(update={"seed": settings.train.seed}),
        settings.stability,
        settings,
        warned,
        dict(run_tags or {}),
    )
    name = settings.model_name(schema)
    result = TrainResult(ctx.experiment, prepared, split, name, through_the_door=ttd if schema.booked_column else None)
    result.warnings = warned

    pending: list[PendingRun] = []
    try:
        bureau_run = None
        if settings.pipeline.baselines:
            fits = [(ALL_INPUTS_FAMILY, fit_all_inputs_scorecard)]
            if schema.traditional_features:
                fits.insert(0, (BUREAU_FAMILY, fit_bureau_scorecard))
            else:
                say("no feature is marked 'traditional: true': skipping the bureau-only scorecard")
            for family, fit in fits:
                say(f"fitting the {family.replace('_', ' ')}")
                start = time.perf_counter()
                sc = fit(split.train, schema, settings.train.seed)
                seconds = time.perf_counter() - start
                say(f"evaluating and logging the {family.replace('_', ' ')}")
                spec = with_lending(_scorecard_spec(sc, seconds, split, settings.train.seed), sc, ttd, truth)
                baseline = start_evaluate_and_log(sc, spec, ctx)  # its plots draw while the champion is fitted
                pending.append(baseline)
                result.models.append(baseline.result)
                if family == BUREAU_FAMILY:
                    bureau_run = baseline.result.run_id

        chosen = choose_config(split, settings.train, say)
        settings = settings.model_copy(update={"train": chosen.config})
        result.train_config = chosen.config
        say(chosen.summary())
        inferred = None
        X, y, weight, Xv, yv = split.X_train, split.y("train"), None, split.X_valid, split.y("valid")
        if schema.booked_column:
            say(f"reject inference: {settings.reject_inference.method}")
            inferred = infer(settings.reject_inference, ttd, settings.train)
            X, y, weight = inferred.train.X, inferred.train.y, inferred.train.weight
            Xv, yv = inferred.valid.X, inferred.valid.y
        say(f"fitting the champion on {len(y):,} rows")
        start = time.perf_counter()
        fitted = fit_scorer(schema, X, y, Xv, yv, settings.train, settings.scale, weight=weight)
        scorer = fitted.scorer
        valid_pd = fitted.valid_pd if Xv is split.X_valid else None
        scorer.cutoffs = policy_cutoffs(scorer, split, settings.policy, settings.scale, valid_pd)
        scorer.meta["policy"] = settings.policy.model_dump(mode="json")
        seconds = time.perf_counter() - start
        cut = scorer.cutoffs
        rule = f"approve >= {cut.approve:g}, refer >= {cut.refer:g} ({settings.policy.describe()})"
        say(f"cut-offs: {rule}; {at_cutoff(cut, settings.scale)}")
        if settings.policy.approve.by == "bad_rate":  # only then are the validation rows' scores read again
            valid = scorer.predict_pd(split.X_valid) if valid_pd is None else valid_pd
            unsupported = bad_rate_support(settings.policy, cut, pd_to_score(valid, settings.scale), split.y("valid"))
        else:
            unsupported = None
        if unsupported:
            say(f"warning: {unsupported}")
            result.warnings = (*result.warnings, unsupported)
            ctx = replace(ctx, warnings=result.warnings)
        explained = " and its global explanations" if settings.pipeline.global_explanations else ""
        say(f"evaluating and logging the champion{explained}")
        register = name if settings.pipeline.register_champion else None
        spec = with_lending(
            _champion_spec(scorer, seconds, ctx, settings, register, bureau_run, champion_run),
            scorer,
            ttd,
            truth,
            inferred,
        )
        missing = rarely_missing(schema, X, settings.train.min_child_samples)
        result.unlearnt = tuple(missing_sentence(f, n, len(X)) for f, n in missing.items())
        spec = replace(spec, params={**spec.params, **chosen.params()}, limits=result.unlearnt)
        if settings.pipeline.global_explanations:
            config = settings.explanations.model_copy(update={"seed": settings.train.seed})
            spec = replace(spec, plots=global_explanation_plots(scorer, split.test, config))
        champion = evaluate_and_log(scorer, spec, replace(ctx, settings=settings))
        while pending:
            pending.pop(0).finish()
        result.models.insert(0, champion)
        result.global_explanations_logged = bool(spec.plots)
        result.registered_version = champion.registered_version
        if register and result.registered_version:
            set_alias(register, CHAMPION_ALIAS, result.registered_version)
        return result
    except BaseException:
        for baseline in pending:
            baseline.stop()
        raise


def train(
    data: str | Path,
    schema: str | Path | None = None,
    settings: TrainingSettings | None = None,
    *,
    progress: Progress | None = None,
    experiment: str | None = None,
) -> TrainResult:
    """Train on `data` (a .parquet/.csv file or a folder of them) described by `schema` (None: built-in synthetic).
    `experiment`: what `ready_to_train(settings)` returned, when the caller already asked it."""
    say = progress or (lambda _msg: None)
    spec = load_schema(schema)
    experiment = experiment or ready_to_train(settings or TrainingSettings(), spec)
    say(f"reading {data}")
    frame = load_training_table(data)
    return train_frame(frame, spec, settings, source=str(data), progress=progress, experiment=experiment)
