"""The one scoring function of batch jobs: validate a chunk, score the good rows, set the bad ones aside.

Arrow in, Arrow out: both engines (the embedded process pool and Spark's tasks, through the worker's
`score_task`) call `score_table` on one chunk. Validation is `validate_arrow` (`validate_table`'s rules
and words, read straight from Arrow, with the model matrix `Schema.to_matrix` would give), the scores
are `Scorer.explain`, as everywhere else; the output columns are then built from the explanation's
arrays (reason codes and texts taken from the schema's names by index), never row by row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thinfile.features.io import WrongFields
from thinfile.features.schema import Schema
from thinfile.features.validate import MatrixReport, ValidationReport, validate_arrow, validate_table
from thinfile.serving.batch.input import ChunkRows
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.batch.stats import chunk_stats
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.explain import Explanation

REJECT_COLUMNS = ["id", "columns", "reason", "source", "row"]
REJECTS_SCHEMA = pa.schema([(c, pa.int64() if c == "row" else pa.string()) for c in REJECT_COLUMNS])
WHOLE_ROW = "(whole row)"
"""what a reject names as its bad column when the row could not be split into columns"""


class BatchSchemaError(ValueError):
    """A chunk lacks required columns (the pre-flight check normally stops this before any output)."""


@dataclass(frozen=True)
class ModelTag:
    """Name, version and content hash of the model written on every output row and in the manifest."""

    name: str
    version: str
    fingerprint: str

    @staticmethod
    def fingerprint_of(scorer: Scorer) -> str:
        """sha256 of the booster and everything that turns its output into a decision."""
        digest = hashlib.sha256(scorer.booster.model_to_string().encode())
        digest.update(repr((tuple(scorer.calibration), scorer.scale, scorer.cutoffs)).encode())
        return digest.hexdigest()[:16]

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class ChunkResult:
    """Scored rows and rejects of one chunk (Arrow tables), and its additive summary."""

    scores: pa.Table
    rejects: pa.Table
    stats: dict | None
    rejected_by_column: dict[str, int] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        n_scored, n_rejected = self.scores.num_rows, self.rejects.num_rows
        return {"rows_in": n_scored + n_rejected, "scored": n_scored, "rejected": n_rejected}


def output_columns(schema: Schema, top: int) -> list[str]:
    reasons = [f"reason_{k}_{what}" for k in range(1, top + 1) for what in ("code", "text", "points_lost")]
    head = [schema.id_column, "score", "band", "pd", "decision"]
    return [*head, *reasons, "model_name", "model_version", "source", "row"]


def _column_type(name: str) -> pa.DataType:
    if name in ("score", "pd") or name.endswith("_points_lost"):
        return pa.float64()
    return pa.int64() if name == "row" else pa.string()


def scores_schema(schema: Schema, top: int) -> pa.Schema:
    """Arrow types of the scores parts: score, PD and points as float64, the row number int64, the rest text."""
    return pa.schema([(c, _column_type(c)) for c in output_columns(schema, top)])


def _text(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string())


def _labels(values: np.ndarray) -> pa.DictionaryArray:
    """A column of a few distinct labels (band, decision) as a dictionary array: hashed once, never row by row."""
    codes, names = pd.factorize(values)
    return pa.DictionaryArray.from_arrays(codes.astype(np.int32), _text(np.asarray(names, dtype=object)))


def _repeat(text: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), pa.array([text], pa.string()))


def _reason_columns(explanation: Explanation, top: int) -> dict[str, pa.Array]:
    """reason_k_{code,text,points_lost} for k = 1..top: indices into the schema's names and texts; null pads."""
    features = explanation.schema.features
    p, n = len(features), len(explanation)
    codes = pa.array([f.name for f in features], pa.string())
    when_missing = [r.reason_when_missing for r in explanation.schema.readings]
    texts = pa.array([f.reason for f in features] + when_missing, pa.string())
    k_have = min(top, explanation.reason_index.shape[1])
    index = np.full((n, top), -1, dtype=np.int32)
    index[:, :k_have] = explanation.reason_index[:, :k_have]
    lost = np.zeros((n, top))
    lost[:, :k_have] = -explanation.reason_points[:, :k_have]
    none = index < 0
    safe = np.where(none, 0, index)
    missing = np.take_along_axis(np.isnan(explanation.X), safe, axis=1) & ~none
    text_index = (safe + p * missing).astype(np.int32)
    out: dict[str, pa.Array] = {}
    for k in range(top):
        out[f"reason_{k + 1}_code"] = pa.DictionaryArray.from_arrays(pa.array(safe[:, k], mask=none[:, k]), codes)
        out[f"reason_{k + 1}_text"] = pa.DictionaryArray.from_arrays(pa.array(text_index[:, k], mask=none[:, k]), texts)
        out[f"reason_{k + 1}_points_lost"] = pa.array(lost[:, k], pa.float64(), mask=none[:, k])
    return out


