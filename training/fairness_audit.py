"""Fairness reports for registered models: write, log to the model's MLflow run, and the challenger stage."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from thinfile.config import CHALLENGER_ALIAS, MODEL_NAME, Settings, project_root
from thinfile.features.schema import Schema
from thinfile.training import tracking
from thinfile.training.evaluate import evaluate
from thinfile.training.fairness import FairnessReport, PdModel, build_report, fairness_report
from thinfile.training.fairness_html import render_html
from thinfile.training.mitigation import MITIGATED_FAMILY, fit_reweighed
from thinfile.training.registry import load_scorer, log_scorer
from thinfile.training.score import pd_to_score
from thinfile.training.scorer import Scorer
from thinfile.training.split import split_frame

ARTIFACT_DIR = "fairness"
HTML_FILE = "fairness_report.html"
JSON_FILE = "fairness_report.json"


def reports_dir() -> Path:
    return project_root() / "reports"


def write_report(report: FairnessReport, out_dir: str | Path, stem: str = "fairness_report",
                 title: str = "thinfile fairness report") -> tuple[Path, Path]:
    """Write `<stem>.html` and `<stem>.json` to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html, js = out / f"{stem}.html", out / f"{stem}.json"
    html.write_text(render_html(report, title), encoding="utf-8")
    js.write_text(report.to_json(), encoding="utf-8")
    return html, js


def log_report(report: FairnessReport, run_id: str, title: str = "thinfile fairness report") -> None:
    """Log the HTML and JSON under `fairness/` and the summary as `fair_*` metrics of run `run_id`."""
    client = MlflowClient(tracking.configure())
    with tempfile.TemporaryDirectory() as tmp:
        html, js = write_report(report, tmp, "fairness_report", title)
        client.log_artifact(run_id, str(html), ARTIFACT_DIR)
        client.log_artifact(run_id, str(js), ARTIFACT_DIR)
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in report.metrics().items()]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i: i + 500])


def report_for_pd_model(model: PdModel, frame: pd.DataFrame, schema: Schema, settings: Settings,
                        baseline: PdModel | None = None, name: str = "") -> FairnessReport:
    """Audit any model that only gives PDs (e.g. a WoE scorecard): scores from the PDs on the same scale."""
    p = model.predict_pd(frame)
    return build_report(frame, schema, p, pd_to_score(p, settings.scale), scale=settings.scale,
                        cutoffs=settings.cutoffs, settings=settings,
                        baseline_pd=baseline.predict_pd(frame) if baseline is not None else None,
                        model={"family": name} if name else None)


def bureau_baseline(run_id: str | None) -> PdModel | None:
    """The bureau-only scorecard tagged on a champion run, or None when there is none."""
    if not run_id:
        return None
    from thinfile.training.scorecard import load_baseline

    run = MlflowClient(tracking.configure()).get_run(run_id)
    base_run = run.data.tags.get(tracking.BUREAU_BASELINE_TAG)
    return load_baseline(base_run) if base_run else None


def holdout(frame: pd.DataFrame, schema: Schema, settings: Settings) -> pd.DataFrame:
    """The test part of the split `thinfile train` makes of this table (same checks, same seed)."""
    from thinfile.training.pipeline import prepare

    prepared = prepare(frame, schema, settings)
    return split_frame(prepared.frame, schema, settings.train).test


def audit_registered(
    ref: str | int, frame: pd.DataFrame, out_dir: str | Path | None = None, settings: Settings | None = None,
    *, log: bool = True, source: str = "",
) -> tuple[FairnessReport, tuple[Path, Path]]:
    """Fairness report of registered model `ref` on `frame`: written to `out_dir`, logged to the model's run."""
    settings = settings or Settings()
    scorer = load_scorer(ref)
    run_id = str(scorer.meta.get("run_id") or "")
    baseline = bureau_baseline(run_id)
    report = fairness_report(scorer, frame, baseline=baseline, settings=settings,
                             data={"source": source} if source else None)
    label = f"{scorer.meta.get('name', MODEL_NAME)} v{scorer.meta.get('version', '?')}"
    title = f"Fairness report: {label}"
    paths = write_report(report, out_dir or reports_dir(), f"fairness_v{scorer.meta.get('version', 'x')}", title)
    if log and run_id:
        log_report(report, run_id, title)
    return report, paths


@dataclass
class FairnessStage:
    """What the fairness stage of training produced: reports and where they are."""

    reports: dict[str, FairnessReport] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    challenger_version: str | None = None

    def summary(self, attribute: str = "residence") -> pd.DataFrame:
        """One row per model: AUC and the fairness figures on `attribute`, and the thin-file inclusion lift."""
        rows = []
        for name, r in self.reports.items():
            m = r.metrics()
            rows.append({"model": name, "auc": m.get("fair_auc", np.nan),
                         "di_ratio": m.get(f"fair_di_ratio_{attribute}", np.nan),
                         "eo_diff": m.get(f"fair_eo_diff_{attribute}", np.nan),
                         "calib_gap": m.get(f"fair_calib_gap_{attribute}", np.nan),
                         "lift_thin_file": m.get("fair_inclusion_lift_thin_file", np.nan),
                         f"lift_{attribute}_worst": m.get(
                             f"fair_inclusion_lift_{attribute}_{r.attribute(attribute).worst_group}", np.nan)
                         if any(a.name == attribute for a in r.attributes) else np.nan,
                         "passed": r.passed})
        return pd.DataFrame(rows)


