"""`thinfile batch-score INPUT OUTPUT`: score a whole book of applicants, on this machine or with Spark."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import typer

from thinfile.commands.common import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Terminated,
    console,
    fail,
    from_settings,
    get_current_context,
    model_name,
    results,
    schema_option,
    warn_of_schema,
)
from thinfile.config import BatchSettings, load_settings
from thinfile.features.words import counted
from thinfile.training.scorer.explain import MOST_TOP_REASONS
from thinfile.training.settings import CHAMPION_ALIAS

EXIT_NOTHING_SCORED = 1
EXIT_FAILED = 2
EXIT_UNRECONCILED = 3


class StopSignals:
    """Ctrl-C and SIGTERM while a job runs: each raises at once (KeyboardInterrupt, Terminated) and is remembered.

    Python does not raise an exception raised while it runs a weakref or ctypes callback: it hands it to
    `sys.unraisablehook`, which would print a traceback ("Exception ignored in ..."), and the job would go on to
    the end and exit 0. While the job runs, those two are not printed; `check`, called as each part is committed
    and once the job returns, raises the signal's exception again."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._hook = sys.unraisablehook

    def __enter__(self) -> StopSignals:
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._stop)
        except ValueError:  # not the main thread (e.g. called from a test runner's thread)
            pass
        self._hook = sys.unraisablehook
        sys.unraisablehook = self._unraisable
        return self

    def __exit__(self, *exc: object) -> None:
        sys.unraisablehook = self._hook
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def _unraisable(self, unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, KeyboardInterrupt | Terminated):
            self._hook(unraisable)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self.check()

    def check(self) -> None:
        """Raise what the signal that arrived raises (nothing when none did)."""
        if self.signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.signum == signal.SIGTERM:
            raise Terminated


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _most_rejected(report: dict) -> str:
    from thinfile.serving.batch.scoring import WHOLE_ROW

    by_column = report.get("job", {}).get("rejected_by_column") or {}
    top = sorted(by_column.items(), key=lambda kv: -kv[1])[:3]
    named = {WHOLE_ROW: "a wrong number of fields"}
    return ", ".join(f"{named.get(column, column)} ({counted(rows, 'row')})" for column, rows in top)


