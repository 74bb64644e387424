"""The lending loop, measured: floor, reject-inference methods and ceiling; exploration; policy generations.

One synthetic world, one through-the-door (TTD) population, one bureau-era history:

1. **Comparison.** Each method trains the champion through `train_frame` (one MLflow run each, the
   same scorer artefact, the truth on TTD test rows in its metrics): `none` is the floor (booked loans
   only), `ceiling` has every applicant's outcome. Every method is judged by where it lands between.
2. **Exploration.** The same applicants under the same policy, plus a share of would-be rejects
   approved at random; the booked-only champion of each share, measured on the same TTD test rows at
   the share-0 history's bad rate.
3. **Generations.** The champion trained on generation g's booked loans (with its method) becomes
   generation g+1's policy, booking the same share of new applicants; per generation, who gets booked
   (thin-file, rural) and the gap to that generation's ceiling.

Each compared figure carries a 95% interval from one seeded bootstrap over the test applicants (`Bootstrap`): every
model of a generation is measured on the same applicants resampled alike, so a difference between two of them
(a method against the floor, the ceiling against a generation's model) has its own paired interval.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd

from thinfile.features.generator import generate_frame
from thinfile.features.history import HistoryTally, Policy, bureau_era_policy, history_schema, observed, with_history
from thinfile.features.schema import Schema
from thinfile.features.settings import GeneratorParams, HistorySettings
from thinfile.features.words import counted
from thinfile.training import tracking
from thinfile.training.champion import fit_scorer
from thinfile.training.data import check_trainable
from thinfile.training.lending_loop.measure import (
    FOCUS_GROUP,
    INTERVAL_FIGURES,
    Bootstrap,
    TruthSet,
    interval,
    intervals,
    truth_metrics,
)
from thinfile.training.pipeline import train_frame
from thinfile.training.reject_inference import Inferred, booked_split, infer
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.settings import METHODS, EvaluationConfig, LoopSettings, PipelineConfig, TrainingSettings
from thinfile.training.split import Split, split_frame
from thinfile.training.tuning import choose_config

FLOOR, CEILING = "none", "ceiling"
LOOP_TAG = "thinfile.loop"
ROLE_TAG = "thinfile.loop_role"
GENERATION_TAG = "thinfile.loop_generation"
VS_FLOOR = "truth_auc_vs_floor"
Progress = Callable[[str], None]


@dataclass
class MethodRun:
    """One method's champion on the generation-1 history: its truth metrics, cost and MLflow run."""

    method: str
    role: str
    metrics: dict[str, float]
    seconds_inference: float
    seconds_fit: float
    run_id: str | None = None
    scorer: Scorer | None = field(default=None, repr=False)
    draws: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    """each interval figure on each bootstrap resample of the test applicants (none without a bootstrap)"""

    def row(self) -> dict[str, object]:
        return {
            "method": self.method,
            "role": self.role,
            "run_id": self.run_id,
            "seconds_inference": self.seconds_inference,
            "seconds_fit": self.seconds_fit,
            **self.metrics,
        }


