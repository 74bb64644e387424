"""One evaluate-and-log path for every model a training job produces: champion, baselines and challenger."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import signal
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset import Dataset
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset

from thinfile.features.infer import borrowers_seen
from thinfile.features.lifetime import signals_held
from thinfile.features.schema import Schema, protected_values
from thinfile.features.scratch import scratch_prefix
from thinfile.features.table_hash import row_hashes
from thinfile.training import plots, tracking
from thinfile.training.data import PreparedData
from thinfile.training.evaluate import Evaluation, evaluate
from thinfile.training.registry import TRAINING_ROWS_FILE, input_signature
from thinfile.training.reporting.drawing import Drawing, Plots
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale, pd_to_score
from thinfile.training.settings import EvaluationConfig, StabilityLimits, TrainingSettings
from thinfile.training.split import Split, borrowers_across


class PdModel(Protocol):
    def predict_pd(self, X: np.ndarray) -> np.ndarray: ...


SETTINGS_FILE = "settings.json"
RUN_STOPPED = "the train was stopped before this run's plots and files were logged"
SETTINGS_TAG = "thinfile.settings_sha256"
"""the SHA-256 of the run's settings.json as written (UTF-8), to find the runs trained with the same settings"""


@dataclass(frozen=True)
class RunContext:
    """What every run of one training job shares: its data, its one split, the experiment and the scale."""

    prepared: PreparedData
    split: Split
    experiment: str
    scale: ScoreScale
    evaluation: EvaluationConfig
    stability: StabilityLimits
    settings: TrainingSettings
    """the settings the run's model was fitted and checked with (the champion's: its chosen hyper-parameters)"""
    warnings: tuple[str, ...] = ()
    """what the job warned of about its table or split, first on every model card"""
    tags: Mapping[str, str] = field(default_factory=dict)
    """the caller's tags on every run of the job, set as each run opens (a lending loop's: which loop and method)"""

    @property
    def schema(self) -> Schema:
        return self.split.schema

    @cached_property
    def training_rows(self) -> np.ndarray:
        """The row hashes (`row_hashes` over the model inputs and the outcome) of the rows the job's models learn
        from, its training and validation rows, each once: what `thinfile fairness --all-rows` knows them by."""
        split = self.split
        parts = [row_hashes(split.X_train, split.y("train")), row_hashes(split.X_valid, split.y("valid"))]
        hashes = np.sort(np.concatenate(parts))
        return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]  # np.unique: ten times as long here


@dataclass(frozen=True)
class ModelSpec:
    """What differs between the models of one job: names, words, parameters and how the model is logged."""

    family: str
    role: str
    title: str
    intended_use: str
    params: dict[str, object]
    log_model: Callable[[], object]
    explain: Callable[[np.ndarray], object]
    fit_seconds: float
    shape: Callable[[dict[str, float]], dict[str, object]] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_name: str | None = None
    plots: tuple[Plots, ...] = ()  # more plots logged in the run (the champion's global explanations)
    policy: Cutoffs | None = None
    """the lending policy's cut-offs the model was trained for: its approval and bad rate there are evaluated too"""
    limits: tuple[str, ...] = ()
    """this model's own limits, after the job's in its model card"""


@dataclass
class ModelResult:
    family: str
    role: str
    run_id: str
    model: PdModel
    evaluation: Evaluation
    metrics: dict[str, float]
    logged: object = None
    run_name: str = ""
    """the MLflow run's name (champion, bureau_scorecard, ...), by which the console and the UI name the model"""

    @property
    def registered_version(self) -> str | None:
        version = getattr(self.logged, "registered_model_version", None)
        return str(version) if version is not None else None


def limits_text(stability: StabilityLimits, synthetic: bool) -> list[str]:
    """The model card's limits; `synthetic`: trained on a synthetic world (its schema names a true probability)."""
    return [
        "Trained on the table named under Data; scores are only meaningful for applicants like those in it.",
        "Protected attributes are not inputs, but other inputs may stand in for them: read the fairness report.",
        *(
            ["Synthetic default outcomes (the built-in population) are not evidence about any real population."]
            if synthetic
            else []
        ),
        f"Monitor PSI of the score and inputs; retrain when it passes {stability.shift:g}.",
    ]


def data_facts(ctx: RunContext) -> dict[str, object]:
    prepared, split, schema = ctx.prepared, ctx.split, ctx.schema
    facts: dict[str, object] = {
        "source": prepared.source,
        "rows_read": f"{prepared.rows_read:,}",
        "rows_rejected": f"{len(prepared.rejects):,}",
        "data_hash": prepared.data_hash,
        "schema": f"{schema.name} v{schema.version} ({schema.fingerprint})",
        "split": f"{split.method}: " + ", ".join(f"{k.removesuffix('_rows')} {v:,}" for k, v in split.sizes().items()),
        "default_rate": f"{split.y('train').mean():.2%} (train)",
    }
    if schema.borrower_column:
        facts["borrowers"] = f"{schema.borrower_column}: {borrowers_seen(split.frame[schema.borrower_column])}"
        across = borrowers_across(split)
        if across:
            facts["borrowers_in_both"] = across
    return facts


