"""The training table: read, checked against the schema, bad rows set aside with their reasons."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thinfile.features.copies import copies_of_outcome
from thinfile.features.infer import (
    NOT_AN_OUTCOME,
    RepeatedIds,
    counts_shown,
    no_outcome_mask,
    recode_hint,
    repeated_ids,
    value_counts,
    value_text,
)
from thinfile.features.io import TableReadError, read_table
from thinfile.features.proxies import OutcomeProxy, outcome_proxies
from thinfile.features.schema import Schema
from thinfile.features.settings import ValidationSettings
from thinfile.features.table_hash import data_hash
from thinfile.features.validate import NO_DATE, ValidationReport, outcome, undated_rows, validate_table
from thinfile.features.words import counted
from thinfile.training.settings import DataChecks

NO_OUTCOME = "no outcome yet (neither repaid nor defaulted): left out"


class TrainingDataError(ValueError):
    """The table cannot be trained on as given; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class PreparedData:
    """Rows that conform to the schema (typed), the rows set aside and why, and the table's hash."""

    frame: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    data_hash: str
    source: str
    repeated_ids: RepeatedIds | None = None
    """ids more than one kept row holds (a repeated applicant can land in both training and test rows)"""
    leak_suspects: tuple[OutcomeProxy, ...] = ()
    """inputs that alone nearly give the outcome away (checked only for a table to train on)"""


def load_training_table(data: str | Path) -> pd.DataFrame:
    """The whole table in memory; a folder written by `thinfile generate` is read from its population/ part."""
    try:
        return read_table(data)
    except TableReadError as err:
        raise TrainingDataError(str(err)) from None


def prepare(
    frame: pd.DataFrame,
    schema: Schema,
    checks: DataChecks | None = None,
    source: str = "the table",
    *,
    to_train: bool = True,
    report: ValidationReport | None = None,
) -> PreparedData:
    """Validate against the schema (target required; for a booked column's rejects, may be empty); fail clearly on
    table errors or too many bad rows, and, `to_train`, on too few rows or outcomes of a class to train on.
    `report`: what `validate_table` already found in this frame, which holds the target (not validated again)."""
    checks = checks or DataChecks()
    with ThreadPoolExecutor(1, thread_name_prefix="thinfile-hash") as pool:
        digest = pool.submit(data_hash, frame)  # hashing releases the GIL: it runs beside validation
        if report is None or schema.target not in frame.columns:
            report = validate_table(frame, schema, require_target=True)
        kept, rejects, suspects = _checked(frame, report, schema, checks, source, to_train)
        repeated = repeated_ids(kept[schema.id_column])
        return PreparedData(
            kept, rejects, len(frame), digest.result(), source, repeated if repeated.ids else None, suspects
        )