@dataclass
class LoopResult:
    """Everything one loop measured; `to_dict` is the JSON report."""

    loop_id: str
    settings: LoopSettings
    history: HistorySettings
    policy: dict[str, object]
    book: dict[str, float]
    runs: list[MethodRun]
    exploration: list[dict[str, float]]
    generations: list[dict[str, object]]
    seconds: dict[str, float]
    summary_run_id: str | None = None

    def run(self, method: str) -> MethodRun:
        return next(r for r in self.runs if r.method == method)

    def comparison(self) -> pd.DataFrame:
        return pd.DataFrame([r.row() for r in self.runs])

    def headline(self) -> dict[str, object]:
        """Floor, ceiling, the gap, the best method and exploration share, and the share of the gap each closes."""
        floor, ceiling = self.run(FLOOR).metrics, self.run(CEILING).metrics
        gap = ceiling["truth_auc"] - floor["truth_auc"]
        out: dict[str, object] = {
            "floor_auc": floor["truth_auc"],
            "ceiling_auc": ceiling["truth_auc"],
            "gap_auc": gap,
            "gap_auc_rejects": ceiling.get("truth_auc_rejects", np.nan) - floor.get("truth_auc_rejects", np.nan),
            "gap_target": self.settings.gap_target,
            "gap_target_met": bool(gap >= self.settings.gap_target),
            "test_applicants": int(floor.get("truth_rows", 0)),
            "seed": self.settings.seed,
            "bootstrap_draws": self.settings.bootstrap_draws,
            "explored": bool(self.exploration),
            "generations_run": len({row["generation"] for row in self.generations}),
            **bounds("floor_auc", floor, "truth_auc"),
            **bounds("ceiling_auc", ceiling, "truth_auc"),
            **bounds("gap_auc", ceiling, VS_FLOOR),
        }
        methods = [r for r in self.runs if r.role == "method"]
        if methods:
            best = max(methods, key=lambda r: r.metrics["truth_auc"])
            out.update(
                best_method=best.method,
                best_method_auc=best.metrics["truth_auc"],
                best_method_closed=closed_share(best.metrics["truth_auc"], floor["truth_auc"], ceiling["truth_auc"]),
                best_method_thin_lift=best.metrics["policy_approval_thin_file_at_hist_bad_rate"]
                - floor["policy_approval_thin_file_at_hist_bad_rate"],
                best_method_vs_floor=best.metrics[VS_FLOOR],
                **bounds("best_method_auc", best.metrics, "truth_auc"),
                **bounds("best_method_vs_floor", best.metrics, VS_FLOOR),
            )
        explored = [e for e in self.exploration if e["explore_share"] > 0]
        if explored:
            best_e = max(explored, key=lambda e: e["truth_auc"])
            out.update(
                best_explore_share=best_e["explore_share"],
                best_explore_auc=best_e["truth_auc"],
                best_explore_closed=closed_share(best_e["truth_auc"], floor["truth_auc"], ceiling["truth_auc"]),
                best_explore_thin_lift=best_e["policy_approval_thin_file_at_hist_bad_rate"]
                - floor["policy_approval_thin_file_at_hist_bad_rate"],
                best_explore_vs_floor=best_e[VS_FLOOR],
                **bounds("best_explore_auc", best_e, "truth_auc"),
                **bounds("best_explore_vs_floor", best_e, VS_FLOOR),
            )
        target = self.settings.closed_share_target
        closes = [float(out.get(k, np.nan)) for k in ("best_method_closed", "best_explore_closed")]  # type: ignore[arg-type]
        out["closed_target"] = target
        out["closed_target_met"] = any(np.isfinite(c) and c >= target for c in closes)
        for key in ("gap_auc", "best_method_vs_floor", "best_explore_vs_floor"):
            if f"{key}_low" in out:  # a difference whose interval holds 0: another test sample could undo it
                out[f"{key}_within_noise"] = bool(out[f"{key}_low"] <= 0 <= out[f"{key}_high"])  # type: ignore[operator]
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "loop_id": self.loop_id,
            "settings": self.settings.model_dump(mode="json"),
            "history_settings": self.history.model_dump(mode="json"),
            "policy": self.policy,
            "book": self.book,
            "headline": self.headline(),
            "methods": [r.row() for r in self.runs],
            "exploration": self.exploration,
            "generations": self.generations,
            "seconds": self.seconds,
            "summary_run_id": self.summary_run_id,
        }


def bounds(name: str, metrics: Mapping[str, object], key: str) -> dict[str, object]:
    """`<name>_low` and `<name>_high`: the 95% interval of `metrics[key]`, when it has one."""
    if f"{key}_low" not in metrics:
        return {}
    return {f"{name}_low": metrics[f"{key}_low"], f"{name}_high": metrics[f"{key}_high"]}


