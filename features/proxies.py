"""Inputs that alone nearly tell defaults from repayments. Real application data rarely does (a bureau score reaches
an AUC of about 0.8); an input that does is most often a fact known only once the loan has run (days past due, a
collections flag, a closed-account status) that leaks the outcome into the model, which then fails on applicants.

Each input is judged by the AUC of its own default rates: its values grouped (a number into quantile bins, a
category by level, missing values apart), the rows of each half of an evenly spaced sample of the rows with an
outcome scored by their group's share of defaults in the other half. Groups too small to judge there get that
half's overall rate, so neither a handful of rows nor many small groups make a column look perfect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinfile.features.schema import FeatureType, Schema, category_codes, feature_numbers
from thinfile.features.settings import LeakChecks

_HALVES_SEED = 0x7468696E  # fixed, so a table is judged alike run to run; not a seed tests or lenders draw data with


@dataclass(frozen=True)
class OutcomeProxy:
    """An input whose groups alone separate defaults from repayments with this AUC, judged on `rows` rows; `at`:
    the AUC from which one is reported (`LeakChecks.proxy_auc`)."""

    name: str
    auc: float
    rows: int
    at: float

    @property
    def perfect(self) -> bool:
        """Every group holds only defaults or only repayments, or one threshold splits them exactly: the outcome
        under another name (bad/good, 0/100, a share of the loan repaid)."""
        return self.auc >= 1.0 - 1e-12

    def warning(self, target: str) -> str:
        return (
            f"input {self.name!r} alone separates defaults from repayments with an AUC of {self.auc:.3f} (on "
            f"{self.rows:,} rows with an outcome in {target!r}; warned of from {self.at:g}, where a bureau score "
            "reaches about 0.8): if it is only known once a loan has run (days past due, collections, an account's "
            "closing status), it leaks the outcome and the model will fail on new applicants; remove it from the "
            "schema's features unless it is known when the applicant applies"
        )

    def refusal(self, target: str) -> str:
        return (
            f"input {self.name!r} separates defaults from repayments perfectly on {self.rows:,} rows with an outcome "
            f"in {target!r} (each of its values, or each side of one value, holds only defaults or only repayments): "
            "it is the outcome under "
            "another name, and a model would read the answer from it; remove it from the schema's features"
        )


def outcome_proxies(
    frame: pd.DataFrame,
    schema: Schema,
    outcome: np.ndarray,
    checks: LeakChecks | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[OutcomeProxy]:
    """The inputs of `frame` (those of `schema` it holds, but `skip`) that alone separate the 0/1 `outcome` (NaN:
    unknown; one per row of `frame`) at least as well as `checks.proxy_auc`, most separating first. None unless
    each outcome is known on `checks.min_group_rows` rows. A number gets at most `checks.bins` bins, fewer in a
    small table (about 2 x `checks.min_group_rows` rows each), so that its bins can be judged; one that comes
    within `checks.recheck_margin` of the threshold, or any in a table of fewer than `checks.order_rows` rows with
    an outcome, is judged on its values' order as well (a threshold that no bin edge meets)."""
    checks = checks or LeakChecks()
    known = np.flatnonzero(~np.isnan(outcome))
    if len(known) > checks.sample_rows:
        known = known[np.linspace(0, len(known) - 1, checks.sample_rows).astype(np.int64)]
    y = outcome[known]
    defaults = int(np.count_nonzero(y == 1))
    if min(defaults, len(y) - defaults) < checks.min_group_rows:
        return []
    sample = frame.take(known)
    bins = int(np.clip(len(y) // (2 * checks.min_group_rows), 2, checks.bins))  # a small table: bins it can judge
    found = []
    for f in schema.features:
        if f.name not in frame.columns or f.name in skip:
            continue
        raw = sample[f.name]
        if f.type is FeatureType.category:
            auc = _group_rate_auc(_groups_of_codes(category_codes(f, raw)), y, checks.min_group_rows)
        else:
            values = feature_numbers(f, raw)
            auc = _group_rate_auc(_groups_of_numbers(values, bins), y, checks.min_group_rows)
            if len(y) < checks.order_rows or auc >= checks.proxy_auc - checks.recheck_margin:
                auc = max(auc, _order_auc(values, y))  # bins can blur a threshold, a small table's most of all
        if auc >= checks.proxy_auc:
            found.append(OutcomeProxy(f.name, auc, len(y), checks.proxy_auc))
    return sorted(found, key=lambda p: -p.auc)


def _groups_of_codes(codes: np.ndarray) -> np.ndarray:
    """Level codes as group numbers, missing values as one more group."""
    missing = np.isnan(codes)
    top = int(np.nanmax(codes)) + 1 if not missing.all() else 0
    return np.where(missing, top, np.nan_to_num(codes)).astype(np.int64)


def _groups_of_numbers(values: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bins of the finite values (ties keep a bin to themselves), missing values as one more group."""
    missing = np.isnan(values)
    present = values[np.isfinite(values)]  # an infinite value falls in the first or last bin
    if not len(present):
        return np.where(missing, 1, 0)
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    groups = np.searchsorted(edges, values, side="right")
    groups[missing] = len(edges) + 1
    return groups


def _order_auc(values: np.ndarray, y: np.ndarray) -> float:
    """How well the values' order alone separates y, in either direction, with the missing values placed below or
    above every present one, whichever separates better (1.0: one threshold splits the outcomes exactly)."""
    from sklearn.metrics import roc_auc_score  # as in _group_rate_auc

    finite = np.isfinite(values)
    if not finite.any():
        return 0.5
    low, high = values[finite].min() - 1.0, values[finite].max() + 1.0
    aucs = [float(roc_auc_score(y, np.where(finite, values, fill))) for fill in (low, high)]
    return max(max(a, 1.0 - a) for a in aucs)


def _group_rate_auc(groups: np.ndarray, y: np.ndarray, min_rows: int) -> float:
    """AUC, against y, of each row's group default rate measured on the other half of the rows (drawn at random),
    so that a group is never scored by its own outcomes: many small groups of noise score about 0.5, not near 1.
    A group with fewer than `min_rows` rows in the other half gets that half's overall rate."""
    from sklearn.metrics import roc_auc_score  # 0.8 s to import: `schema infer` imports this module, never this

    half = (np.random.default_rng(_HALVES_SEED).random(len(y)) < 0.5).astype(np.int64)
    size = int(groups.max(initial=0)) + 1
    rows = [np.bincount(groups[half == h], minlength=size) for h in (0, 1)]
    defaults = [np.bincount(groups[half == h], weights=y[half == h], minlength=size) for h in (0, 1)]
    outcome, score, weight = [], [], []
    for h in (0, 1):
        other = 1 - h
        overall = defaults[other].sum() / max(rows[other].sum(), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(rows[other] >= min_rows, defaults[other] / rows[other], overall)
        outcome += [np.ones(size), np.zeros(size)]
        score += [rate, rate]
        weight += [defaults[h], rows[h] - defaults[h]]
    return float(roc_auc_score(np.concatenate(outcome), np.concatenate(score), sample_weight=np.concatenate(weight)))
