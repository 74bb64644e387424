"""The fairness stage of training, and fairness reports of registered models, logged to their MLflow runs."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from thinfile.features.schema import Schema
from thinfile.features.scratch import scratch_prefix
from thinfile.features.settings import project_root
from thinfile.features.table_hash import row_hashes
from thinfile.training import tracking
from thinfile.training.audit_groups import FairnessError
from thinfile.training.fairness.audit import (
    FairnessReport,
    PdModel,
    build_report,
    fairness_report,
    trained_rows_sentence,
)
from thinfile.training.fairness.mitigation import MITIGATED_FAMILY, fit_reweighed
from thinfile.training.fairness.report import write_report
from thinfile.training.global_explain import global_explanation_plots
from thinfile.training.pipeline import TrainResult, champion_shape, policy_cutoffs, scorer_metrics, scorer_params
from thinfile.training.promotion import VERDICT_TAG, report_verdict
from thinfile.training.registry import log_scorer, pinned_requirements, set_alias, training_rows
from thinfile.training.runlog import ModelSpec, RunContext, evaluate_and_log
from thinfile.training.scorecard import BUREAU_FAMILY, load_baseline
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import pd_to_score
from thinfile.training.settings import CHALLENGER_ALIAS, TrainingSettings

ARTIFACT_DIR = "fairness"
FAIR_PREFIX = "fair_"


def reports_dir() -> Path:
    return project_root() / "reports"


def log_report(report: FairnessReport, run_id: str, title: str = "thinfile fairness report") -> None:
    """Log the HTML and JSON under `fairness/` and the summary as `fair_*` metrics of run `run_id`."""
    client = MlflowClient(tracking.configure())
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("fairness")) as tmp:
        html, js = write_report(report, tmp, "fairness_report", title)
        client.log_artifact(run_id, str(html), ARTIFACT_DIR)
        client.log_artifact(run_id, str(js), ARTIFACT_DIR)
    now = int(time.time() * 1000)
    latest = audit_metrics(report.metrics(), client.get_run(run_id).data.metrics)
    metrics = [Metric(k, v, now, 0) for k, v in latest.items()]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])
    client.set_tag(run_id, VERDICT_TAG, report_verdict(report))


def audit_metrics(computed: dict[str, float], logged: Iterable[str]) -> dict[str, float]:
    """What an audit logs: its `fair_*` metrics, and NaN for each `fair_*` key an earlier audit of the run logged and
    this one did not compute (a group too small in it), so that the run's latest value of every key is this audit's
    (MLflow cannot delete a metric; `GET /model` shows NaN as null)."""
    stale = {key: float("nan") for key in logged if key.startswith(FAIR_PREFIX) and key not in computed}
    return {**computed, **stale}


def report_for_pd_model(
    model: PdModel,
    frame: pd.DataFrame,
    schema: Schema,
    settings: TrainingSettings,
    baseline: PdModel | None = None,
    name: str = "",
    cutoffs: Cutoffs | None = None,
) -> FairnessReport:
    """Audit any model that only gives PDs (e.g. a WoE scorecard): scores from the PDs on the same scale."""
    X = schema.to_matrix(frame)
    p = model.predict_pd(X)
    return build_report(
        frame,
        schema,
        p,
        pd_to_score(p, settings.scale),
        scale=settings.scale,
        cutoffs=cutoffs or settings.cutoffs,
        limits=settings.fairness,
        audit=settings.audit,
        baseline_pd=baseline.predict_pd(X) if baseline is not None else None,
        model={"family": name} if name else None,
    )


def bureau_baseline(run_id: str | None) -> PdModel | None:
    """The bureau-only scorecard tagged on a champion run, or None when there is none."""
    if not run_id:
        return None
    run = MlflowClient(tracking.configure()).get_run(run_id)
    base_run = run.data.tags.get(tracking.BUREAU_BASELINE_TAG)
    return load_baseline(base_run) if base_run else None


@dataclass(frozen=True)
class TrainingRowsFound:
    """How many of an audit's `rows` are rows the model was trained on (`found`), known by their content."""

    found: int
    rows: int

    @property
    def share(self) -> float:
        return self.found / self.rows if self.rows else 0.0

    @property
    def sentence(self) -> str:
        return trained_rows_sentence(self.found, self.rows)


def training_rows_in(frame: pd.DataFrame, scorer: Scorer, target: str) -> TrainingRowsFound | None:
    """The rows of `frame` (its outcome in column `target`) that the scorer's training run recorded as trained on;
    None when the run recorded none (trained before thinfile recorded them)."""
    trained = training_rows(str(scorer.meta.get("run_id") or ""))
    if trained is None:
        return None
    audited = row_hashes(scorer.schema.to_matrix(frame), frame[target].to_numpy(dtype=np.float64, na_value=np.nan))
    return TrainingRowsFound(int(np.isin(audited, trained).sum()), len(frame))


