"""Additive summaries of scored chunks: computed where a chunk is scored, summed by any engine, read by the report.

`chunk_stats` counts one chunk (score histogram, bands, decisions, rows at the cut-offs, PSI bins against
the training reference, rows and approvals per protected value); `merge_stats` adds two summaries. Protected
values are kept as they came (a JSON key per distinct value) and turned into group labels once, by the
report, over the whole book. This module stays light: scoring workers import it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from thinfile.features.schema import FeatureType
from thinfile.serving.batch.settings import BatchSettings
from thinfile.training.scorer.artefact import Scorer
from thinfile.training.scorer.explain import Explanation
from thinfile.training.stability import bin_counts

MISSING_KEY = "null"


def score_grid(scorer: Scorer, step: float) -> np.ndarray:
    return np.arange(scorer.scale.min_score, scorer.scale.max_score + step, step)


def _label_counts(labels: np.ndarray, names: list[str]) -> dict[str, int]:
    codes, found = pd.factorize(labels)
    counts = dict(zip(found, np.bincount(codes, minlength=len(found)).tolist(), strict=True))
    return {name: int(counts.get(name, 0)) for name in names}


def value_counts(column: pa.ChunkedArray | pa.Array, approved: np.ndarray) -> dict[str, list[int]]:
    """[rows, approved] per distinct value of a column, keyed by the value as JSON ("null" for missing)."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries().combine_chunks() if encoded.num_chunks else pa.array([], encoded.type)
    keys = [json.dumps(v) for v in encoded.dictionary.to_pylist()] + [MISSING_KEY]
    index = encoded.indices.fill_null(len(keys) - 1).to_numpy(zero_copy_only=False)
    rows = np.bincount(index, minlength=len(keys))
    yes = np.bincount(index, weights=approved, minlength=len(keys))
    out: dict[str, list[int]] = {}
    for key, n, a in zip(keys, rows, yes, strict=True):
        if n:
            total = out.setdefault(key, [0, 0])
            total[0] += int(n)
            total[1] += int(a)
    return out


def chunk_stats(scorer: Scorer, explanation: Explanation, groups: pa.Table, settings: BatchSettings) -> dict:
    """Additive summary of one scored chunk (counts only; JSON-ready); `groups`: the rows' protected attributes."""
    score, schema = explanation.score, scorer.schema
    grid = score_grid(scorer, settings.approval_grid_step)
    hist = np.bincount(np.clip(np.searchsorted(grid, score, side="right") - 1, 0, len(grid) - 1), minlength=len(grid))
    approved = explanation.decision == "approve"
    stats: dict = {
        "rows": int(len(score)),
        "score_sum": float(score.sum()),
        "pd_sum": float(explanation.pd.sum()),
        "score_hist": hist.tolist(),
        "bands": _label_counts(explanation.band, [name for name, _ in scorer.scale.bands]),
        "decisions": _label_counts(explanation.decision, ["approve", "refer", "decline"]),
        "at_or_above": {
            "refer": int((score >= scorer.cutoffs.refer).sum()),
            "approve": int((score >= scorer.cutoffs.approve).sum()),
        },
        "groups": {attr: value_counts(groups.column(attr), approved) for attr in groups.column_names},
        "psi_counts": {},
    }
    ref = scorer.reference
    if ref:
        stats["psi_counts"]["score"] = bin_counts(score.reshape(-1, 1), [(ref["score"]["edges"], None)])[0]
        bins = []
        for f in schema.features:
            r = ref["features"].get(f.name)
            levels = len(f.levels) if f.type is FeatureType.category else None
            bins.append(None if r is None else (r["edges"], levels))
        for f, counts in zip(schema.features, bin_counts(explanation.X, bins), strict=True):
            if counts is not None:
                stats["psi_counts"][f.name] = counts
    return stats


def merge_stats(a: dict | None, b: dict) -> dict:
    """Sum two summaries key by key (numbers add, lists add element-wise, dicts merge)."""
    if a is None:
        return json.loads(json.dumps(b))
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = json.loads(json.dumps(value))
        elif isinstance(value, dict):
            out[key] = merge_stats(out[key], value)
        elif isinstance(value, list):
            out[key] = [x + y for x, y in zip(out[key], value, strict=True)]
        else:
            out[key] = out[key] + value
    return out
