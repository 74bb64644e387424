"""The one scoring function of batch jobs: validate a chunk, score the good rows, set the bad ones aside.

Both engines (embedded process pool and Spark `mapInPandas`) call `score_frame`, so they cannot differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinfile.features.schema import Schema
from thinfile.features.validate import validate_table
from thinfile.serving.batch.report import chunk_stats
from thinfile.serving.batch.settings import BatchSettings
from thinfile.training.registry import model_name_for
from thinfile.training.scorer.artefact import Scorer

REJECT_COLUMNS = ["id", "columns", "reason", "source", "row"]


class BatchSchemaError(ValueError):
    """A chunk lacks required columns (the pre-flight check normally stops this before any output)."""


@dataclass(frozen=True)
class ModelTag:
    """Name, version and content hash of the model written on every output row and in the manifest."""

    name: str
    version: str
    fingerprint: str

    @classmethod
    def of(cls, scorer: Scorer) -> ModelTag:
        digest = hashlib.sha256(scorer.booster.model_to_string().encode())
        digest.update(repr((tuple(scorer.calibration), scorer.scale, scorer.cutoffs)).encode())
        fp = digest.hexdigest()[:16]
        return cls(
            name=str(scorer.meta.get("name") or model_name_for(scorer.schema)),
            version=str(scorer.meta.get("version") or f"local-{fp[:8]}"),
            fingerprint=fp,
        )

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class ChunkResult:
    scores: pd.DataFrame
    rejects: pd.DataFrame
    stats: dict | None

    @property
    def counts(self) -> dict[str, int]:
        n_scored, n_rejected = len(self.scores), len(self.rejects)
        return {"rows_in": n_scored + n_rejected, "scored": n_scored, "rejected": n_rejected}

    @property
    def rejected_by_column(self) -> dict[str, int]:
        """Rejected rows per column named in their reasons (a row with two bad columns counts for both)."""
        if not len(self.rejects):
            return {}
        return self.rejects["columns"].str.split(",").explode().value_counts().astype(int).to_dict()


def output_columns(schema: Schema, top: int) -> list[str]:
    reasons = [f"reason_{k}_{what}" for k in range(1, top + 1) for what in ("code", "text", "points_lost")]
    return [schema.id_column, "score", "band", "pd", "decision", *reasons, "model_name", "model_version"]


def empty_scores(schema: Schema, top: int) -> pd.DataFrame:
    cols = output_columns(schema, top)
    floats = {"score", "pd"} | {c for c in cols if c.endswith("_points_lost")}
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in floats else "object") for c in cols})


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else "object") for c in REJECT_COLUMNS})


def score_frame(
    frame: pd.DataFrame,
    scorer: Scorer,
    tag: ModelTag,
    settings: BatchSettings,
    *,
    source: str = "",
    first_row: int = 0,
) -> ChunkResult:
    """Scores of the valid rows, rejects (id, columns, reason, source, row) of the others, and their summary."""
    schema = scorer.schema
    report = validate_table(frame, schema)
    if report.table_errors:
        raise BatchSchemaError(f"{source or 'input'}: {'; '.join(report.table_errors)}")
    rejects = report.rejects()
    rejects = (
        pd.DataFrame(
            {
                "id": rejects["id"].astype(object),
                "columns": rejects["columns"].astype(object),
                "reason": rejects["reason"].astype(object),
                "source": source,
                "row": (rejects["row"].to_numpy(dtype=np.int64) + first_row),
            },
            columns=REJECT_COLUMNS,
        )
        if len(rejects)
        else empty_rejects()
    )
    valid = report.valid_mask
    if not valid.any():
        return ChunkResult(empty_scores(schema, settings.top_reasons), rejects, None)
    clean = report.clean.loc[valid].reset_index(drop=True)
    explanation = scorer.explain(schema.to_matrix(clean), settings.top_reasons)
    flat = explanation.to_frame()
    scores = pd.DataFrame({schema.id_column: clean[schema.id_column].astype(object)})
    for col in output_columns(schema, settings.top_reasons)[1:-2]:
        scores[col] = flat[col].to_numpy()
    scores["model_name"] = tag.name
    scores["model_version"] = tag.version
    groups = clean[[c for c in schema.protected_names if c in clean.columns]]
    return ChunkResult(scores, rejects, chunk_stats(scorer, explanation, groups, settings))
