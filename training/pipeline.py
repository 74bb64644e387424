"""`thinfile train`: any table + its schema -> checked, split, champion and baselines fitted, evaluated, logged."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from thinfile.config import CHAMPION_ALIAS, MODEL_NAME, Settings, default_data_dir
from thinfile.features.schema import Schema, load_schema
from thinfile.features.validate import validate_table
from thinfile.training import plots, tracking
from thinfile.training.champion import fit_champion
from thinfile.training.evaluate import Evaluation, evaluate
from thinfile.training.registry import log_scorer
from thinfile.training.score import pd_to_score
from thinfile.training.scorecard import (
    ALL_INPUTS_FAMILY,
    BUREAU_FAMILY,
    WoeScorecard,
    fit_all_inputs_scorecard,
    fit_bureau_scorecard,
)
from thinfile.training.scorer import Scorer
from thinfile.training.split import Split, split_frame

CHAMPION_FAMILY = "lightgbm"
GLOBAL_EXPLAIN_MODULE = "thinfile.training.global_explain"
TARGET_REASON = "is missing or not an outcome (0 = repaid, 1 = defaulted)"
Progress = Callable[[str], None]


class TrainingDataError(ValueError):
    """The table cannot be trained on as given; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class PreparedData:
    """Rows that conform to the schema (typed), the rows set aside and why, and the table's hash."""

    frame: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    data_hash: str
    source: str


@dataclass
class ModelResult:
    family: str
    role: str
    run_id: str
    model: Scorer | WoeScorecard
    evaluation: Evaluation
    metrics: dict[str, float]


@dataclass
class TrainResult:
    """Everything one `train` produced; `models` holds the champion first, then the baselines."""

    experiment_id: str
    data: PreparedData
    split: dict[str, int]
    split_method: str
    models: list[ModelResult] = field(default_factory=list)
    registered_version: str | None = None
    global_explanations_logged: bool = False

    @property
    def champion(self) -> ModelResult:
        return next(m for m in self.models if m.role == "champion")

    def baseline(self, family: str) -> ModelResult | None:
        return next((m for m in self.models if m.family == family), None)

    def comparison(self, metrics: tuple[str, ...] = ("auc", "oracle_gap", "ks", "ece", "brier", "auc_thin_file",
                                                      "psi_score", "explain_rows_per_s")) -> pd.DataFrame:
        """One row per model, the same metric columns for each (what the MLflow UI compares)."""
        rows = [{"model": m.family, "role": m.role, "run_id": m.run_id,
                 **{k: m.metrics.get(k, np.nan) for k in metrics}} for m in self.models]
        return pd.DataFrame(rows)


# ---------------------------------------------------------------- reading and checking


def load_training_table(data: str | Path) -> pd.DataFrame:
    from thinfile.features.io import TableReadError, read_table

    try:
        return read_table(data)
    except TableReadError as err:
        raise TrainingDataError(str(err)) from None


def prepare(frame: pd.DataFrame, schema: Schema, settings: Settings, source: str = "<frame>") -> PreparedData:
    """Validate against the schema (target required); fail clearly on table errors or too many bad rows."""
    report = validate_table(frame, schema, require_target=True)
    if report.table_errors:
        lines = [f"{source} does not match schema {schema.name!r}:"] + [f"  - {e}" for e in report.table_errors]
        if report.unknown_columns:
            shown = ", ".join(report.unknown_columns[:12]) + (" ..." if len(report.unknown_columns) > 12 else "")
            lines.append(f"  columns the schema does not name: {shown}")
        lines.append("  give the schema file that describes this table with --schema, or rename the columns")
        raise TrainingDataError("\n".join(lines))
    clean = report.clean
    target, target_bad = _target(frame.reset_index(drop=True)[schema.target])
    clean[schema.target] = target
    rejects = _rejects(report, clean, schema, target_bad)
    pcfg = settings.pipeline
    if len(clean) and len(rejects) / len(clean) > pcfg.max_reject_share:
        examples = "\n".join(f"  - row {r.row} (id {r.id}): {r.reason}" for r in rejects.head(5).itertuples())
        raise TrainingDataError(
            f"{source}: {len(rejects):,} of {len(clean):,} rows ({len(rejects) / len(clean):.1%}) break schema "
            f"{schema.name!r}, more than the {pcfg.max_reject_share:.0%} allowed; for example:\n{examples}\n"
            "  check that the schema file describes this table (types, ranges, categories), or fix the data"
        )
    keep = np.ones(len(clean), dtype=bool)
    keep[rejects["row"].to_numpy(dtype=np.int64)] = False
    kept = clean.loc[keep].reset_index(drop=True)
    kept[schema.target] = kept[schema.target].astype(np.int8)
    _check_trainable(kept, schema, settings, source)
    return PreparedData(kept, rejects, len(frame), tracking.data_hash(frame), source)


