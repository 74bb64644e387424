"""The four-fifths rule's ratio of approval rates between groups, from counts alone.

Shared by the fairness audit and the batch population report; light to import (pandas, no fairlearn,
scikit-learn or LightGBM), so that a batch job's process does not load the training side to write its report."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinfile.features import words
from thinfile.features.schema import MISSING_GROUP

WHY_MISSING = "no value: not a group"
WHY_UNDECLARED = "not a category the schema declares"
WHY_EMPTY = "no rows"
WHY_SMALL = "{rows}, fewer than the {min_rows:,} needed to check it"


@dataclass(frozen=True)
class DisparateImpact:
    """Approval rate per group over the most-approved counted group's (the four-fifths rule's ratio).

    `groups` has one row per group (rows, approved, approval_rate, di_ratio, counted, why_not); only
    counted groups (declared, with a value, at least `min_rows` rows) enter the ratio.
    """

    groups: pd.DataFrame
    ratio: float | None
    reference: str | None
    worst: str | None
    min_rows: int

    @property
    def counted(self) -> list[str]:
        return [str(g) for g in self.groups.index[self.groups["counted"]]]

    @property
    def unchecked(self) -> pd.DataFrame:
        """Declared groups left out of the ratio: too few rows or none (not missing or undeclared values)."""
        why = self.groups["why_not"].astype(str)
        return self.groups[~self.groups["counted"] & ~why.isin([WHY_MISSING, WHY_UNDECLARED])]

    def below(self, limit: float) -> list[str]:
        """Counted groups whose ratio is under `limit` (FairnessLimits.disparate_impact_min)."""
        r = self.groups["di_ratio"]
        return [str(g) for g in self.groups.index[self.groups["counted"] & (r < limit)]]


def disparate_impact(
    rows: Mapping[str, float],
    approved: Mapping[str, float],
    *,
    min_rows: int,
    categories: Collection[str] | None = None,
) -> DisparateImpact:
    """The one disparate-impact computation, shared by the fairness audit and the batch population report.

    `rows` and `approved` count applicants and approvals per group label. MISSING_GROUP is not a group,
    a value outside `categories` (when given) is not audited as one, and a group under `min_rows` rows
    (or a declared category with none) is listed but not counted. The ratio is the lowest counted
    approval rate over the highest; None when fewer than two groups count or none was approved.
    """
    names = list(dict.fromkeys([*(categories or []), *rows]))
    declared = set(categories) if categories is not None else None
    records = []
    for g in names:
        n, a = float(rows.get(g, 0)), float(approved.get(g, 0))
        if g == MISSING_GROUP:
            why = WHY_MISSING
        elif declared is not None and g not in declared:
            why = WHY_UNDECLARED
        elif n == 0:
            why = WHY_EMPTY
        elif n < min_rows:
            why = WHY_SMALL.format(rows=words.counted(int(n), "row"), min_rows=min_rows)
        else:
            why = ""
        records.append(
            {
                "group": g,
                "rows": int(n),
                "approved": int(a),
                "approval_rate": a / n if n else math.nan,
                "counted": not why,
                "why_not": why or None,
            }
        )
    groups = pd.DataFrame.from_records(
        records, columns=["group", "rows", "approved", "approval_rate", "counted", "why_not"]
    )
    groups = groups.set_index("group")
    counted = groups[groups["counted"]]
    best = float(counted["approval_rate"].max()) if len(counted) else math.nan
    groups["di_ratio"] = np.where(groups["counted"] & (best > 0), groups["approval_rate"] / best, math.nan)
    if len(counted) < 2 or not best > 0:
        return DisparateImpact(groups, None, None, None, min_rows)
    rates = counted["approval_rate"]
    return DisparateImpact(groups, float(rates.min() / best), str(rates.idxmax()), str(rates.idxmin()), min_rows)