def trained_on_data(trained_table: bool, found: TrainingRowsFound | None, limit: float) -> dict[str, object]:
    """What the report's data says of the model's own training rows: `trained_on` when the table is the one its
    run read (`trained_table`) or more than `limit` of its rows are training rows; how many are, when known."""
    data: dict[str, object] = {}
    if trained_table or (found is not None and found.share > limit):
        data["trained_on"] = True
    if trained_table:
        data["trained_table"] = True
    if found is not None:
        data.update(training_rows=found.found, training_share=found.share)
    return data


def audit_scorer(
    scorer: Scorer,
    frame: pd.DataFrame,
    out_dir: str | Path | None = None,
    settings: TrainingSettings | None = None,
    *,
    log: bool = True,
    source: str = "",
    trained_on: dict[str, object] | None = None,
) -> tuple[FairnessReport, tuple[Path, Path]]:
    """Fairness report of a registered scorer on `frame`: written to `out_dir`, logged to the model's run.
    `trained_on`: what `trained_on_data` found of the model's own training rows in `frame`, which the report says
    first when they are too many."""
    settings = settings or TrainingSettings()
    run_id = str(scorer.meta.get("run_id") or "")
    baseline = bureau_baseline(run_id)
    report = fairness_report(
        scorer,
        frame,
        baseline=baseline,
        limits=settings.fairness,
        audit=settings.audit,
        data={**({"source": source} if source else {}), **(trained_on or {})} or None,
    )
    label = f"{scorer.meta.get('name', 'model')} v{scorer.meta.get('version', '?')}"
    title = f"Fairness report: {label}"
    stem = f"fairness_{scorer.meta.get('name', 'model')}_v{scorer.meta.get('version', 'x')}"
    paths = write_report(report, out_dir or reports_dir(), stem, title)
    if log and run_id:
        log_report(report, run_id, title)
    return report, paths


@dataclass
class FairnessStage:
    """What the fairness stage of training produced: reports and where they are."""

    reports: dict[str, FairnessReport] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    challenger_version: str | None = None

    def verdict(self, name: str) -> str:
        """pass / fail / incomplete for model `name`; incomplete when its audit could not run at all."""
        return self.reports[name].verdict if name in self.reports else "incomplete"

    def summary(self, attribute: str = "residence") -> pd.DataFrame:
        """One row per model: AUC and the fairness figures on `attribute`, the thin-file inclusion lift, the verdict
        and the attributes whose checks failed."""
        rows = []
        for name, r in self.reports.items():
            m = r.metrics()
            rows.append(
                {
                    "model": name,
                    "auc": m.get("fair_auc", np.nan),
                    "di_ratio": m.get(f"fair_di_ratio_{attribute}", np.nan),
                    "eo_diff": m.get(f"fair_eo_diff_{attribute}", np.nan),
                    "calib_gap": m.get(f"fair_calib_gap_{attribute}", np.nan),
                    "lift_thin_file": m.get("fair_inclusion_lift_thin_file", np.nan),
                    f"lift_{attribute}_worst": m.get(
                        f"fair_inclusion_lift_{attribute}_{r.attribute(attribute).worst_group}", np.nan
                    )
                    if any(a.name == attribute for a in r.attributes)
                    else np.nan,
                    "passed": r.passed,
                    "verdict": r.verdict,
                    "failing": ", ".join(dict.fromkeys(c.attribute for c in r.failures)),
                }
            )
        rows += [{"model": name, "passed": False, "verdict": "incomplete", "failing": ""} for name in self.errors]
        return pd.DataFrame(rows)


