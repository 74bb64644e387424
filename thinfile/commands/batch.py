"""`thinfile batch-score INPUT OUTPUT`: score a whole book of applicants, on this machine or with Spark."""

from __future__ import annotations

from pathlib import Path

import typer

from thinfile.commands.common import console, fail, model_name
from thinfile.config import Settings
from thinfile.training.registry import CHAMPION_ALIAS


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
    schema: str = typer.Option(None, "--schema", help="Schema file whose name names the model (default: built-in)."),
    engine: str = typer.Option("embedded", "--engine", "-e", help="embedded (this machine, every core) or spark."),
    master: str = typer.Option(None, "--master", help="Spark master for --engine spark (default local[*])."),
    chunk_rows: int = typer.Option(
        None,
        "--chunk-rows",
        min=1,
        help="Rows per output part; bounds memory per worker (default from settings: 50,000).",
    ),
    workers: int = typer.Option(
        None, "--workers", min=1, help="Scoring processes of the embedded engine (default: one per core)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Discard a different earlier job found in OUTPUT."),
) -> None:
    """Score every row of INPUT with the model; bad rows go to rejects with their reasons; nothing is lost.

    Each output part is written atomically, so a job that was killed resumes where it stopped when the
    same command is run again. At the end rows in = scored + rejected is checked and printed, and a
    population report (score mix, approval at the cut-offs, PSI against training, approval by group)
    is written beside the output.
    """
    from thinfile.features.schema import SchemaError, load_schema
    from thinfile.serving.batch import (
        BatchInputError,
        BatchIntegrityError,
        BatchOutputError,
        BatchSchemaError,
    )
    from thinfile.serving.batch import batch_score as run
    from thinfile.serving.batch.spark import SparkUnavailableError
    from thinfile.training.registry import ModelNotFoundError

    settings = Settings()
    try:
        result = run(
            input,
            output,
            model,
            name=model_name(name, load_schema(schema)),
            engine=engine,
            master=master,
            chunk_rows=chunk_rows,
            workers=workers,
            settings=settings.batch,
            fairness=settings.fairness,
            groups=settings.audit,
            stability=settings.stability,
            overwrite=overwrite,
            progress=True,
            console=console,
        )
    except (
        BatchInputError,
        BatchOutputError,
        BatchSchemaError,
        ModelNotFoundError,
        SparkUnavailableError,
        SchemaError,
        ValueError,
    ) as err:
        raise fail(str(err)) from None
    except BatchIntegrityError as err:
        raise fail(str(err), code=3) from None
    except KeyboardInterrupt:
        raise fail("interrupted; finished parts are kept, run the same command again to resume", code=130) from None
    console.print(result.summary())


def register(app: typer.Typer) -> None:
    app.command("batch-score")(batch_score)