def common_tags(ctx: RunContext, family: str, role: str) -> dict[str, str]:
    return {
        "thinfile.model_family": family,
        "thinfile.role": role,
        "thinfile.data_hash": ctx.prepared.data_hash,
        "thinfile.data_source": ctx.prepared.source,
        "thinfile.schema_name": ctx.schema.name,
        "thinfile.schema_fingerprint": ctx.schema.fingerprint,
        "thinfile.git_commit": tracking.git_commit(),
        "thinfile.split_method": ctx.split.method,
        **ctx.tags,
    }


def datasets(ctx: RunContext) -> list[tuple[Dataset, str, dict[str, str]]]:
    """The job's training and test rows as MLflow datasets: the table's source, a digest of the rows each part
    holds (table hash, split method, seed, part), and the schema's model inputs; metadata only, no copy."""
    source = ctx.prepared.source
    uri = Path(source).resolve().as_uri() if Path(source).exists() else f"thinfile:{source}"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        resolved = resolve_dataset_source(uri) if uri.startswith("file:") else CodeDatasetSource({"source": source})
    schema = input_signature(ctx.schema)
    out: list[tuple[Dataset, str, dict[str, str]]] = []
    for part, context in (("train", "training"), ("test", "testing")):
        rows = ctx.split.sizes()[f"{part}_rows"]
        key = f"{ctx.prepared.data_hash}:{ctx.split.method}:{ctx.evaluation.seed}:{part}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        name = f"{ctx.schema.name}-{part}"
        dataset = MetaDataset(resolved, name=name, digest=digest, schema=schema)  # type: ignore[abstract]
        out.append((dataset, context, {"rows": str(rows)}))
    return out


def _figures(ctx: RunContext, p: np.ndarray, evaluation: Evaluation, label: str) -> dict[str, Figure]:
    test, schema = ctx.split.test, ctx.schema
    rows = min(len(test), ctx.evaluation.plot_rows)
    idx = np.sort(np.random.default_rng(ctx.evaluation.seed).permutation(len(test))[:rows])
    wanted = [schema.target, schema.oracle_column, *schema.protected_names]
    sample = test[[c for c in dict.fromkeys(wanted) if c and c in test.columns]].iloc[idx]
    oracle = None
    if schema.oracle_column and schema.oracle_column in sample.columns:
        oracle = sample[schema.oracle_column].to_numpy(dtype=np.float64)
    names = schema.group_names
    groups = {a: protected_values(sample[a], names.get(a)) for a in schema.protected_names if a in sample.columns}
    return plots.evaluation_figures(
        sample[schema.target].to_numpy(),
        p[idx],
        pd_to_score(p[idx], ctx.scale),
        evaluation.calibration,
        ctx.scale,
        groups,
        label,
        oracle,
    )


