"""MLflow bookkeeping: the experiment, one run per model (params, metrics, tags, figures, card), the alias."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import mlflow
import numpy as np
import pandas as pd
from mlflow.data.dataset import Dataset
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient
from mlflow.tracking.fluent import ActiveRun

from thinfile.features.jsonio import dumps
from thinfile.features.lifetime import signals_held
from thinfile.features.scratch import process_alive
from thinfile.training.evaluate import Evaluation
from thinfile.training.registry import (
    EXPERIMENT_NAME,
    StoreError,
    artifact_root,
    check_intact,
    raise_if_store_failed,
    use_store,
)
from thinfile.training.reporting.drawing import Drawing
from thinfile.training.settings import CHAMPION_ALIAS, nothing_trained, tracking_uri

TAG_PREFIX = "thinfile."
BUREAU_BASELINE_TAG = "thinfile.bureau_baseline_run"
PID_TAG = "thinfile.pid"
HOST_TAG = "thinfile.host"
ENDED_TAG = "thinfile.ended"
CARD_METRICS = (
    "auc",
    "gini",
    "ks",
    "brier",
    "log_loss",
    "ece",
    "psi_score",
    "oracle_auc",
    "oracle_gap",
    "auc_thin_file",
    "auc_thick_file",
    "policy_cutoff",
    "approval_rate_at_policy",
    "bad_rate_at_policy",
    "predict_rows_per_s",
    "explain_rows_per_s",
)


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_NOTE = """thinfile: one run per model of each training job (champion, bureau-only and all-inputs
scorecards, mitigated challenger), all with the same metric names.

Compare them: tick the runs of one job (same `thinfile.data_hash` tag) and press **Compare**, or open the
link `thinfile ui` prints. The figures that matter: `auc`, `ks`, `ece`, `oracle_gap` (synthetic data only),
`fair_pass` (every fairness check passed) and `explain_rows_per_s`. Each run's Artifacts hold its model card,
plots, evaluation table and fairness report; its Datasets the train and test rows it saw.
"""
# MLflow 3 opens an experiment without a kind as a GenAI one (traces, token usage); these runs are models
EXPERIMENT_TAGS = {EXPERIMENT_KIND_TAG: "custom_model_development", "mlflow.note.content": EXPERIMENT_NOTE}
COMPARE_METRICS = ("auc", "ks", "ece", "oracle_gap", "fair_pass", "explain_rows_per_s")


class PromotionError(LookupError):
    """A version that cannot be promoted, with a message that says why."""


def configure() -> str:
    """Point MLflow at the project's store (MLFLOW_TRACKING_URI, else the embedded one) and return its URI."""
    return use_store()


def experiment_id(name: str = EXPERIMENT_NAME) -> str:
    """The experiment's id, creating it (artifacts under mlruns/artifacts for the embedded store) if needed; a
    damaged SQLite store is refused before anything is written to it (`check_intact`)."""
    uri = use_store(create=True)
    check_intact(uri)
    found = mlflow.get_experiment_by_name(name)
    root = artifact_root(uri)
    embedded = "MLFLOW_TRACKING_URI" not in os.environ  # thinfile's own store, whose files it keeps beside it
    if embedded and found is not None and root is not None and found.artifact_location != root.resolve().as_uri():
        raise StoreError(
            f"the store {uri} keeps its runs' files in {found.artifact_location}, not beside it in {root}: this home "
            "was copied or moved (MLflow records absolute paths), so new runs would land in the other folder; use "
            "the home where it was made, or start an empty one here (move mlruns/ aside)"
        )
    if found is not None:
        if found.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_TAGS[EXPERIMENT_KIND_TAG]:
            for key, value in EXPERIMENT_TAGS.items():
                mlflow.MlflowClient().set_experiment_tag(found.experiment_id, key, value)
        return found.experiment_id
    return mlflow.create_experiment(
        name, artifact_location=root.resolve().as_uri() if root else None, tags=EXPERIMENT_TAGS
    )


def check_registry(name: str) -> None:
    """Before a training's work, read what it will write to: the registered model `name` and its versions, so
    that a store that fails there (a damaged page, a lock, a tracking server's error) is named now rather than after
    the fit. A model not registered yet is fine (the training registers it)."""
    client = MlflowClient(configure())
    try:
        client.get_registered_model(name)
        client.search_model_versions(f"name='{name}'")
    except mlflow.exceptions.MlflowException as err:
        raise_if_store_failed(err)
        if err.error_code == "RESOURCE_DOES_NOT_EXIST":
            return
        said = err.message.splitlines()[0] if err.message else err.error_code
        raise StoreError(
            f"the MLflow store {tracking_uri()} cannot read registered model {name!r}, where this training would "
            f"register its champion ({said}); repair the store first, or train with --no-register"
        ) from err


def git_commit() -> str:
    """The commit of the code that trained (read-only `git rev-parse`); 'unknown' outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def process_tags() -> dict[str, str]:
    """Which process on which machine runs a run: a later train ends the runs of one that was killed."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: this_host()}


