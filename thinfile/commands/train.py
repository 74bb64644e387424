"""`thinfile train` and `thinfile promote`: scorers trained, compared and promoted in MLflow."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from thinfile.commands.common import (
    EXIT_NOTHING_MOVED,
    POLICY_HELP,
    console,
    default_population,
    fail,
    from_settings,
    generated_rows_option,
    lending_policy,
    model_name,
    one_font_warning,
    results,
    say,
    schema_option,
    share_option,
    show,
    table_rows,
    warn_of_schema,
)
from thinfile.config import load_settings
from thinfile.features.schema import SchemaError, load_schema
from thinfile.training.settings import CHAMPION_ALIAS, METHODS, MIN_TRIALS, TrainConfig, tracking_uri

_TRAIN = TrainConfig()


def train(
    data: Path = typer.Option(
        None,
        "--data",
        "-d",
        help="Table to train on: a .parquet/.csv file or a folder of them "
        "(the folder `thinfile generate --out` wrote is fine). Default: data/synthetic/population/, "
        "generated first if absent.",
    ),
    schema: str = schema_option("Schema file (YAML) describing the table. Default: the built-in synthetic schema."),
    name: str = typer.Option(
        None,
        "--name",
        help="Registered model name. Default: the schema's name (one name, and one champion, per project).",
    ),
    rows: int | None = generated_rows_option(),
    seed: int = typer.Option(
        None, "--seed", "-s", help=f"Seed of the split and the models ({from_settings('train.seed')})."
    ),
    baselines: bool = typer.Option(
        None,
        "--baselines/--no-baselines",
        help=f"Also fit the bureau-only and all-inputs WoE scorecards ({from_settings('pipeline.baselines')}).",
        show_default=False,
    ),
    register_model: bool = typer.Option(
        None,
        "--register/--no-register",
        help="Register the champion and point its 'champion' alias at it "
        f"({from_settings('pipeline.register_champion')}).",
        show_default=False,
    ),
    tune: bool = typer.Option(
        None,
        "--tune/--no-tune",
        help="Search the champion's hyper-parameters first (cross-validated, optuna). "
        "Default: on tables under 50,000 rows.",
        show_default=False,
    ),
    trials: int = typer.Option(
        None,
        "--trials",
        min=1,
        help=f"Trials of the search (default: {_TRAIN.tune_row_trials:,} / training rows, between {MIN_TRIALS} and "
        f"{_TRAIN.tune_trials}).",
    ),
    cutoff: float = typer.Option(None, "--cutoff", help=POLICY_HELP["cutoff"]),
    approval_rate: float = share_option("--approval-rate", POLICY_HELP["approval_rate"]),
    bad_rate: float = share_option("--bad-rate", POLICY_HELP["bad_rate"]),
    policy: Path = typer.Option(None, "--policy", help=POLICY_HELP["policy"]),
    reject_inference: str = typer.Option(
        None,
        "--reject-inference",
        help="For a table with a booked column (schema `booked_column`, rejects without outcomes): train on booked "
        "loans plus what this method infers about rejects: none | reweight | augment | parcel | fuzzy "
        f"(docs/lending-loop.md; {from_settings('reject_inference.method')}).",
    ),
) -> None:
    """Train the champion scorer and the baseline scorecards on a table and its schema; log all to MLflow.

    Each model is one run in the 'thinfile' experiment with the same metric names (auc, ks, ece, oracle_gap,
    auc_thin_file, ...), plots, an evaluation table and a model card; `thinfile ui` compares them.

    Before any fitting it refuses a table too small, one whose outcome is written otherwise than 1/0, and one with
    an input that is the outcome under another name; it warns of an input that alone nearly gives the outcome
    away (checks.leaks.proxy_auc). The split is out of time with the schema's date_column, else stratified at
    random, keeping each borrower's loans in one part when the schema names a borrower_column.

    Exit codes: 0 trained and logged (warnings, if any, are printed and first on the model cards); 2 it could not
    run or stopped part-way (the one-line message says what to do); 130 interrupted; 143 terminated (SIGTERM).
    """
    from thinfile.training.data import TrainingDataError, set_aside_words
    from thinfile.training.pipeline import ready_to_train
    from thinfile.training.pipeline import train as run_training
    from thinfile.training.reject_inference import RejectInferenceError
    from thinfile.training.scorecard import ScorecardError
    from thinfile.training.scorer.policy import PolicyError
    from thinfile.training.split import SplitError

    if reject_inference is not None and reject_inference not in METHODS:
        raise fail(f"--reject-inference must be one of {', '.join(METHODS)}; got {reject_inference!r}")
    base = load_settings()
    if reject_inference is not None:
        base = base.model_copy(
            update={"reject_inference": base.reject_inference.model_copy(update={"method": reject_inference})}
        )
    base = base.model_copy(update={"policy": lending_policy(cutoff, approval_rate, bad_rate, policy, base.policy)})
    settings = base.model_copy(
        update={
            "train": base.train.model_copy(
                update={k: v for k, v in {"tune": tune, "tune_trials": trials, "seed": seed}.items() if v is not None}
            ),
            "pipeline": base.pipeline.model_copy(
                update={
                    k: v
                    for k, v in {
                        "baselines": baselines,
                        "register_champion": register_model,
                        "model_name": name,
                    }.items()
                    if v is not None
                }
            ),
        }
    )
    population = table_rows(rows, data)
    try:
        if schema is not None and str(schema) != "synthetic":
            warn_of_schema(load_schema(schema))
        experiment = None
        if data is None:
            if schema is not None and str(schema) != "synthetic":
                raise fail("a custom --schema needs its table: give --data (a .parquet/.csv file or folder)")
            experiment = ready_to_train(settings)  # a store or cut-off that cannot work is named before the population
            data = default_population(population, settings.train.seed, base.generator)
        with one_font_warning(), console.status("training") as status:
            result = run_training(data, schema, settings, progress=say(status), experiment=experiment)
    except (
        TrainingDataError,
        SchemaError,
        SplitError,
        ScorecardError,
        ModuleNotFoundError,
        PolicyError,
        RejectInferenceError,
    ) as err:
        raise fail(str(err)) from None
    table = Table(title=f"test metrics ({len(result.split.test):,} rows, {result.split_method} split)")
    cols = ("auc", "oracle_gap", "ks", "ece", "auc_thin_file", "explain_rows_per_s")
    table.add_column("model", no_wrap=True)
    for c in ("AUC", "oracle gap", "KS", "ECE", "AUC thin", "expl/s"):
        table.add_column(c, justify="right")
    table.add_column("run")
    for row in result.comparison(cols).itertuples():
        table.add_row(row.model, *(_cell(getattr(row, c)) for c in cols), row.run_id[:8])
    show(table)
    truth = result.champion.metrics
    if "approval_rate_at_policy" in truth:
        bad = truth.get("bad_rate_at_policy")
        results.print(
            f"at its approve cut-off {truth['policy_cutoff']:g} the champion approves "
            f"{truth['approval_rate_at_policy']:.1%} of the test rows"
            + (f", {bad:.1%} of them defaulted" if bad is not None else "")
            + "; to lend at your own: --cutoff, --approval-rate or --bad-rate (or THINFILE_APPROVE_CUTOFF when serving)"
        )
    if "truth_auc" in truth:
        results.print(
            f"champion against the truth on through-the-door test applicants (true_pd): AUC {truth['truth_auc']:.4f}, "
            f"rejects {truth.get('truth_auc_rejects', float('nan')):.4f}; approving as many as the history did, "
            f"expected bad rate {truth['policy_bad_rate_at_hist_approval']:.2%}; at the history's bad rate it "
            f"approves {truth['policy_approval_at_hist_bad_rate']:.1%} of applicants, thin-file "
            f"{truth.get('policy_approval_thin_file_at_hist_bad_rate', float('nan')):.1%}"
        )
    if len(result.data.rejects):
        n = len(result.data.rejects)
        results.print(
            f"[yellow]{set_aside_words(result.data.rejects, result.split.schema.target)} "
            f"{'was' if n == 1 else 'were'} left out (rejects.csv in the champion run)[/]"
        )
    for sentence in result.unlearnt:
        results.print(f"[yellow]{sentence}[/]")
    for warning in result.warnings:
        results.print(f"[yellow]warning (above): {warning}[/]")
    if result.registered_version:
        results.print(
            f"[green]registered[/] {result.model_name} version {result.registered_version} as '{CHAMPION_ALIAS}'"
        )
    results.print(f"MLflow store: {tracking_uri()}  (see it with `thinfile ui`)")


def _cell(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def promote(
    version: int = typer.Option(None, "--version", "-v", min=1, help="Registered version to promote."),
    auto: bool = typer.Option(
        False,
        "--auto",
        help="Choose between the champion and the challenger: the model "
        "that passes every fairness check at the smallest AUC cost (within --max-auc-cost).",
    ),
    max_auc_cost: float = typer.Option(
        None,
        "--max-auc-cost",
        min=0,
        max=1,
        help="With --auto: the most AUC to give up for a model that passes every fairness check "
        f"({from_settings('promotion.max_auc_cost')}).",
    ),
    name: str = typer.Option(None, "--name", help="Registered model name. Default: from --schema's name."),
    schema: str = schema_option("Schema file whose name names the model (default: built-in)."),
    alias: str = typer.Option(CHAMPION_ALIAS, "--alias", help="Alias to move (champion or challenger)."),
) -> None:
    """Point the 'champion' alias (or another) at a registered version; serving follows the alias.

    With --auto, the promotion gate decides between the versions behind 'champion' and 'challenger' and
    writes its one-line reason into the chosen version's registry description.

    Exit codes: 0 the alias points at the version given, or at the one the gate chose; 1 the gate moved nothing
    (no candidate qualifies: the line says why); 2 it could not run (the one-line message says what to do).
    """
    from thinfile.training import promotion
    from thinfile.training.registry import ModelNotFoundError
    from thinfile.training.tracking import PromotionError
    from thinfile.training.tracking import promote as move_alias

    if (version is None) == (not auto):
        raise fail("give either --version N or --auto")
    try:
        model = model_name(name, load_schema(schema))
        if auto:
            gate = load_settings().promotion
            if max_auc_cost is not None:
                gate = gate.model_copy(update={"max_auc_cost": max_auc_cost})
            decision = promotion.choose(promotion.aliased_candidates(model, gate), gate)
            promotion.apply(model, decision, alias)
            results.print(promotion.outcome(model, decision, alias))
            if decision.chosen is None:
                raise typer.Exit(EXIT_NOTHING_MOVED)
            return
        previous, new = move_alias(version, model, alias)
    except (PromotionError, ModelNotFoundError, SchemaError) as err:
        raise fail(str(err)) from None
    was = f" (was version {previous})" if previous else ""
    results.print(f"[green]{model}@{alias}[/] -> version {new}{was}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("promote")(promote)