def _checked(
    frame: pd.DataFrame, report: ValidationReport, schema: Schema, checks: DataChecks, source: str, to_train: bool
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[OutcomeProxy, ...]]:
    if report.table_errors:
        lines = [f"{source} does not match schema {schema.name!r}:"] + [f"  - {e}" for e in report.table_errors]
        if report.unknown_columns:
            shown = ", ".join(report.unknown_columns[:12]) + (" ..." if len(report.unknown_columns) > 12 else "")
            lines.append(f"  columns the schema does not name: {shown}")
        if schema.target not in frame.columns:
            lines.append(
                f"  the outcome column {schema.target!r} is missing: training and the fairness audit need each row's "
                "outcome (1 defaulted, 0 repaid); add it, or name yours as the schema's `target`"
            )
        if report.unknown_columns or len(report.table_errors) > (schema.target not in frame.columns):
            lines.append("  give the schema file that describes this table with --schema, or rename the columns")
        raise TrainingDataError("\n".join(lines))
    clean = report.clean.copy(deep=False)  # columns set below stay off the report's own frame
    positional = frame.copy(deep=False)  # rows by position, without copying the table
    positional.index = pd.RangeIndex(len(frame))
    target, target_bad = outcome(positional[schema.target])
    clean[schema.target] = target
    if schema.booked_column:
        booked = booked_flags(positional, schema, source)
        clean[schema.booked_column] = booked
        target_bad &= booked  # a rejected applicant's outcome was never observed: empty is expected
    no_outcome = target_bad & no_outcome_mask(positional[schema.target])
    undated = undated_rows(positional, schema)  # an out-of-time split cannot place them
    rejects = _rejects(report, positional[schema.target], clean, schema, target_bad, no_outcome, undated)
    # the schema is judged on the rows with an outcome: a loan not yet repaid or defaulted is not trained on
    broken = rejects[~no_outcome[rejects["row"].to_numpy(dtype=np.int64)]]
    _outcome_written_otherwise(positional[schema.target], target_bad, schema.target, checks, source)
    judged = len(clean) - int(no_outcome.sum())
    if judged and len(broken) / judged > checks.max_reject_share:
        shown = broken.head(ValidationSettings().examples_shown)
        examples = "\n".join(f"  - row {r.row} (id {r.id}): {r.reason}" for r in shown.itertuples())
        of = f"{judged:,} rows with an outcome" if judged < len(clean) else f"{len(clean):,} rows"
        raise TrainingDataError(
            f"{source}: {len(broken):,} of {of} ({len(broken) / judged:.1%}) break schema "
            f"{schema.name!r}, more than the {checks.max_reject_share:.0%} allowed; for example:\n{examples}\n"
            "  check that the schema file describes this table (types, ranges, categories), or fix the data"
        )
    keep = np.ones(len(clean), dtype=bool)
    keep[rejects["row"].to_numpy(dtype=np.int64)] = False
    kept = clean if keep.all() else clean.take(np.flatnonzero(keep))
    kept.index = pd.RangeIndex(len(kept))
    kept[schema.target] = kept[schema.target].astype("Int8" if schema.booked_column else np.int8)
    suspects = check_trainable(kept, schema, checks, source, int(no_outcome.sum())) if to_train else ()
    return kept, rejects, suspects


def _outcome_written_otherwise(raw: pd.Series, bad: np.ndarray, target: str, checks: DataChecks, source: str) -> None:
    """Refuse, with the recoding to do, a table whose outcome is mostly written in other values ('Y'/'N')."""
    written: dict[str | None, int] = {k: n for k, n in value_counts(raw[bad]).items() if k and k.strip()}
    wrong = sum(written.values())
    if not len(raw) or wrong / len(raw) <= checks.max_reject_share:
        return
    held: dict[str | None, int] = {k: n for k, n in value_counts(raw).items() if k and k.strip()}
    raise TrainingDataError(
        f"{source}: the outcome {target!r} holds {counts_shown(held)}, where thinfile reads 1 = defaulted, "
        f"0 = repaid ({wrong:,} of {len(raw):,} rows are neither): recode it {recode_hint(held, target)}, and train "
        "again; `thinfile schema check` lists every such row"
    )


def booked_flags(frame: pd.DataFrame, schema: Schema, source: str) -> np.ndarray:
    """The schema's booked column as booleans; every row must say booked (1) or rejected (0)."""
    column = str(schema.booked_column)
    if column not in frame.columns:
        raise TrainingDataError(
            f"{source}: schema {schema.name!r} names booked column {column!r}, which the table does not have; "
            "add it (1 = booked, 0 = rejected) or remove booked_column from the schema"
        )
    values, bad = outcome(frame[column])
    if bad.any():
        rows = np.flatnonzero(bad)
        raise TrainingDataError(
            f"{source}: {counted(len(rows), 'row')} {'has' if len(rows) == 1 else 'have'} no readable {column!r} "
            f"(rows {', '.join(map(str, rows[:5]))}"
            f"{' ...' if len(rows) > 5 else ''}); every applicant must be marked booked (1) or rejected (0)"
        )
    return values.to_numpy() == 1.0