def measured(
    p: np.ndarray,
    truth: TruthSet,
    bootstrap: Bootstrap,
    floor: Mapping[str, np.ndarray] | None = None,
    figures: Sequence[str] = INTERVAL_FIGURES,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The 95% intervals of `figures` of `p` on `truth` (`<figure>_low`, `<figure>_high`) and their draws; with the
    floor's draws on the same applicants, the paired interval of its AUC minus the floor's. Nothing without a
    bootstrap."""
    draws = bootstrap.measure(p, truth, figures)
    out = intervals(draws)
    if floor:
        out.update(difference(VS_FLOOR, draws["truth_auc"], floor["truth_auc"]))
    return out, draws


def difference(key: str, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """The paired 95% interval of a - b, two models' draws on the same resamples, as `<key>_low` and `<key>_high`."""
    low, high = interval(a - b)
    return {f"{key}_low": low, f"{key}_high": high} if np.isfinite(low) else {}


def closed_share(value: float, floor: float, ceiling: float, min_gap: float = 1e-3) -> float:
    """Share of the floor-to-ceiling gap a result closes (NaN when there is no gap worth closing)."""
    gap = ceiling - floor
    return float((value - floor) / gap) if gap >= min_gap else float("nan")


@dataclass(frozen=True)
class ScorerPolicy:
    """A champion used as the next generation's policy: approve the `book_share` of applicants it likes best (lowest
    PD), exactly that share whatever its ties (a weak champion gives many applicants one PD; a cut at a PD booked
    every one of them)."""

    scorer: Scorer
    book_share: float
    name: str

    def approves(self, frame: pd.DataFrame) -> np.ndarray:
        pd_ = self.scorer.predict_pd(self.scorer.schema.to_matrix(frame))
        approved = np.zeros(len(pd_), dtype=bool)
        approved[np.argsort(pd_, kind="stable")[: int(round(self.book_share * len(pd_)))]] = True
        return approved

    def describe(self) -> dict[str, object]:
        return {"policy": self.name, "book_share": self.book_share}


def scorer_policy(scorer: Scorer, book_share: float, name: str) -> ScorerPolicy:
    """The champion booking `book_share` of each generation's applicants, those it likes best."""
    return ScorerPolicy(scorer, book_share, name)


@dataclass(frozen=True)
class Fitted:
    scorer: Scorer
    inferred: Inferred
    split: Split
    seconds_fit: float


def fit_on_history(
    frame: pd.DataFrame,
    schema: Schema,
    settings: TrainingSettings,
    method: str,
    kgb_pd: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Fitted:
    """The champion of one method on one history, without logging (the exploration sweep and generations)."""
    ttd = split_frame(frame, schema, settings.train)
    train = choose_config(booked_split(ttd), no_search(settings).train).config
    config = settings.reject_inference.model_copy(update={"method": method})
    inferred = infer(config, ttd, train, kgb_pd)
    start = time.perf_counter()
    s = inferred.train
    fitted = fit_scorer(schema, s.X, s.y, inferred.valid.X, inferred.valid.y, train, settings.scale, weight=s.weight)
    scorer = fitted.scorer
    return Fitted(scorer, inferred, ttd, time.perf_counter() - start)


def no_search(settings: TrainingSettings) -> TrainingSettings:
    """Table-fitted defaults without the hyper-parameter search: every method is compared on the same footing."""
    return settings.model_copy(update={"train": settings.train.model_copy(update={"tune": False})})


def _loop_settings(settings: TrainingSettings) -> TrainingSettings:
    """The training job of each comparison run: champion only, no search, not registered, small timing samples."""
    return no_search(settings).model_copy(
        update={
            "pipeline": PipelineConfig(baselines=False, register_champion=False, global_explanations=False),
            "evaluation": EvaluationConfig(timing_rows=2_000, explain_timing_rows=2_000, plot_rows=20_000),
        }
    )


def compare_methods(
    full: pd.DataFrame,
    schema: Schema,
    settings: TrainingSettings,
    loop: LoopSettings,
    loop_id: str,
    say: Progress,
    bootstrap: Bootstrap,
) -> list[MethodRun]:
    """Floor, each method and the ceiling on one history; through `train_frame` (logged) or without logging. Each
    run's intervals come from its PDs of the same test applicants, resampled alike (its AUC's difference from the
    floor's paired)."""
    seen = observed(full, schema)
    methods = [FLOOR, *[m for m in loop.methods if m != FLOOR], CEILING]
    runs: list[MethodRun] = []
    job = _loop_settings(settings)
    kgb: Callable[[np.ndarray], np.ndarray] | None = None
    ttd = split_frame(seen, schema, settings.train)
    truth = TruthSet.from_frame(ttd.test, schema)
    history = truth.history()
    for method in methods:
        role = "floor" if method == FLOOR else "ceiling" if method == CEILING else "method"
        say(f"comparison: {method} ({role})")
        frame = full if method == CEILING else seen
        if loop.log_runs:
            chosen = job.model_copy(
                update={"reject_inference": job.reject_inference.model_copy(update={"method": method})}
            )
            result = train_frame(
                frame,
                schema,
                chosen,
                source=f"lending loop {loop_id[:8]} ({method})",
                champion_run=f"loop {loop_id[:8]}: {method}",
                run_tags={LOOP_TAG: loop_id, ROLE_TAG: role, GENERATION_TAG: "1"},
            )
            champion = result.champion
            metrics = dict(champion.metrics)
            model = champion.model
            assert isinstance(model, Scorer)
            runs.append(
                MethodRun(
                    method,
                    role,
                    metrics,
                    metrics.get("reject_inference_seconds", 0.0),
                    metrics.get("fit_seconds", np.nan),
                    champion.run_id,
                    model,
                )
            )
        else:
            fitted = fit_on_history(frame, schema, settings, method, kgb if method not in (FLOOR, CEILING) else None)
            own = TruthSet.from_frame(fitted.split.test, schema)
            metrics = {**fitted.inferred.metrics, **truth_metrics(fitted.scorer.predict_pd(fitted.split.X_test), own)}
            runs.append(
                MethodRun(method, role, metrics, fitted.inferred.seconds, fitted.seconds_fit, None, fitted.scorer)
            )
            if method == FLOOR:
                kgb = fitted.scorer.predict_pd
        run = runs[-1]
        assert run.scorer is not None
        floor = runs[0]
        run.metrics.update(history)
        if run is not floor:
            run.metrics[VS_FLOOR] = run.metrics["truth_auc"] - floor.metrics["truth_auc"]
        found, run.draws = measured(
            run.scorer.predict_pd(ttd.X_test), truth, bootstrap, floor.draws if run is not floor else None
        )
        run.metrics.update(found)
    return runs


def explore(
    people: pd.DataFrame,
    schema: Schema,
    policy: Policy,
    settings: TrainingSettings,
    history: HistorySettings,
    loop: LoopSettings,
    reference: TruthSet,
    say: Progress,
    bootstrap: Bootstrap,
    floor: MethodRun,
) -> list[dict[str, float]]:
    """The booked-only champion of each exploration share, on the same applicants, at the share-0 bad rate; its
    AUC against the comparison's floor's on those applicants (`reference`), paired."""
    out = []
    for share in sorted({0.0, *loop.explore_shares}):
        say(f"exploration: {share:.0%} of would-be rejects approved at random")
        full = with_history(
            people, schema, policy, share, loop.seed, start_month=history.start_month, months=history.months
        )
        fitted = fit_on_history(observed(full, schema), schema, settings, FLOOR)
        truth = TruthSet.from_frame(
            fitted.split.test,
            schema,
            target_bad_rate=reference.target_bad_rate,
            approval_rate=reference.approval_rate,
        )
        explored = full["explored"].to_numpy(dtype=bool)
        booked = full["booked"].to_numpy(dtype=bool)
        true_pd = full[str(schema.oracle_column)].to_numpy(dtype=np.float64)
        p = fitted.scorer.predict_pd(fitted.split.X_test)
        metrics = truth_metrics(p, truth)
        paired = np.array_equal(truth.true_pd, reference.true_pd)  # the same test applicants, in the same order
        found, _ = measured(p, truth, bootstrap, floor.draws if paired else None)
        out.append(
            {
                "explore_share": share,
                "explored_share_ttd": float(explored.mean()),
                "booked_share": float(booked.mean()),
                "book_expected_bad_rate": float(true_pd[booked].mean()),
                "explored_expected_bad_rate": float(true_pd[explored].mean()) if explored.any() else float("nan"),
                "extra_expected_defaults_per_1000": float(1000 * true_pd[explored].sum() / len(full)),
                "seconds": fitted.inferred.seconds + fitted.seconds_fit,
                **metrics,
                VS_FLOOR: metrics["truth_auc"] - floor.metrics["truth_auc"],
                **found,
            }
        )
    return out


def _book_row(full: pd.DataFrame, schema: Schema) -> dict[str, float]:
    tally = HistoryTally()
    tally.update(full, schema)
    return tally.summary()


@dataclass(frozen=True)
class Ceiling:
    """A generation's ceiling as measured: its figures, its draws and on whose test applicants (their true PD)."""

    metrics: dict[str, float]
    draws: dict[str, np.ndarray]
    true_pd: np.ndarray


def run_generations(
    first: pd.DataFrame,
    first_policy: Policy,
    runs: list[MethodRun],
    reference: TruthSet,
    schema: Schema,
    params: GeneratorParams,
    settings: TrainingSettings,
    history: HistorySettings,
    loop: LoopSettings,
    say: Progress,
    bootstrap: Bootstrap,
) -> list[dict[str, object]]:
    """Generation 1 is the comparison (`runs`, the ceiling last, measured on the test applicants `reference`); each
    later generation's policy is the previous generation's champion."""
    rows: list[dict[str, object]] = []
    book, name = _book_row(first, schema), first_policy.describe()["policy"]
    ceiling = Ceiling(runs[-1].metrics, runs[-1].draws, reference.true_pd)
    champions: dict[str, Scorer] = {}
    for r in runs[:-1]:
        assert r.scorer is not None
        champions[r.method] = r.scorer
        rows.append(
            _generation_row(1, r.method, name, book, first, schema, settings, r.scorer, ceiling, bootstrap, r.draws)
        )
    for g in range(2, loop.generations + 1):
        say(f"generation {g}: new applicants, each method's previous champion as the policy")
        people = generate_frame(schema, params, rows=loop.rows, seed=loop.seed + g - 1)
        start = np.datetime64(history.start_month, "M") + 12 * (g - 1)
        month = str(start)
        ceiling_frame = with_history(
            people, schema, first_policy, 0.0, loop.seed + g - 1, start_month=month, months=history.months
        )
        fitted_ceiling = fit_on_history(ceiling_frame, schema, settings, CEILING)
        ceiling_truth = TruthSet.from_frame(fitted_ceiling.split.test, schema)
        ceiling_pd = fitted_ceiling.scorer.predict_pd(fitted_ceiling.split.X_test)
        found, ceiling_draws = measured(ceiling_pd, ceiling_truth, bootstrap, figures=("truth_auc",))
        ceiling = Ceiling({**truth_metrics(ceiling_pd, ceiling_truth), **found}, ceiling_draws, ceiling_truth.true_pd)
        next_champions: dict[str, Scorer] = {}
        for method, scorer in champions.items():
            policy = scorer_policy(scorer, history.policy.book_share, f"generation {g - 1} champion ({method})")
            full = with_history(
                people,
                schema,
                policy,
                history.explore_share,
                loop.seed + g - 1,
                start_month=month,
                months=history.months,
            )
            fitted = fit_on_history(observed(full, schema), schema, settings, method)
            next_champions[method] = fitted.scorer
            rows.append(
                _generation_row(
                    g,
                    method,
                    policy.name,
                    _book_row(full, schema),
                    full,
                    schema,
                    settings,
                    fitted.scorer,
                    ceiling,
                    bootstrap,
                )
            )
        champions = next_champions
    return rows


GENERATION_INTERVALS = ("truth_auc", "truth_auc_rejects")
"""The model's own figures whose intervals a generation's row holds (beside the ceiling's AUC and the gap)."""


def _generation_row(
    g: int,
    method: str,
    policy_name: object,
    book: dict[str, float],
    full: pd.DataFrame,
    schema: Schema,
    settings: TrainingSettings,
    scorer: Scorer,
    ceiling: Ceiling,
    bootstrap: Bootstrap,
    draws: dict[str, np.ndarray] | None = None,
) -> dict[str, object]:
    """One method's row of generation `g`; `draws`: its model's on these test applicants, when already made."""
    ttd = split_frame(full, schema, settings.train)
    truth = TruthSet.from_frame(ttd.test, schema)
    p = scorer.predict_pd(ttd.X_test)
    m = truth_metrics(p, truth)
    if draws is None:
        draws = measured(p, truth, bootstrap, figures=GENERATION_INTERVALS)[1]
    row: dict[str, object] = {
        "generation": g,
        "method": method,
        "policy": str(policy_name),
        "booked_share": book["booked_share"],
        "booked_share_thin_file": book["booked_share_thin_file"],
        f"booked_share_{FOCUS_GROUP}": book[f"booked_share_{FOCUS_GROUP}"],
        "book_expected_bad_rate": book["expected_bad_rate_booked"],
        "truth_auc": m["truth_auc"],
        "truth_auc_rejects": m.get("truth_auc_rejects", float("nan")),
        "ceiling_auc": ceiling.metrics["truth_auc"],
        "gap_to_ceiling": ceiling.metrics["truth_auc"] - m["truth_auc"],
        "truth_calibration_gap_rejects": m.get("truth_calibration_gap_rejects", float("nan")),
    }
    row.update(intervals({k: draws[k] for k in GENERATION_INTERVALS if k in draws}))
    row.update(bounds("ceiling_auc", ceiling.metrics, "truth_auc"))
    if draws and ceiling.draws and np.array_equal(truth.true_pd, ceiling.true_pd):  # paired: the same applicants
        row.update(difference("gap_to_ceiling", ceiling.draws["truth_auc"], draws["truth_auc"]))
    return row


def run_loop(
    schema: Schema,
    params: GeneratorParams | None = None,
    history: HistorySettings | None = None,
    loop: LoopSettings | None = None,
    settings: TrainingSettings | None = None,
    *,
    progress: Progress | None = None,
) -> LoopResult:
    """The whole loop on one synthetic world: comparison, exploration sweep, generations; logged to MLflow."""
    params = params or GeneratorParams()
    history = (history or HistorySettings()).model_copy(update={"explore_share": 0.0})
    loop = loop or LoopSettings()
    settings = settings or TrainingSettings()
    say = progress or (lambda _msg: None)
    unknown = sorted(set(loop.methods) - set(METHODS))
    if unknown:
        raise ValueError(f"unknown reject-inference method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    loop_id = uuid.uuid4().hex
    hist = history_schema(schema)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    say(f"generating {loop.rows:,} through-the-door applicants and the bureau-era history")
    policy = bureau_era_policy(schema, params, history.policy)
    people = generate_frame(schema, params, rows=loop.rows, seed=loop.seed)
    full = with_history(people, hist, policy, 0.0, loop.seed, start_month=history.start_month, months=history.months)
    booked = full[full[str(hist.booked_column)].astype(bool)]
    check_trainable(  # the floor trains on the booked loans alone
        booked,
        hist,
        settings.checks,
        f"the bureau-era book ({counted(len(full), 'applicant')} at book share {history.policy.book_share:g})",
    )
    seconds["generate"] = time.perf_counter() - clock

    bootstrap = Bootstrap(loop.bootstrap_draws, loop.seed)
    clock = time.perf_counter()
    runs = compare_methods(full, hist, settings, loop, loop_id, say, bootstrap)
    seconds["comparison"] = time.perf_counter() - clock

    clock = time.perf_counter()
    reference = TruthSet.from_frame(split_frame(full, hist, settings.train).test, hist)
    exploration: list[dict[str, float]] = []
    if loop.explore_shares:
        exploration = explore(people, hist, policy, settings, history, loop, reference, say, bootstrap, runs[0])
    seconds["exploration"] = time.perf_counter() - clock

    clock = time.perf_counter()
    generations: list[dict[str, object]] = []
    if loop.generations >= 1:
        generations = run_generations(
            full, policy, runs, reference, hist, params, settings, history, loop, say, bootstrap
        )
    seconds["generations"] = time.perf_counter() - clock
    seconds["bootstrap"] = bootstrap.seconds
    return LoopResult(
        loop_id, loop, history, policy.describe(), _book_row(full, hist), runs, exploration, generations, seconds
    )


def log_summary(result: LoopResult, write: Callable[[dict[str, object]], dict[str, str]]) -> dict[str, str]:
    """One MLflow run for the loop: headline metrics, the sweep and generations as steps, and the report files,
    which `write` makes of `result.to_dict()` once the run's id is `result.summary_run_id` (so they name it)."""
    experiment = tracking.experiment_id()
    head = result.headline()
    tags = {LOOP_TAG: result.loop_id, ROLE_TAG: "summary", "thinfile.role": "lending_loop", **tracking.process_tags()}
    with tracking.open_run(experiment_id=experiment, run_name=f"lending loop {result.loop_id[:8]}", tags=tags) as run:
        result.summary_run_id = run.info.run_id
        mlflow.log_params(
            {
                "rows": result.settings.rows,
                "seed": result.settings.seed,
                "methods": ",".join(result.settings.methods),
                "explore_shares": ",".join(f"{s:g}" for s in result.settings.explore_shares),
                "generations": result.settings.generations,
                **{f"policy.{k}": v for k, v in result.policy.items()},
            }
        )
        mlflow.log_metrics({k: float(v) for k, v in head.items() if isinstance(v, (int, float)) and np.isfinite(v)})
        mlflow.log_metrics({f"seconds_{k}": v for k, v in result.seconds.items()})
        for e in result.exploration:
            step = int(round(e["explore_share"] * 1000))
            for key in ("truth_auc", "policy_approval_thin_file_at_hist_bad_rate", "extra_expected_defaults_per_1000"):
                if np.isfinite(e.get(key, np.nan)):
                    mlflow.log_metric(f"explore_{key}", e[key], step=step)
        for row in result.generations:
            for key in ("booked_share_thin_file", f"booked_share_{FOCUS_GROUP}", "gap_to_ceiling"):
                value = float(row[key])  # type: ignore[arg-type]
                if np.isfinite(value):
                    mlflow.log_metric(f"gen_{key}_{row['method']}", value, step=int(row["generation"]))  # type: ignore[call-overload]
        files = write(result.to_dict())
        for path in files.values():
            mlflow.log_artifact(path)
        return files
