"""What a fairness audit will read, known before any model: the rows it audits (as training sets rows aside and
splits them) and the protected groups, alone and crossed, too small there to be judged. Light to import: `schema
check` and `train` warn with it before the fit."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from thinfile.features.infer import small_groups
from thinfile.features.schema import MISSING_GROUP, Schema, protected_values
from thinfile.features.settings import ValidationSettings
from thinfile.features.validate import ValidationReport
from thinfile.features.words import clipped, counted
from thinfile.training.data import TrainingDataError, prepare, set_aside_words
from thinfile.training.settings import TrainingSettings
from thinfile.training.split import SplitError, split_frame

INTERSECTION_SEP = " & "


class FairnessError(ValueError):
    """A table or model that cannot be audited, with a message that says why."""


class NotTrainable(FairnessError):
    """The held-out part cannot be taken, as `thinfile train` could not train on the table; `reason`: training's
    own words for it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AuditRows:
    """The rows a fairness audit reads: those that conform to the schema (as training reads them), the rows set
    aside and why, and what they are (for the report's source line)."""

    frame: pd.DataFrame
    set_aside: pd.DataFrame
    source: str
    data_hash: str = ""
    """the whole table's hash, as training records it (`thinfile.data_hash`): equal, the table is the one a model
    was trained on"""


def audit_rows(
    frame: pd.DataFrame,
    schema: Schema,
    settings: TrainingSettings,
    *,
    all_rows: bool,
    source: str = "the table",
    report: ValidationReport | None = None,
) -> AuditRows:
    """Rows that break the schema (a value out of range, an undeclared code, an outcome that is not 0/1) are set
    aside as training sets them aside, never scored as missing; then every row (`all_rows`) or the test part of
    the split `thinfile train` makes of this table (same checks, same seed), but for the applicants a lending
    history's earlier policy rejected: the audit judges rows with an outcome, as training's own audit does."""
    try:
        prepared = prepare(frame, schema, settings.checks, source=source, to_train=not all_rows, report=report)
        kept = prepared.frame if all_rows else split_frame(prepared.frame, schema, settings.train).test
    except (TrainingDataError, SplitError) as err:
        if all_rows or schema.target not in frame.columns:  # every row needs its outcome too
            raise FairnessError(str(err)) from None
        raise NotTrainable(
            f"cannot take the held-out rows `thinfile train` would test on: {err}. Audit every row of "
            f"{source} instead with --all-rows, or give the table the model was trained on",
            str(err),
        ) from None
    what = f"{source} (every row, --all-rows)" if all_rows else f"{source} (held-out test part)"
    if len(prepared.rejects):
        what += f"; {set_aside_words(prepared.rejects, schema.target)} left out, as training leaves them out"
    unbooked = kept[schema.target].isna().to_numpy()
    if unbooked.any():  # a rejected applicant of a lending history: no outcome to judge a decision by
        what += f"; {counted(int(unbooked.sum()), 'applicant')} the earlier policy rejected (no outcome) left out"
        kept = kept[~unbooked].reset_index(drop=True)
    return AuditRows(kept, prepared.rejects, what, prepared.data_hash)


HELD_OUT = "the held-out test part, which `thinfile fairness` judges (--all-rows is for newer loans it never saw)"


def too_small_to_audit(frame: pd.DataFrame, test: pd.DataFrame, schema: Schema, min_rows: int) -> list[str]:
    """Warnings for the protected groups the fairness audit will list but not judge, under `min_rows` rows: in the
    whole table `frame`, then (each group once) in its held-out `test` part, which the audit reads by default; then
    the crossed groups of its held-out part. The audit judges rows with an outcome, so a lending history's
    applicants the earlier policy rejected are not counted."""
    known = frame[schema.target].notna().to_numpy() if schema.target in frame.columns else None
    judged = frame if known is None or known.all() else frame[known]
    part = "the rows with an outcome, which the audit judges" if len(judged) < len(frame) else ""
    whole = small_groups(judged, schema, min_rows, part=part)
    held = small_groups(test, schema, min_rows, part=HELD_OUT, skip={(name, group) for name, group, _ in whole})
    return [warning for *_, warning in whole + held] + crossed_too_small(test, schema, min_rows)


def group_labels(
    frame: pd.DataFrame,
    columns: list[str],
    categories: Mapping[str, Collection[str]] | None = None,
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> np.ndarray:
    """One string label per row: the group of one attribute, or 'a & b' for an intersection; coded values by
    their names where `names` (`Schema.group_names`) labels them.

    A row missing any part of an intersection (or, given `categories`, holding a value a part does not
    declare) belongs to no intersection group: its label is MISSING_GROUP.
    """
    names = names or {}
    parts = [protected_values(frame[c], names.get(c)) for c in columns]
    if len(parts) == 1:
        return parts[0].astype(object)
    out = parts[0].astype(object)
    unknown = np.zeros(len(frame), dtype=bool)
    for column, p in zip(columns, parts, strict=True):
        unknown |= p == MISSING_GROUP
        if categories is not None and column in categories:
            unknown |= ~np.isin(p, list(categories[column]))
    for p in parts[1:]:
        out = np.char.add(np.char.add(out.astype(str), INTERSECTION_SEP), p.astype(str)).astype(object)
    out[unknown] = MISSING_GROUP
    return out


def group_rows(labels: np.ndarray) -> pd.Series:
    """Rows of each group of `group_labels` that holds any, by label; rows in no group (MISSING_GROUP) not
    counted."""
    return pd.Series(labels[labels != MISSING_GROUP], dtype=object).value_counts().sort_index()


def crossed_attributes(schema: Schema) -> list[str]:
    """The protected attributes the audit also crosses (the first two), or none."""
    return list(schema.protected_names[:2]) if len(schema.protected_names) >= 2 else []


def crossed_too_small(test: pd.DataFrame, schema: Schema, min_rows: int) -> list[str]:
    """One warning when crossed groups of the held-out part `test` (declared in both parts, with rows) have fewer
    than `min_rows` rows: the audit will list them, not judge them; and, when fewer than two could be judged, that
    the crossed checks will not run."""
    columns = crossed_attributes(schema)
    if not columns or any(c not in test.columns for c in columns):
        return []
    sizes = group_rows(group_labels(test, columns, schema.protected_groups, schema.group_names))
    few = sizes[sizes < min_rows].sort_values(kind="stable")
    if few.empty:
        return []
    wording = ValidationSettings()
    shown, chars = wording.examples_shown, wording.shown_value_chars
    listed = ", ".join(f"{clipped(str(g), chars)!r} {counted(int(n), 'row')}" for g, n in few.head(shown).items())
    more = f" and {len(few) - shown:,} more" if len(few) > shown else ""
    judged = len(sizes) - len(few)
    outcome = (
        f"only {judged} can be judged, so the crossed checks will not run"
        if judged < 2
        else "they will be listed, not judged"
    )
    cells = INTERSECTION_SEP.join(columns)
    return [
        f"protected {cells}: {len(few):,} of {len(sizes):,} crossed groups have fewer than the {min_rows:,} rows "
        f"the fairness audit needs to judge a group (audit.min_group_rows) in {HELD_OUT}: {listed}{more}; "
        f"{outcome}; gather more rows or merge groups"
    ]
