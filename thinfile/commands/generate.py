"""`thinfile generate`: a seeded synthetic thin-file population as partitioned Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError

from thinfile.commands.common import (
    console,
    fail,
    from_settings,
    population_rows_option,
    results,
    row_progress,
    share_option,
)
from thinfile.config import load_settings
from thinfile.features.schema import SchemaError, load_schema
from thinfile.features.settings import BureauEraPolicy, GeneratorParams, HistorySettings, default_data_dir

if TYPE_CHECKING:
    from thinfile.features.history import GeneratedHistory
    from thinfile.features.population import GeneratedPopulation


def generate(
    rows: int = population_rows_option("How many people to generate."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seed: the same seed and rows give the same bytes."),
    out: Path = typer.Option(
        None, "--out", "-o", help="Output folder (default: data/synthetic under THINFILE_HOME or the current folder)."
    ),
    rural_capacity_gap: float = typer.Option(
        None, help="True capacity gap of rural people in sd units (0 = equally creditworthy)."
    ),
    rural_footprint: float = typer.Option(
        None, help="Digital activity of rural online users relative to urban (0-1]; lower = thinner footprint."
    ),
    history: bool = typer.Option(
        False,
        "--history",
        help="Write a lending history instead: through-the-door applicants with application months, a historical "
        "policy's decision `booked`, outcomes only for booked rows, true_pd for all (default out: "
        "data/synthetic-history).",
    ),
    explore_share: float = share_option(
        "--explore-share",
        f"With --history: share of would-be rejects approved at random ({from_settings('history.explore_share')}).",
    ),
    book_share: float = share_option(
        "--book-share",
        "With --history: share of applicants the bureau-era policy books "
        f"({from_settings('history.policy.book_share')}).",
    ),
    months: int = typer.Option(
        None, "--months", help=f"With --history: months the applications span ({from_settings('history.months')})."
    ),
    start_month: str = typer.Option(
        None, "--start-month", help=f"With --history: first month, YYYY-MM ({from_settings('history.start_month')})."
    ),
) -> None:
    """Generate synthetic thin-file borrowers with a known true default probability.

    Writes OUT/population/part-NNNNN.parquet (one part per 250,000 rows, bounded memory) and OUT/DATACARD.md
    with parameters, realised marginals and the seed facts each target comes from. With --history, also
    OUT/schema.yaml (the schema naming the booked column) and the history's section in the data card.
    """
    from thinfile.features.history import generate_history
    from thinfile.features.population import generate_population

    try:
        schema = load_schema()
    except SchemaError as err:
        raise fail(str(err)) from None
    settings = load_settings()
    overrides = {
        k: v
        for k, v in {"rural_capacity_gap": rural_capacity_gap, "rural_footprint_intensity": rural_footprint}.items()
        if v is not None
    }
    try:
        params = GeneratorParams(**{**settings.generator.model_dump(), **overrides})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise fail(f"bad generator parameter: {problems}") from None
    if not history:
        if explore_share is not None or book_share is not None or months is not None or start_month is not None:
            raise fail("--explore-share, --book-share, --months and --start-month need --history")
        out = out or default_data_dir()
        with row_progress("generating", rows) as advance:
            result = generate_population(schema, out, rows, seed, params, on_chunk=advance)
        report_population(result)
        return
    try:
        known = settings.history
        policy = BureauEraPolicy(
            **{**known.policy.model_dump(), **({"book_share": book_share} if book_share is not None else {})}
        )
        history_settings = HistorySettings(
            **{
                **known.model_dump(),
                "policy": policy,
                **({"explore_share": explore_share} if explore_share is not None else {}),
                **({"months": months} if months is not None else {}),
                **({"start_month": start_month} if start_month is not None else {}),
            }
        )
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise fail(f"bad history parameter: {problems}") from None
    out = out or default_data_dir().parent / "synthetic-history"
    console.print("setting the bureau-era policy's cut-off on a reference sample")
    with row_progress("generating history", rows) as advance:
        found = generate_history(schema, out, rows, seed, params, history_settings, on_chunk=advance)
    report_history(found)


def report_history(result: GeneratedHistory) -> None:
    """Where the history went, its booked shares, and how to train on it."""
    s = result.summary
    results.print(f"[green]wrote[/] {result.rows:,} applicants to {result.parts_dir}  (data card: {result.datacard})")
    results.print(
        f"booked {s['booked_share']:.1%} (explored {s['explored_share']:.1%}) · thin-file booked "
        f"{s['booked_share_thin_file']:.1%} · rural booked {s['booked_share_rural']:.1%} · expected bad rate booked "
        f"{s['expected_bad_rate_booked']:.2%} vs {s['expected_bad_rate_ttd']:.2%} through the door"
    )
    results.print(
        f"train on it: thinfile train --data {result.parts_dir.parent} --schema {result.schema_file} "
        "--reject-inference parcel"
    )


def report_population(result: GeneratedPopulation) -> None:
    """Where the population went and its key marginals."""
    r = result.realised
    results.print(f"[green]wrote[/] {result.rows:,} rows to {result.parts_dir}  (data card: {result.datacard})")
    results.print(
        f"thin-file {r['thin_file_share']:.1%} · rural {r['rural_share']:.1%} · default rate {r['default_rate']:.2%} "
        f"· oracle AUC {r['oracle_auc']:.3f} · targets met: "
        f"{'yes' if result.all_within_tolerance else 'NO (see data card)'}"
    )


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