def this_host() -> str:
    """The host name, with the process-id namespace where there is one: two containers of one host name (host
    networking, a set hostname) each have their own, so neither takes the other's pids for its own."""
    try:
        return f"{socket.gethostname()} pidns:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return socket.gethostname()


def end_abandoned_runs(experiment: str) -> list[str]:
    """Mark KILLED the runs of `experiment` still RUNNING whose thinfile process on this machine has ended (killed
    outright: no handler could end its run); each as "<8-digit id> (<run name>)". Runs of another machine (or
    container), or without thinfile's process tags, are left alone."""
    host = this_host()
    client = MlflowClient(configure())
    ended = []
    for run in client.search_runs([experiment], filter_string="attributes.status = 'RUNNING'", max_results=1000):
        tags = run.data.tags
        pid = tags.get(PID_TAG, "")
        if tags.get(HOST_TAG) != host or not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
            continue
        mark_killed(run.info.run_id, f"its process {pid} had ended while the run was open", client)
        ended.append(f"{run.info.run_id[:8]} ({run.info.run_name})")
    return ended


def mark_killed(run_id: str, why: str, client: MlflowClient | None = None) -> None:
    """End a run as KILLED, saying why in its `thinfile.ended` tag: it is not a whole run to compare or deploy."""
    client = client or MlflowClient(configure())
    client.set_tag(run_id, ENDED_TAG, why)
    client.set_terminated(run_id, status="KILLED")


STOPPED_WHILE_OPEN = "the process was stopped (Ctrl-C or SIGTERM) while the run was being logged"


@contextlib.contextmanager
def open_run(**start: object) -> Iterator[ActiveRun]:
    """`mlflow.start_run(**start)` as a `with` block that ends the run FINISHED, FAILED on an error, and KILLED when
    the process is stopped inside it (Ctrl-C, SIGTERM: an exception that is not an Exception), its `thinfile.ended`
    tag saying so. MLflow's own `with` ends a stopped run FAILED, like one whose code failed; and a Ctrl-C arriving
    as the run is made, before its `with` is entered, left it RUNNING: here it waits until the run can be ended."""
    run = None
    status = RunStatus.FINISHED
    try:
        with signals_held(signal.SIGINT, signal.SIGTERM):
            run = mlflow.start_run(**start)  # type: ignore[arg-type]
        yield run
    except Exception:
        status = RunStatus.FAILED
        raise
    except BaseException:
        status = RunStatus.KILLED
        raise
    finally:
        active = mlflow.active_run()
        if run is not None and active is not None and active.info.run_id == run.info.run_id:  # not ended inside
            if status == RunStatus.FINISHED:
                mlflow.end_run()
            else:  # the stop or the error is what to report, not a store that fails as the run is ended
                with signals_held(signal.SIGINT, signal.SIGTERM), contextlib.suppress(Exception):
                    if status == RunStatus.KILLED:
                        mlflow.set_tag(ENDED_TAG, STOPPED_WHILE_OPEN)
                    mlflow.end_run(RunStatus.to_string(status))


def rows_per_second(fn: Callable[[np.ndarray], object], X: np.ndarray, rows: int) -> float:
    """Throughput of `fn` on up to `rows` rows of the model matrix `X`, after a small warm-up call."""
    sample = X[:rows]
    fn(sample[:50])
    start = time.perf_counter()
    fn(sample)
    return len(sample) / max(time.perf_counter() - start, 1e-9)


def log_model_run(
    *,
    experiment: str,
    run_name: str,
    params: dict[str, object],
    metrics: dict[str, float],
    tags: dict[str, str],
    evaluation: Evaluation,
    drawing: Drawing,
    card: str,
    log_model: Callable[[], object],
    extra_tables: dict[str, pd.DataFrame] | None = None,
    datasets: list[tuple[Dataset, str, dict[str, str]]] | None = None,
    files_now: bool = True,
) -> tuple[str, object]:
    """One MLflow run for one model; its files are written into `drawing.root` (where its plots are being drawn)
    and logged in one call once the plots are done (`files_now`), or by the caller's `log_run_files` later, the
    plots drawing meanwhile. Returns (run id, logged).

    `datasets` are (dataset, context, tags) logged as the run's inputs (the runs table's Dataset column).
    """
    folder = drawing.root
    with open_run(experiment_id=experiment, run_name=run_name, tags={**tags, **process_tags()}) as run:
        mlflow.log_params({k: _param(v) for k, v in params.items()})
        for dataset, context, dataset_tags in datasets or []:
            mlflow.log_input(dataset, context=context, tags=dataset_tags)
        (folder / "evaluation.json").write_text(dumps(evaluation.to_dict()), encoding="utf-8")
        for file, table in (extra_tables or {}).items():
            table.to_csv(folder / file, index=False)
        (folder / "model_card.md").write_text(card, encoding="utf-8")
        logged = log_model()
        # after the model, in one batch linked to it (before it, MLflow reads every metric back one by one to link it)
        mlflow.log_metrics(metrics, model_id=getattr(logged, "model_id", None))
        if files_now:
            log_run_files(run.info.run_id, drawing)
    return run.info.run_id, logged