def _challenger_spec(
    scorer: Scorer,
    seconds: float,
    ctx: RunContext,
    settings: TrainingSettings,
    register_as: str | None,
    champion_run: str,
    bureau_run: str | None,
    rounds: list[float],
) -> ModelSpec:
    attr = scorer.meta.get("mitigation_attribute")
    tags = {"thinfile.champion_run": champion_run}
    if bureau_run:
        tags[tracking.BUREAU_BASELINE_TAG] = bureau_run
    return ModelSpec(
        family=MITIGATED_FAMILY,
        role="challenger",
        run_name="challenger",
        fit_seconds=seconds,
        title="Challenger: champion LightGBM refitted on reweighed rows",
        intended_use=(
            f"A fairness-mitigated alternative to the champion: training rows reweighed so that {attr} and "
            "the outcome are independent and repaid borrowers of less-approved groups count more. The "
            "protected attribute is not an input: scoring needs only the schema's model inputs."
        ),
        params={
            **scorer_params(settings.train, settings.scale, ctx.schema, MITIGATED_FAMILY),
            "mitigation": "reweighing",
            "mitigation_attribute": attr,
            "mitigation_rounds": settings.audit.mitigation_rounds,
            "mitigation_step": settings.audit.mitigation_step,
        },
        log_model=lambda: log_scorer(
            scorer,
            ctx.split.test,
            register_as=register_as,
            pip_requirements=pinned_requirements("lightgbm", "numba", "pyarrow"),
        ),
        explain=scorer.explain,
        shape=champion_shape(scorer, settings.train),
        metrics={**scorer_metrics(scorer), **{f"mitigation_eo_gap_round_{i + 1}": v for i, v in enumerate(rounds)}},
        tags=tags,
    )


def fairness_stage(
    result: TrainResult,
    settings: TrainingSettings | None = None,
    out_dir: str | Path | None = None,
    challenger: bool = True,
) -> FairnessStage:
    """After `pipeline.train_frame`: fairness reports for champion and baselines on the same test rows, and the
    mitigated challenger fitted on the same training rows.

    Each report is logged to its model's run (HTML, JSON, `fair_*` metrics) and written to `out_dir`
    (default reports/ under THINFILE_HOME).
    """
    settings = settings or TrainingSettings()
    if result.train_config is not None:  # the challenger is fitted with the champion's hyper-parameters
        settings = settings.model_copy(update={"train": result.train_config})
    out = Path(out_dir) if out_dir is not None else reports_dir()
    champion = result.champion
    scorer = champion.model
    assert isinstance(scorer, Scorer)
    split = result.split
    schema = split.schema
    bureau = result.baseline(BUREAU_FAMILY)
    base_model = bureau.model if bureau is not None else None
    stage = FairnessStage()

    def record(name: str, make: Callable[[], FairnessReport], run_id: str, title: str) -> None:
        stage.run_ids[name] = run_id
        try:
            report = make()
        except FairnessError as err:
            stage.errors[name] = str(err)
            MlflowClient(tracking.configure()).set_tag(run_id, VERDICT_TAG, "incomplete")
            return
        stage.reports[name] = report
        stage.files[name] = write_report(report, out, f"fairness_{name}", title)[0]
        log_report(report, run_id, title)

    record(
        "champion",
        lambda: fairness_report(
            scorer, split.test, baseline=base_model, limits=settings.fairness, audit=settings.audit
        ),
        champion.run_id,
        "Fairness report: champion",
    )
    for m in result.models:
        if m.role == "baseline":
            against = None if m.family == BUREAU_FAMILY else base_model
            record(
                m.family,
                partial(
                    report_for_pd_model,
                    m.model,
                    split.test,
                    schema,
                    settings,
                    against,
                    m.family,
                    policy_cutoffs(m.model, split, settings.policy, settings.scale),
                ),
                m.run_id,
                f"Fairness report: {m.family.replace('_', ' ')}",
            )
    if challenger and schema.protected_names:
        start = time.perf_counter()
        model, rw = fit_reweighed(
            split.train, split.valid, schema, settings.train, settings.scale, scorer.cutoffs, settings.audit
        )
        model.cutoffs = policy_cutoffs(model, split, settings.policy, settings.scale)
        model.meta["policy"] = settings.policy.model_dump(mode="json")
        seconds = time.perf_counter() - start
        ctx = RunContext(
            result.data,
            split,
            result.experiment_id,
            settings.scale,
            settings.evaluation.model_copy(update={"seed": settings.train.seed}),
            settings.stability,
            settings,
            result.warnings,
        )
        register = result.model_name if settings.pipeline.register_champion else None
        spec = _challenger_spec(
            model,
            seconds,
            ctx,
            settings,
            register,
            champion.run_id,
            bureau.run_id if bureau else None,
            rw.eo_gap_by_round,
        )
        config = settings.explanations.model_copy(update={"seed": settings.train.seed})
        spec = replace(spec, plots=global_explanation_plots(model, split.test, config))
        logged = evaluate_and_log(model, spec, ctx)
        record(
            "challenger",
            lambda: fairness_report(
                model, split.test, baseline=base_model, limits=settings.fairness, audit=settings.audit
            ),
            logged.run_id,
            "Fairness report: mitigated challenger",
        )
        stage.challenger_version = logged.registered_version
        if register and stage.challenger_version:
            set_alias(register, CHALLENGER_ALIAS, stage.challenger_version)
    return stage