def batch_score(
    input: Path = typer.Argument(
        ...,
        help="Applicants to score: a .parquet or .csv file, or a folder of them "
        "(hive-partitioned folders such as region=north/ included).",
    ),
    output: Path = typer.Argument(
        ...,
        help="Folder for scores/ and rejects/ (Parquet parts), manifest.json and "
        "population_report.{json,html}. Rerunning into the same folder resumes the job.",
    ),
    model: str = typer.Option(
        CHAMPION_ALIAS,
        "--model",
        "-m",
        help="Registry alias or version, a models:/ URI, or a folder holding a saved scorer.",
    ),
    name: str = typer.Option(None, "--name", help="Registered model name. Default: from --schema's name."),
    schema: str = schema_option("Schema file whose name names the model (default: built-in)."),
    engine: str = typer.Option(
        "embedded",
        "--engine",
        "-e",
        help="embedded (this machine, every core) or spark (Spark schedules the same chunks; INPUT and OUTPUT "
        "must be on storage every executor sees). Either engine resumes the other's job.",
    ),
    master: str = typer.Option(
        None, "--master", help="Spark master for --engine spark (default local[*]); ignored by the embedded engine."
    ),
    chunk_rows: int = typer.Option(
        None,
        "--chunk-rows",
        min=1,
        help=f"Rows per output part; bounds memory per worker ({from_settings('batch.chunk_rows')}).",
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        min=1,
        help="Scoring processes of the embedded engine. Default: one per core, and none for a book of at most "
        f"{BatchSettings().in_process_rows:,} rows left to score, which this process scores sooner than workers "
        "start; given, they are started (1: none). Spark uses its own cores.",
    ),
    max_wrong_field_rows: int = typer.Option(
        None,
        "--max-wrong-field-rows",
        min=0,
        help="CSV rows with another number of fields than the header that one file may hold, each a reject with "
        f"its row ({from_settings('batch.max_wrong_field_rows')}); more and the file is refused.",
    ),
    approve_cutoff: float = typer.Option(
        None,
        "--approve-cutoff",
        "--cutoff",
        envvar="THINFILE_APPROVE_CUTOFF",
        help="Approve at or above this score instead of the model's cut-off, as the service does with the same "
        "variable (--cutoff, as `train` names it, is the same); given alone, the refer cut-off moves with it, keeping "
        "the model's refer band.",
    ),
    refer_cutoff: float = typer.Option(
        None,
        "--refer-cutoff",
        envvar="THINFILE_REFER_CUTOFF",
        help="Refer from this score up to the approve cut-off instead of the model's.",
    ),
    top_reasons: int = typer.Option(
        None,
        "--top-reasons",
        envvar="THINFILE_TOP_REASONS",
        min=1,
        max=MOST_TOP_REASONS,
        help="Reason codes written per row, as the service gives with the same variable "
        f"({from_settings('batch.top_reasons')}).",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard a different earlier job found in OUTPUT."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of a failure instead of one line."),
) -> None:
    """Score every row of INPUT with the model; bad rows go to rejects with their reasons; nothing is lost.

    OUTPUT holds scores/ (one row per scored applicant: score, band, PD, decision, reason codes) and rejects/
    (id, the bad columns, every reason in words, the source file and the row in it, counted from 0).

    Each output part is written atomically, so a job that was stopped (Ctrl-C, SIGTERM, SIGKILL, a full
    disk, a dead worker) resumes where it stopped when the same command is run again. Only one job at a
    time can write to an OUTPUT folder. At the end rows in = scored + rejected is checked and printed,
    and a population report (score mix, approval at the cut-offs, PSI against training, approval by
    group, duplicate ids) is written beside the output.

    Exit codes: 0 scored; 1 every row was rejected (nothing scored); 2 the job could not run or stopped
    part-way (the one-line message says what to do); 3 counts did not reconcile; 130 interrupted;
    141 its output was closed (`| head`); 143 terminated (SIGTERM).
    """
    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.serving.batch import (
        BatchInputError,
        BatchIntegrityError,
        BatchOutputError,
        BatchSchemaError,
        BatchStoppedError,
        kept_parts,
    )
    from thinfile.serving.batch import batch_score as run
    from thinfile.serving.batch.spark import SparkUnavailableError
    from thinfile.training.registry import ModelNotFoundError

    context = get_current_context(silent=True)
    if debug and context is not None:
        context.find_root().params["debug"] = True  # the CLI's error guard shows tracebacks too
    debug = debug or bool(context and context.find_root().params.get("debug"))
    settings = load_settings()
    given = settings.batch.top_reasons
    if top_reasons is not None and "top_reasons" in settings.batch.model_fields_set and top_reasons != given:
        raise fail(
            f"--top-reasons or THINFILE_TOP_REASONS says {top_reasons}, the settings' batch.top_reasons says {given}: "
            "give the number once"
        )
    try:
        declared = load_schema(schema)
        if schema is not None and str(schema) != "synthetic":
            warn_of_schema(declared)
        with StopSignals() as signals:
            result = run(
                input,
                output,
                model,
                name=model_name(name, declared),
                schema=declared if schema is not None else None,
                engine=engine,
                master=master,
                chunk_rows=chunk_rows,
                workers=workers,
                settings=settings.batch.model_copy(
                    update={
                        k: v
                        for k, v in (("max_wrong_field_rows", max_wrong_field_rows), ("top_reasons", top_reasons))
                        if v is not None
                    }
                ),
                fairness=settings.fairness,
                groups=settings.audit,
                stability=settings.stability,
                overwrite=overwrite,
                progress=True,
                console=console,
                stop=signals.check,
                approve_cutoff=approve_cutoff,
                refer_cutoff=refer_cutoff,
            )
            signals.check()  # a signal after the last part, whose exception Python did not raise
    except (
        BatchInputError,
        BatchOutputError,
        BatchSchemaError,
        BatchStoppedError,
        ModelNotFoundError,
        SparkUnavailableError,
        SchemaError,
        ValueError,
    ) as err:
        if debug:
            raise
        raise fail(one_line(err), code=EXIT_FAILED) from None
    except BatchIntegrityError as err:
        if debug:
            raise
        raise fail(one_line(err), code=EXIT_UNRECONCILED) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; {kept_parts(output)}", code=EXIT_INTERRUPTED) from None
    except Terminated:
        raise fail(f"stopped by SIGTERM; {kept_parts(output)}", code=EXIT_TERMINATED) from None
    results.print(result.summary(), soft_wrap=True, highlight=False)
    if result.rows_in and not result.scored:
        raise fail(
            f"no row could be scored: all {result.rows_in:,} rows were rejected, most often for "
            f"{_most_rejected(result.report)}; the reasons are in {result.output / 'rejects'}",
            code=EXIT_NOTHING_SCORED,
        )


def register(app: typer.Typer) -> None:
    app.command("batch-score")(batch_score)