def _target(raw: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The outcome as 0/1 floats, and a mask of rows whose outcome is missing or not 0/1."""
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        text = raw.astype(str).str.strip().str.lower()
        mapped = text.map({"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0})
        values = mapped.where(raw.notna())
    else:
        values = pd.to_numeric(raw.astype("float64") if raw.dtype == bool else raw, errors="coerce").astype(np.float64)
    bad = ~values.isin([0.0, 1.0]).to_numpy()
    return values, bad


def _rejects(report, clean: pd.DataFrame, schema: Schema, target_bad: np.ndarray) -> pd.DataFrame:
    found = report.rejects()
    if target_bad.any():
        rows = np.flatnonzero(target_bad)
        extra = pd.DataFrame({"row": rows, "id": clean[schema.id_column].to_numpy()[rows].astype(str),
                              "columns": schema.target, "reason": f"{schema.target}: {TARGET_REASON}"})
        found = pd.concat([found, extra], ignore_index=True)
        found = found.groupby("row", as_index=False, sort=True).agg(
            {"id": "first", "columns": ",".join, "reason": "; ".join})
    return found.reset_index(drop=True)


def _check_trainable(frame: pd.DataFrame, schema: Schema, settings: Settings, source: str) -> None:
    pcfg = settings.pipeline
    counts = frame[schema.target].value_counts()
    bads, goods = int(counts.get(1, 0)), int(counts.get(0, 0))
    if len(frame) < pcfg.min_rows:
        raise TrainingDataError(f"{source}: {len(frame):,} usable rows; at least {pcfg.min_rows:,} are needed to train")
    if min(bads, goods) < pcfg.min_class_rows:
        raise TrainingDataError(
            f"{source}: {bads:,} defaults and {goods:,} repayments in {schema.target!r}; at least "
            f"{pcfg.min_class_rows} of each are needed to train and test"
        )


# ---------------------------------------------------------------- fitting, evaluating, logging


def _groups(frame: pd.DataFrame, schema: Schema) -> dict[str, np.ndarray]:
    return {a: frame[a].astype(str).to_numpy() for a in schema.protected_names if a in frame.columns}


def _oracle(frame: pd.DataFrame, schema: Schema) -> np.ndarray | None:
    if schema.oracle_column and schema.oracle_column in frame.columns:
        return frame[schema.oracle_column].to_numpy(dtype=np.float64)
    return None


def _figures(split: Split, schema: Schema, settings: Settings, p: np.ndarray, evaluation: Evaluation, label: str):
    test = split.test
    rows = min(len(test), settings.pipeline.plot_rows)
    idx = np.sort(np.random.default_rng(settings.train.seed).permutation(len(test))[:rows])
    sample = test.iloc[idx]
    oracle = _oracle(sample, schema)
    return plots.evaluation_figures(
        sample[schema.target].to_numpy(), p[idx], pd_to_score(p[idx], settings.scale), evaluation.calibration,
        settings.scale, _groups(sample, schema), label, oracle,
    )


def _data_facts(prepared: PreparedData, schema: Schema, split: Split) -> dict[str, object]:
    return {
        "source": prepared.source,
        "rows_read": f"{prepared.rows_read:,}",
        "rows_rejected": f"{len(prepared.rejects):,}",
        "data_hash": prepared.data_hash,
        "schema": f"{schema.name} v{schema.version} ({schema.fingerprint})",
        "split": f"{split.method}: " + ", ".join(f"{k.removesuffix('_rows')} {v:,}" for k, v in split.sizes().items()),
        "default_rate": f"{split.train[schema.target].mean():.2%} (train)",
    }


def _common_tags(prepared: PreparedData, schema: Schema, split: Split, family: str, role: str) -> dict[str, str]:
    return {
        "thinfile.model_family": family,
        "thinfile.role": role,
        "thinfile.data_hash": prepared.data_hash,
        "thinfile.data_source": prepared.source,
        "thinfile.schema_name": schema.name,
        "thinfile.schema_fingerprint": schema.fingerprint,
        "thinfile.git_commit": tracking.git_commit(),
        "thinfile.split_method": split.method,
    }


LIMITS = [
    "Trained on the table named under Data; scores are only meaningful for applicants like those in it.",
    "Protected attributes are not inputs, but other inputs may stand in for them: read the fairness report.",
    "Synthetic default outcomes (the built-in population) are not evidence about any real population.",
    "Monitor PSI of the score and inputs; retrain when it passes 0.25.",
]


def _log_scorecard(sc: WoeScorecard, role: str, split: Split, prepared: PreparedData, schema: Schema,
                   settings: Settings, experiment: str, fit_seconds: float) -> ModelResult:
    p_test, p_train = sc.predict_pd(split.test), sc.predict_pd(split.train)
    ev = evaluate(p_test, split.test, schema, settings.scale, pd_train=p_train,
                  cutoffs=settings.pipeline.eval_cutoffs, bins=settings.pipeline.calibration_bins)
    metrics = dict(ev.metrics)
    metrics["predict_rows_per_s"] = tracking.rows_per_second(sc.predict_pd, split.test, settings.pipeline.timing_rows)
    metrics["explain_rows_per_s"] = tracking.rows_per_second(sc.contributions, split.test, settings.pipeline.timing_rows)
    metrics["fit_seconds"] = fit_seconds
    metrics.update({k: float(v) for k, v in split.sizes().items()})
    what = "bureau-record features only" if sc.family == BUREAU_FAMILY else "every model input"
    card = tracking.model_card(
        title=f"Baseline: WoE logistic scorecard on {what}", family=sc.family, role=role,
        data=_data_facts(prepared, schema, split), metrics=metrics, shape=None,
        intended_use=("A reference point, not for decisions: what a lender without alternative data would "
                      "score." if sc.family == BUREAU_FAMILY else
                      "An interpretable challenger: one points table per input (optbinning bins, WoE, logistic)."),
        limits=LIMITS,
    )
    figures = _figures(split, schema, settings, p_test, ev, sc.family)
    params = {"model_family": sc.family, "features": len(sc.features), "feature_list": ",".join(sc.features),
              "binning": "optbinning BinningProcess (monotone trends from schema)", "estimator": "LogisticRegression(C=1.0)",
              "seed": settings.train.seed}
    try:
        run_id, _ = tracking.log_model_run(
            experiment=experiment, run_name=sc.family, params=params, metrics=metrics,
            tags=_common_tags(prepared, schema, split, sc.family, role), evaluation=ev, figures=figures, card=card,
            log_model=lambda: tracking.log_scorecard_model(sc, split.test),
            extra_tables={"binning_table.csv": sc.binning_table()},
        )
    finally:
        plots.close(figures)
    return ModelResult(sc.family, role, run_id, sc, ev, metrics)


def _log_champion(scorer: Scorer, split: Split, prepared: PreparedData, schema: Schema, settings: Settings,
                  experiment: str, fit_seconds: float, bureau_run: str | None) -> tuple[ModelResult, str | None]:
    X_test, X_train = schema.to_matrix(split.test), schema.to_matrix(split.train)
    p_test, p_train = scorer.predict_pd(X_test), scorer.predict_pd(X_train)
    ev = evaluate(p_test, split.test, schema, settings.scale, pd_train=p_train,
                  cutoffs=settings.pipeline.eval_cutoffs, bins=settings.pipeline.calibration_bins)
    metrics = dict(ev.metrics)
    metrics["predict_rows_per_s"] = tracking.rows_per_second(scorer.predict_pd, split.test, settings.pipeline.timing_rows)
    metrics["explain_rows_per_s"] = tracking.rows_per_second(scorer.explain, split.test,
                                                             settings.pipeline.explain_timing_rows)
    metrics["fit_seconds"] = fit_seconds
    metrics["best_iteration"] = float(scorer.booster.best_iteration or scorer.booster.num_trees())
    metrics["calibration_slope"], metrics["calibration_intercept"] = map(float, scorer.calibration)
    metrics["rows_rejected"] = float(len(prepared.rejects))
    metrics.update({k: float(v) for k, v in split.sizes().items()})
    cfg = settings.train
    shape = {
        "trees": int(metrics["best_iteration"]),
        "leaves_per_tree": cfg.num_leaves,
        "max_depth": cfg.max_depth,
        "monotone_constraints": "from the schema (higher-is-better features can only raise the score)",
        "explanations": f"{metrics['explain_rows_per_s']:,.0f} rows/s (exact TreeSHAP) against "
                        f"{metrics['predict_rows_per_s']:,.0f} rows/s for a plain prediction",
        "trade": "a shallow, small-leaf forest (chosen in bench/train_shape.py) gives up at most ~0.002 AUC "
                 "against unconstrained LightGBM and makes per-applicant reason codes several times cheaper",
        "calibration": ("Platt scaling on validation (kept because it lowered log loss)" if scorer.calibration != (1.0, 0.0)
                        else "none (Platt scaling did not lower validation log loss)"),
    }
    card = tracking.model_card(
        title="Champion: monotone LightGBM scorer (350-950)", family=CHAMPION_FAMILY, role="champion",
        data=_data_facts(prepared, schema, split), metrics=metrics, shape=shape,
        intended_use=("Scores applicants, thin-file included, from the schema's model inputs; every score comes "
                      "with points per feature and up to four reasons. Decisions at the configured cut-offs "
                      f"(approve >= {settings.cutoffs.approve:g}, refer >= {settings.cutoffs.refer:g})."),
        limits=LIMITS,
    )
    figures = _figures(split, schema, settings, p_test, ev, "champion (LightGBM)")
    params = {**{f"train.{k}": v for k, v in cfg.model_dump().items()}, "model_family": CHAMPION_FAMILY,
              "features": len(schema.feature_names), "scale.base_score": settings.scale.base_score,
              "scale.base_odds": settings.scale.base_odds, "scale.pdo": settings.scale.pdo}
    tags = _common_tags(prepared, schema, split, CHAMPION_FAMILY, "champion")
    if bureau_run:
        tags[tracking.BUREAU_BASELINE_TAG] = bureau_run
    register = MODEL_NAME if settings.pipeline.register_champion else None
    extra = {"rejects.csv": prepared.rejects} if len(prepared.rejects) else {}
    try:
        run_id, info = tracking.log_model_run(
            experiment=experiment, run_name="champion", params=params, metrics=metrics, tags=tags, evaluation=ev,
            figures=figures, card=card, extra_tables=extra,
            log_model=lambda: log_scorer(scorer, split.test, register_as=register, alias=CHAMPION_ALIAS,
                                         pip_requirements=tracking.pip_requirements("lightgbm", "shap")),
        )
    finally:
        plots.close(figures)
    version = getattr(info, "registered_model_version", None)
    return ModelResult(CHAMPION_FAMILY, "champion", run_id, scorer, ev, metrics), (str(version) if version else None)


def log_global_explanations_hook(scorer: Scorer, frame: pd.DataFrame, run_id: str,
                                 settings: Settings | None = None) -> bool:
    """Global-explanation plots for the champion run, when the fairness area's module is installed."""
    try:
        module = importlib.import_module(GLOBAL_EXPLAIN_MODULE)
    except ModuleNotFoundError as err:
        if err.name == GLOBAL_EXPLAIN_MODULE:
            return False
        raise
    module.log_global_explanations(scorer, frame, run_id, settings=settings)
    return True


def train_frame(
    frame: pd.DataFrame, schema: Schema, settings: Settings | None = None, *, source: str = "<frame>",
    progress: Progress | None = None,
) -> TrainResult:
    """Check, split, fit champion and baselines, evaluate each the same way, log each as an MLflow run."""
    settings = settings or Settings()
    say = progress or (lambda _msg: None)
    say(f"checking {len(frame):,} rows against schema {schema.name!r}")
    prepared = prepare(frame, schema, settings, source)
    split = split_frame(prepared.frame, schema, settings.train)
    experiment = tracking.experiment_id()
    result = TrainResult(experiment, prepared, split.sizes(), split.method)

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
            res = _log_scorecard(sc, "baseline", split, prepared, schema, settings, experiment, seconds)
            result.models.append(res)
            if family == BUREAU_FAMILY:
                bureau_run = res.run_id

    if settings.train.tune:
        from thinfile.training.tuning import tune_config

        say(f"searching hyper-parameters ({settings.train.tune_trials} trials on the validation split)")
        tuned, loss = tune_config(split.train, split.valid, schema, settings.train)
        settings = settings.model_copy(update={"train": tuned})
        say(f"best of the search: validation log loss {loss:.5f} with {tuned.num_leaves} leaves, depth "
            f"{tuned.max_depth}, learning rate {tuned.learning_rate:.3f}")
    say(f"fitting the champion on {len(split.train):,} rows")
    start = time.perf_counter()
    scorer = fit_champion(split.train, split.valid, schema, settings.train, settings)
    seconds = time.perf_counter() - start
    say("evaluating and logging the champion")
    champion, version = _log_champion(scorer, split, prepared, schema, settings, experiment, seconds, bureau_run)
    result.models.insert(0, champion)
    result.registered_version = version
    if settings.pipeline.global_explanations:
        say("logging global explanations of the champion")
        result.global_explanations_logged = log_global_explanations_hook(scorer, split.test, champion.run_id,
                                                                       settings)
    return result


def default_population() -> Path:
    return default_data_dir() / "population"


def train(
    data: str | Path | None = None,
    schema: str | Path | None = None,
    settings: Settings | None = None,
    rows_if_generating: int = 200_000,
    *,
    progress: Progress | None = None,
) -> TrainResult:
    """Train on `data` (file or folder) described by `schema` (file; None: built-in synthetic).

    With no data: the default population under data/synthetic/population/ if it exists, else
    `rows_if_generating` freshly generated synthetic rows (seeded by the training seed).
    """
    settings = settings or Settings()
    say = progress or (lambda _msg: None)
    spec = load_schema(schema)
    if data is None:
        if default_population().exists():
            data = default_population()
        elif schema is not None and str(schema) != "synthetic":
            raise TrainingDataError("a custom --schema needs its table: give --data (a .parquet/.csv file or folder)")
        else:
            from thinfile.features.generator import generate_frame

            say(f"no table given and no {default_population()}: generating {rows_if_generating:,} synthetic rows")
            frame = generate_frame(spec, settings.generator, rows=rows_if_generating, seed=settings.train.seed)
            return train_frame(frame, spec, settings, source=f"generated synthetic ({rows_if_generating:,} rows, "
                               f"seed {settings.train.seed})", progress=progress)
    say(f"reading {data}")
    frame = load_training_table(data)
    return train_frame(frame, spec, settings, source=str(data), progress=progress)