def _ids(report: ValidationReport, id_column: str, valid: np.ndarray) -> pa.Array:
    """The valid rows' ids as text, as validation read them."""
    return _text(report.clean[id_column].to_numpy(dtype=object)[valid])


def scores_table(
    explanation: Explanation,
    ids: pa.Array,
    tag: ModelTag,
    schema: Schema,
    top: int,
    source: str = "",
    rows: np.ndarray | None = None,
) -> pa.Table:
    """The scores part of a chunk, column by column from the explanation's arrays; each row also names its input
    file and its row there (`rows`, counted from 0), as a reject does, so that a score whose id repeats can still
    be traced to its row.

    Text columns other than the id are dictionary arrays (a few distinct values each), which the Parquet
    writer stores as they are (readers of the parts see ordinary text).
    """
    n = len(explanation)
    columns: dict[str, pa.Array] = {
        schema.id_column: ids,
        "score": pa.array(explanation.score, pa.float64()),
        "band": _labels(explanation.band),
        "pd": pa.array(explanation.pd, pa.float64()),
        "decision": _labels(explanation.decision),
        **_reason_columns(explanation, top),
        "model_name": _repeat(tag.name, n),
        "model_version": _repeat(tag.version, n),
        "source": _repeat(source, n),
        "row": pa.array(np.arange(n) if rows is None else rows, pa.int64()),
    }
    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


def rejects_table(report: ValidationReport | MatrixReport, source: str, rows: ChunkRows | int) -> pa.Table:
    """One row per rejected input row, in file order: id, the bad columns, every reason, source file and row number
    in it (`rows`: where the chunk's rows are in the file, or its first row's number), the chunk's rows with the
    wrong number of fields among them."""
    where = ChunkRows.of(rows)
    rejects = report.rejects()
    wrong = where.wrong_fields
    if not len(rejects) and not wrong:
        return REJECTS_SCHEMA.empty_table()
    numbers = where.numbers(rejects["row"].to_numpy(dtype=np.int64))
    table = pa.Table.from_arrays(
        [
            _text(rejects["id"].to_numpy(dtype=object)),
            _text(rejects["columns"].to_numpy(dtype=object)),
            _text(rejects["reason"].to_numpy(dtype=object)),
            _text(np.full(len(numbers), source, dtype=object)),
            pa.array(numbers, pa.int64()),
        ],
        schema=REJECTS_SCHEMA,
    )
    if not wrong:
        return table
    unread = pa.Table.from_arrays(
        [
            _text(np.full(len(wrong), "", dtype=object)),
            _text(np.full(len(wrong), WHOLE_ROW, dtype=object)),
            _text(np.array([wrong_fields_reason(w) for w in wrong], dtype=object)),
            _text(np.full(len(wrong), source, dtype=object)),
            pa.array([w.row for w in wrong], pa.int64()),
        ],
        schema=REJECTS_SCHEMA,
    )
    return pa.concat_tables([table, unread]).sort_by("row")


def wrong_fields_reason(w: WrongFields) -> str:
    return (
        f"the row has {w.fields} fields where the header has {w.expected} (a stray comma or quote, or a cut line), "
        "so no value in it can be read; fix the row and score it again"
    )