def _log_challenger(scorer: Scorer, split, schema: Schema, settings: Settings, experiment: str,
                    champion_run: str | None, bureau_run: str | None, rounds: list[float]) -> tuple[str, str | None]:
    p_test = scorer.predict_pd(split.test)
    ev = evaluate(p_test, split.test, schema, settings.scale, pd_train=scorer.predict_pd(split.train),
                  cutoffs=settings.pipeline.eval_cutoffs, bins=settings.pipeline.calibration_bins)
    metrics = {**ev.metrics, **{f"mitigation_eo_gap_round_{i + 1}": v for i, v in enumerate(rounds)}}
    tags = {"thinfile.model_family": MITIGATED_FAMILY, "thinfile.role": "challenger",
            "thinfile.schema_name": schema.name, "thinfile.schema_fingerprint": schema.fingerprint,
            "thinfile.git_commit": tracking.git_commit(), "thinfile.split_method": split.method}
    if champion_run:
        tags["thinfile.champion_run"] = champion_run
    if bureau_run:
        tags[tracking.BUREAU_BASELINE_TAG] = bureau_run
    attr = scorer.meta.get("mitigation_attribute")
    card = tracking.model_card(
        title="Challenger: champion LightGBM refitted on reweighed rows", family=MITIGATED_FAMILY, role="challenger",
        data={"schema": f"{schema.name} ({schema.fingerprint})", "train_rows": f"{len(split.train):,}",
              "test_rows": f"{len(split.test):,}"},
        metrics=metrics, shape=None,
        intended_use=(f"A fairness-mitigated alternative to the champion: training rows reweighed so that {attr} and "
                      "the outcome are independent and repaid borrowers of less-approved groups count more. The "
                      f"protected attribute is not an input: scoring needs only the schema's model inputs."),
        limits=["Compare with the champion in the fairness report: better parity can cost AUC or calibration.",
                "Promote it with `thinfile promote --version N` only after reading both fairness reports."],
    )
    params = {"model_family": MITIGATED_FAMILY, "mitigation": "reweighing", "mitigation_attribute": attr,
              "mitigation_rounds": settings.audit.mitigation_rounds, "mitigation_step": settings.audit.mitigation_step,
              **{f"train.{k}": v for k, v in settings.train.model_dump().items()}}
    run_id, info = tracking.log_model_run(
        experiment=experiment, run_name="challenger", params=params, metrics=metrics, tags=tags, evaluation=ev,
        figures={}, card=card,
        log_model=lambda: log_scorer(scorer, split.test, register_as=MODEL_NAME, alias=CHALLENGER_ALIAS,
                                     pip_requirements=tracking.pip_requirements("lightgbm", "shap")),
    )
    version = getattr(info, "registered_model_version", None)
    return run_id, (str(version) if version is not None else None)


def fairness_stage(result, settings: Settings | None = None, out_dir: str | Path | None = None,
                   challenger: bool = True) -> FairnessStage:
    """After `pipeline.train`: fairness reports for champion and baselines, and the mitigated challenger.

    Each report is logged to its model's run (HTML, JSON, `fair_*` metrics) and written to `out_dir`
    (default reports/ under THINFILE_HOME).
    """
    from thinfile.training.global_explain import log_global_explanations
    from thinfile.training.scorecard import BUREAU_FAMILY

    settings = settings or Settings()
    out = Path(out_dir) if out_dir is not None else reports_dir()
    champion = result.champion
    scorer: Scorer = champion.model
    schema = scorer.schema
    split = split_frame(result.data.frame, schema, settings.train)
    bureau = result.baseline(BUREAU_FAMILY)
    base_model = bureau.model if bureau is not None else None
    stage = FairnessStage()

    def record(name: str, report: FairnessReport, run_id: str, title: str) -> None:
        stage.reports[name] = report
        stage.run_ids[name] = run_id
        stage.files[name] = write_report(report, out, f"fairness_{name}", title)[0]
        log_report(report, run_id, title)

    record("champion", fairness_report(scorer, split.test, baseline=base_model, settings=settings),
           champion.run_id, "Fairness report: champion")
    for m in result.models:
        if m.role == "baseline":
            against = None if m.family == BUREAU_FAMILY else base_model
            record(m.family, report_for_pd_model(m.model, split.test, schema, settings, against, m.family),
                   m.run_id, f"Fairness report: {m.family.replace('_', ' ')}")
    if challenger and schema.protected_names:
        model, rw = fit_reweighed(split.train, split.valid, schema, settings)
        run_id, version = _log_challenger(model, split, schema, settings, result.experiment_id, champion.run_id,
                                          bureau.run_id if bureau else None, rw.eo_gap_by_round)
        stage.challenger_version = version
        record("challenger", fairness_report(model, split.test, baseline=base_model, settings=settings),
               run_id, "Fairness report: mitigated challenger")
        log_global_explanations(model, split.test, run_id, settings)
    return stage


def load_frame(data: str | Path | None, schema: Schema, settings: Settings, rows_if_generating: int) -> tuple[pd.DataFrame, str]:
    """The table to audit: `data`, else the default population, else the seeded synthetic rows training generates."""
    from thinfile.training.pipeline import default_population, load_training_table

    if data is None and default_population().exists():
        data = default_population()
    if data is not None:
        return load_training_table(data), str(data)
    from thinfile.features.generator import generate_frame

    frame = generate_frame(schema, settings.generator, rows=rows_if_generating, seed=settings.train.seed)
    return frame, f"generated synthetic ({rows_if_generating:,} rows, seed {settings.train.seed})"

