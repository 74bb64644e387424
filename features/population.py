"""Write a generated population as partitioned Parquet, chunk by chunk, with its DATACARD.md."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from thinfile.features.datacard import Marginals, check_targets, render_datacard
from thinfile.features.generator import arrow_schema, chunk_columns, chunk_plan, chunk_table
from thinfile.features.schema import Schema
from thinfile.features.settings import PARTS_DIR, GeneratorParams


@dataclass(frozen=True)
class GeneratedPopulation:
    parts_dir: Path
    datacard: Path
    rows: int
    realised: dict[str, float]
    all_within_tolerance: bool


def write_part(table: pa.Table, path: Path) -> None:
    """Write one Parquet part atomically (temporary name, then rename), with page checksums, so that thinfile's
    readers (which verify them) catch a damaged page instead of reading other numbers."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="snappy", write_page_checksum=True)
    os.replace(tmp, path)


def _make_part(job: tuple[Schema, GeneratorParams, np.random.SeedSequence, int, int, Path, pa.Schema]) -> Marginals:
    schema, params, seed, start, n, path, like = job
    cols = chunk_columns(schema, params, seed, start, n)
    write_part(chunk_table(cols, like), path)
    marginals = Marginals(schema)
    marginals.update(cols)
    return marginals


def generate_population(
    schema: Schema,
    out: Path,
    rows: int,
    seed: int,
    params: GeneratorParams | None = None,
    datacard: Path | None = None,
    on_chunk: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> GeneratedPopulation:
    """Generate `rows` people into `out/population/part-*.parquet` (parts in parallel) and write the data card."""
    params = params or GeneratorParams()
    parts = out / PARTS_DIR
    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob("part-*.parquet"):
        stale.unlink()
    plan = chunk_plan(rows, params.chunk_rows)
    seeds = np.random.SeedSequence(seed).spawn(len(plan))
    like = arrow_schema(schema, params)
    jobs = [
        (schema, params, s, start, n, parts / f"part-{i:05d}.parquet", like)
        for i, ((start, n), s) in enumerate(zip(plan, seeds, strict=True))
    ]
    marginals = Marginals(schema)
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_make_part, jobs) if workers > 1 else map(_make_part, jobs):
            marginals.merge(part)
            if on_chunk:
                on_chunk(part.rows)
    card = datacard or out / "DATACARD.md"
    card.write_text(render_datacard(params, seed, rows, marginals, str(parts)))
    realised = marginals.realised()
    within = all(ok for _, _, ok in check_targets(params, realised))
    return GeneratedPopulation(parts, card, rows, realised, within)


def planned_chunks(rows: int, params: GeneratorParams | None = None) -> int:
    return len(chunk_plan(rows, (params or GeneratorParams()).chunk_rows))