def _sample(X: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Up to `rows` rows of `X`, drawn without replacement (seeded), in their original order."""
    if len(X) <= rows:
        return X
    return X[np.sort(np.random.default_rng(seed).choice(len(X), rows, replace=False))]


def _timings(model: PdModel, spec: ModelSpec, ctx: RunContext) -> dict[str, float]:
    """Rows per second predicted and explained (timed before any drawing process starts)."""
    X, cfg = ctx.split.X_test, ctx.evaluation
    return {
        "predict_rows_per_s": tracking.rows_per_second(model.predict_pd, X, cfg.timing_rows),
        "explain_rows_per_s": tracking.rows_per_second(spec.explain, X, cfg.explain_timing_rows),
    }


def _evaluate(
    model: PdModel, spec: ModelSpec, ctx: RunContext, timings: dict[str, float]
) -> tuple[np.ndarray, Evaluation, dict[str, float], str]:
    """The model's PDs of the test rows, its evaluation, its metrics and its model card."""
    split, cfg = ctx.split, ctx.evaluation
    p_test, p_train = model.predict_pd(split.X_test), model.predict_pd(_sample(split.X_train, cfg.psi_rows, cfg.seed))
    ev = evaluate(
        p_test,
        split.test,
        ctx.schema,
        ctx.scale,
        pd_train=p_train,
        cutoffs=cfg.eval_cutoffs,
        bins=cfg.calibration_bins,
        group_min_class_rows=cfg.group_auc_min_class_rows,
        policy=spec.policy,
    )
    metrics = {**ev.metrics, **timings, "fit_seconds": spec.fit_seconds}
    metrics.update({k: float(v) for k, v in split.sizes().items()})
    metrics.update(spec.metrics)
    card = tracking.model_card(
        title=spec.title,
        family=spec.family,
        role=spec.role,
        data=data_facts(ctx),
        metrics=metrics,
        shape=spec.shape(metrics) if spec.shape else None,
        intended_use=spec.intended_use,
        limits=[*limits_text(ctx.stability, synthetic=bool(ctx.schema.oracle_column)), *spec.limits],
        warnings=list(ctx.warnings),
    )
    return p_test, ev, metrics, card


@dataclass
class PendingRun:
    """A model's run, logged but for its files while its plots are drawn: `finish()` logs them and returns the
    result; `stop()` gives them up (the caller failed)."""

    result: ModelResult
    drawing: Drawing
    files_logged: bool = False

    def finish(self) -> ModelResult:
        try:
            if not self.files_logged:
                tracking.log_run_files(self.result.run_id, self.drawing)
                self.files_logged = True
        finally:
            self.stop()  # once the files are logged, only their folder is left to remove
        return self.result

    def stop(self) -> None:
        """Give the files up (the caller failed or was stopped); a run left without them is marked KILLED, not
        FINISHED, where the store still answers (the caller's own error is the one to report)."""
        try:
            self.drawing.stop()
        finally:
            shutil.rmtree(self.drawing.root, ignore_errors=True)
            if not self.files_logged:
                with contextlib.suppress(Exception):
                    tracking.mark_killed(self.result.run_id, RUN_STOPPED)


def _start_drawing(drawing: Drawing, groups: tuple[Plots, ...]) -> None:
    """Fork the drawing processes with Ctrl-C and SIGTERM held until every one is started and known to `drawing`
    (then raised). Arriving during a fork, the signal would run its handler in the fork's own callbacks, which
    swallow the KeyboardInterrupt (the train went on as if no Ctrl-C had come), or between a fork and its
    bookkeeping, leaving a drawing process `stop()` does not know."""
    with signals_held(signal.SIGINT, signal.SIGTERM):
        drawing.start(groups)


def start_evaluate_and_log(model: PdModel, spec: ModelSpec, ctx: RunContext, files_now: bool = False) -> PendingRun:
    """Evaluate `model` on the test rows (metrics, calibration, cut-offs, timings) and log it as one MLflow run; the
    spec's own plots are drawn meanwhile, the evaluation's once it is known. Unless `files_now`, returns without
    waiting for them: the caller goes on with its own work and `finish()`es the run later."""
    timings = _timings(model, spec, ctx)
    settings = ctx.settings.training_json().encode()
    with signals_held(signal.SIGINT, signal.SIGTERM):  # the folder is made and its drawing started whole, or not
        folder = Path(tempfile.mkdtemp(prefix=scratch_prefix("run")))
        drawing = Drawing(folder, timeout_s=ctx.evaluation.plot_timeout_s)
    try:
        (folder / SETTINGS_FILE).write_bytes(settings)
        _start_drawing(drawing, spec.plots)  # they need no evaluation
        p_test, ev, metrics, card = _evaluate(model, spec, ctx, timings)
        _start_drawing(drawing, (Plots("plots", lambda: _figures(ctx, p_test, ev, spec.family)),))
        np.save(folder / TRAINING_ROWS_FILE, ctx.training_rows, allow_pickle=False)  # hashed while they draw
        run_id, logged = tracking.log_model_run(
            experiment=ctx.experiment,
            run_name=spec.run_name or spec.family,
            params=spec.params,
            metrics=metrics,
            tags={
                **common_tags(ctx, spec.family, spec.role),
                SETTINGS_TAG: hashlib.sha256(settings).hexdigest(),
                **spec.tags,
            },
            evaluation=ev,
            drawing=drawing,
            card=card,
            log_model=spec.log_model,
            extra_tables=spec.tables,
            datasets=datasets(ctx),
            files_now=files_now,
        )
    except BaseException:
        try:
            drawing.stop()
        finally:  # a second Ctrl-C while the drawing stops still leaves no folder
            shutil.rmtree(folder, ignore_errors=True)
        raise
    result = ModelResult(spec.family, spec.role, run_id, model, ev, metrics, logged, spec.run_name or spec.family)
    return PendingRun(result, drawing, files_now)


def evaluate_and_log(model: PdModel, spec: ModelSpec, ctx: RunContext) -> ModelResult:
    """`start_evaluate_and_log`, its files logged before its run ends."""
    return start_evaluate_and_log(model, spec, ctx, files_now=True).finish()