def _rejects(
    report: ValidationReport,
    raw_target: pd.Series,
    clean: pd.DataFrame,
    schema: Schema,
    target_bad: np.ndarray,
    no_outcome: np.ndarray,
    undated: np.ndarray,
) -> pd.DataFrame:
    found = report.rejects()
    ids = clean[schema.id_column].to_numpy()
    extra = []
    if target_bad.any():
        rows = np.flatnonzero(target_bad)
        shown = raw_target.to_numpy()[rows]
        pending = no_outcome[rows]
        reasons = [
            f"{schema.target}: {NO_OUTCOME}" if p else f"{schema.target}: {_shown(v)} {NOT_AN_OUTCOME}"
            for v, p in zip(shown, pending)
        ]
        extra.append(_reasons(rows, ids, schema.target, reasons))
    if undated.any():
        column = str(schema.date_column)
        extra.append(_reasons(np.flatnonzero(undated), ids, column, [f"{column}: {NO_DATE}"] * int(undated.sum())))
    if extra:
        found = pd.concat([found, *extra], ignore_index=True)
        found = found.groupby("row", as_index=False, sort=True).agg(
            {"id": "first", "columns": ",".join, "reason": "; ".join}
        )
    return found.reset_index(drop=True)


def _reasons(rows: np.ndarray, ids: np.ndarray, column: str, reasons: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"row": rows, "id": ids[rows].astype(str), "columns": column, "reason": reasons})


def outcome_unknown(rejects: pd.DataFrame, target: str) -> np.ndarray:
    """The set-aside rows whose only reason is a missing outcome (a loan not yet repaid or defaulted)."""
    return (rejects["reason"] == f"{target}: {NO_OUTCOME}").to_numpy()


def set_aside_words(rejects: pd.DataFrame, target: str) -> str:
    """The rows set aside, in words: '3 rows that break the schema and 50 with no outcome yet'."""
    unknown = int(outcome_unknown(rejects, target).sum())
    broken = len(rejects) - unknown
    parts = [f"{counted(broken, 'row')} that break{'s' if broken == 1 else ''} the schema"] if broken else []
    if unknown:
        parts.append(f"{unknown:,} with no outcome yet" if parts else f"{counted(unknown, 'row')} with no outcome yet")
    return " and ".join(parts)


def _shown(value: object) -> str:
    text = value_text(value)
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def check_trainable(
    frame: pd.DataFrame, schema: Schema, checks: DataChecks, source: str, unknown: int = 0
) -> tuple[OutcomeProxy, ...]:
    """Refuse a table too small to train and test on (`unknown`: rows left out with no outcome yet), or one whose
    inputs hold the outcome itself, or separate the outcomes perfectly; the inputs that nearly do."""
    counts = frame[schema.target].value_counts()
    bads, goods = int(counts.get(1, 0)), int(counts.get(0, 0))
    pending = f" ({unknown:,} more have no outcome yet: train once enough of those loans are repaid or defaulted)"
    if len(frame) < checks.min_rows:
        raise TrainingDataError(
            f"{source}: {counted(len(frame), 'usable row')}; at least {checks.min_rows:,} are needed"
            + (pending if unknown else "")
        )
    if min(bads, goods) < checks.min_class_rows:
        raise TrainingDataError(
            f"{source}: {bads:,} defaults and {goods:,} repayments in {schema.target!r}; at least "
            f"{checks.min_class_rows} of each are needed to train and test" + (pending if unknown else "")
        )
    y = frame[schema.target].to_numpy(dtype=np.float64, na_value=np.nan)
    leaks = copies_of_outcome(frame, schema.feature_names, y)
    if leaks:
        name, same = next(iter(leaks.items()))
        raise TrainingDataError(
            f"{source}: input {name!r} holds {'the outcome' if same else 'the opposite of the outcome'} "
            f"{schema.target!r} in every row: a model would read the answer from it (test AUC 1.0) and learn "
            f"nothing else; remove {'them' if len(leaks) > 1 else 'it'} from the schema's features"
            + (f" (also {', '.join(list(leaks)[1:])})" if len(leaks) > 1 else "")
        )
    if schema.booked_column:  # a rejected applicant's outcome was never observed, whatever the cell holds
        y = np.where(frame[schema.booked_column].to_numpy(dtype=bool), y, np.nan)
    suspects = outcome_proxies(frame, schema, y, checks.leaks)
    perfect = [p for p in suspects if p.perfect]
    if perfect:
        also = f" (also {', '.join(p.name for p in perfect[1:])})" if len(perfect) > 1 else ""
        raise TrainingDataError(f"{source}: {perfect[0].refusal(schema.target)}{also}")
    return tuple(suspects)