def rejected_by_column(rejects: pa.Table) -> dict[str, int]:
    """Rejected rows per column named in their reasons (a row with two bad columns counts for both)."""
    if not rejects.num_rows:
        return {}
    named = pc.list_flatten(pc.split_pattern(rejects.column("columns"), ","))
    counts = pc.value_counts(named)
    return {str(c["values"]): int(c["counts"]) for c in counts.to_pylist()}


def score_table(
    table: pa.Table,
    scorer: Scorer,
    tag: ModelTag,
    settings: BatchSettings,
    *,
    source: str = "",
    first_row: ChunkRows | int = 0,
) -> ChunkResult:
    """Scores of the valid rows, rejects (id, columns, reason, source, row) of the others, and their summary.

    `source` names the chunk's input file; `first_row` is the chunk's first row's number in that file, or where its
    rows are there (`InputPart.chunk_rows`) with the rows it sets aside unread.
    """
    schema, top = scorer.schema, settings.top_reasons
    report = validate_arrow(table, schema)
    rejects, by_column = _rejects_of(report, source, first_row)
    valid = report.valid_mask
    if not valid.any():
        return ChunkResult(scores_schema(schema, top).empty_table(), rejects, None, by_column)
    everyone = bool(valid.all())
    keep = None if everyone else pa.array(valid)
    explanation = scorer.explain(report.matrix if keep is None else report.matrix[valid], top)
    ids = report.ids if keep is None else report.ids.filter(keep)
    scores = scores_table(explanation, ids, tag, schema, top, source, _row_numbers(valid, everyone, first_row))
    groups = table.select([c for c in schema.protected_names if c in table.column_names])
    groups = groups if keep is None else groups.filter(keep)
    return ChunkResult(scores, rejects, chunk_stats(scorer, explanation, groups, settings), by_column)


def _row_numbers(valid: np.ndarray, everyone: bool, first_row: ChunkRows | int) -> np.ndarray:
    """The scored rows' numbers in their input file."""
    return ChunkRows.of(first_row).numbers(np.arange(len(valid)) if everyone else np.flatnonzero(valid))


def _rejects_of(
    report: ValidationReport | MatrixReport, source: str, first_row: ChunkRows | int
) -> tuple[pa.Table, dict[str, int]]:
    """The chunk's rejects and their count per column; a table-level error (a missing column) stops the job."""
    if report.table_errors:
        raise BatchSchemaError(f"{_where(source)}: {'; '.join(report.table_errors)}")
    rejects = rejects_table(report, source, first_row)
    return rejects, rejected_by_column(rejects)


def _where(source: str) -> str:
    return source or "input"


def score_frame(
    frame: pd.DataFrame,
    scorer: Scorer,
    tag: ModelTag,
    settings: BatchSettings,
    *,
    source: str = "",
    first_row: int = 0,
) -> ChunkResult:
    """`score_table` for a pandas frame."""
    return _score(frame, scorer, tag, settings, source, first_row)


def _score(
    frame: pd.DataFrame,
    scorer: Scorer,
    tag: ModelTag,
    settings: BatchSettings,
    source: str,
    first_row: int,
) -> ChunkResult:
    schema, top = scorer.schema, settings.top_reasons
    report = validate_table(frame, schema)
    rejects, by_column = _rejects_of(report, source, first_row)
    valid = report.valid_mask
    if not valid.any():
        return ChunkResult(scores_schema(schema, top).empty_table(), rejects, None, by_column)
    X = schema.to_matrix(report.clean)
    everyone = bool(valid.all())
    explanation = scorer.explain(X if everyone else X[valid], top)
    rows = _row_numbers(valid, everyone, first_row)
    scores = scores_table(explanation, _ids(report, schema.id_column, valid), tag, schema, top, source, rows)
    groups = _groups(report.clean, schema, None if everyone else valid)
    return ChunkResult(scores, rejects, chunk_stats(scorer, explanation, groups, settings), by_column)


def _groups(clean: pd.DataFrame, schema: Schema, valid: np.ndarray | None) -> pa.Table:
    """The protected attributes of the scored rows, as Arrow columns."""
    names = [c for c in schema.protected_names if c in clean.columns]
    rows = clean[names] if valid is None else clean.loc[valid, names]
    return pa.Table.from_pandas(rows.astype(object).where(rows.notna(), None), preserve_index=False)