def log_run_files(run_id: str, drawing: Drawing) -> None:
    """Once its plots are drawn, every file of a run's folder (`drawing.root`) logged in one call."""
    drawing.wait()
    mlflow.log_artifacts(str(drawing.root), run_id=run_id)


def _param(value: object) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def set_run_tag(run_id: str, key: str, value: str) -> None:
    MlflowClient(configure()).set_tag(run_id, key, value)


def promote(version: int | str, name: str, alias: str = CHAMPION_ALIAS) -> tuple[str | None, str]:
    """Point `alias` at registered version `version`; returns (previous version or None, new version)."""
    never = nothing_trained()
    if never is not None:
        raise PromotionError(f"model {name!r} has no version {version}: {never}")
    client = MlflowClient(configure())
    try:
        target = client.get_model_version(name, str(version))
    except mlflow.exceptions.MlflowException as err:
        raise_if_store_failed(err)
        known = _known_versions(client, name)
        raise PromotionError(
            f"model {name!r} has no version {version} in {tracking_uri()}"
            + (
                f"; registered versions: {', '.join(known)}"
                if known
                else "; nothing is registered yet, run `thinfile train`"
            )
        ) from None
    ended = _run_status(client, target.run_id)
    if ended not in (None, "FINISHED"):
        how = (
            "still logging: wait for its training to end"
            if ended == "RUNNING"
            else "stopped or failed after the model was registered, before its metrics and files were logged: train "
            "again, or promote a version whose run finished"
        )
        raise PromotionError(
            f"version {target.version} of {name!r} comes from a training run that did not finish ({ended}); it is "
            f"not promoted: {how}"
        )
    try:
        previous = client.get_model_version_by_alias(name, alias).version
    except mlflow.exceptions.MlflowException as err:
        raise_if_store_failed(err)
        previous = None
    client.set_registered_model_alias(name, alias, str(target.version))
    return (str(previous) if previous is not None else None), str(target.version)


def _run_status(client: MlflowClient, run_id: str | None) -> str | None:
    """The status of the run a version was logged from (FINISHED, FAILED, KILLED, RUNNING); None when it has none
    or the run is gone."""
    if not run_id:
        return None
    try:
        return str(client.get_run(run_id).info.status)
    except mlflow.exceptions.MlflowException as err:
        raise_if_store_failed(err)
        return None


def _known_versions(client: MlflowClient, name: str) -> list[str]:
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except mlflow.exceptions.MlflowException as err:
        raise_if_store_failed(err)
        return []
    return sorted((str(v.version) for v in versions), key=int)


def model_card(
    *,
    title: str,
    family: str,
    role: str,
    data: dict[str, object],
    metrics: dict[str, float],
    shape: dict[str, object] | None,
    intended_use: str,
    limits: list[str],
    warnings: list[str] | None = None,
) -> str:
    """A short Markdown model card: warnings about its table first, then data, intended use, metrics, trade-offs
    and limits."""
    lines = [f"# {title}", "", f"Model family: `{family}`; role: {role}.", ""]
    if warnings:
        lines += ["## Warnings", "", *(f"- **{w}**" for w in warnings), ""]
    lines += ["## Data", ""]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in data.items()]
    lines += ["", "## Intended use", "", intended_use, "", "## Test metrics", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {_fmt(metrics[k])} |" for k in CARD_METRICS if k in metrics]
    groups = sorted(k for k in metrics if k.startswith("auc_") and k not in CARD_METRICS)
    if groups:
        shown = ", ".join(f"{k.removeprefix('auc_')} {metrics[k]:.3f}" for k in groups)
        lines += ["", f"AUC by group (groups whose test rows hold enough defaults and repayments): {shown}."]
    if shape:
        lines += ["", "## Tree shape and explanation cost", ""]
        lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in shape.items()]
    lines += ["", "## Limits", ""] + [f"- {x}" for x in limits]
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def ui_links(base_url: str, experiment: str | None = None) -> dict[str, str]:
    """Links into the MLflow UI: the experiment's runs (model-training view) and a comparison of the newest job's
    runs (every run sharing the newest run's data hash); {} when the experiment does not exist yet."""
    base = base_url.rstrip("/")
    client = MlflowClient(configure())
    exp = client.get_experiment_by_name(EXPERIMENT_NAME) if experiment is None else client.get_experiment(experiment)
    if exp is None:
        return {}
    view = "workflowType=machine_learning"
    links = {"runs": f"{base}/#/experiments/{exp.experiment_id}?{view}"}
    newest = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1)
    if newest:
        data_hash = newest[0].data.tags.get("thinfile.data_hash", "")
        job = client.search_runs([exp.experiment_id], f"tags.`thinfile.data_hash` = '{data_hash}'", max_results=20)
        ids = json.dumps([r.info.run_id for r in job])
        links["compare"] = (
            f"{base}/#/compare-runs?runs={quote(ids)}&experiments={quote(json.dumps([exp.experiment_id]))}&{view}"
        )
    return links
