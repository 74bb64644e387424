"""Train / validation / test split: seeded and stratified (whole borrowers in each part when the schema names a
borrower column), or out-of-time when the schema names a date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from thinfile.features.schema import Schema, read_dates
from thinfile.features.settings import ValidationSettings
from thinfile.features.validate import date_problem
from thinfile.training.settings import TrainConfig

PARTS = ("train", "valid", "test")


class SplitError(ValueError):
    """A table that cannot be split into usable train, validation and test parts."""


@dataclass(frozen=True)
class Split:
    """Train, validation and test rows of one table, made once and kept.

    The split is the table plus the row positions of each part. A part's rows (a DataFrame) are copied out of
    the table only when something reads them; the model matrix is built once for the whole table and each
    part's matrix taken from it.
    """

    frame: pd.DataFrame = field(repr=False)
    positions: tuple[np.ndarray, np.ndarray, np.ndarray] = field(repr=False)
    method: str
    schema: Schema = field(repr=False)

    def sizes(self) -> dict[str, int]:
        return {f"{part}_rows": len(rows) for part, rows in zip(PARTS, self.positions)}

    def rows_of(self, part: str) -> np.ndarray:
        """Positions in `frame` of the rows of `part` ('train', 'valid' or 'test')."""
        return self.positions[PARTS.index(part)]

    @cached_property
    def train(self) -> pd.DataFrame:
        return _rows(self.frame, self.positions[0])

    @cached_property
    def valid(self) -> pd.DataFrame:
        return _rows(self.frame, self.positions[1])

    @cached_property
    def test(self) -> pd.DataFrame:
        return _rows(self.frame, self.positions[2])

    @cached_property
    def _matrices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One matrix holding the train, then valid, then test rows; each part a view of its own rows."""
        whole = self.schema.to_matrix(self.frame, np.concatenate(self.positions))
        ends = np.cumsum([len(p) for p in self.positions])
        return whole[: ends[0]], whole[ends[0] : ends[1]], whole[ends[1] :]

    @property
    def X_train(self) -> np.ndarray:
        return self._matrices[0]

    @property
    def X_valid(self) -> np.ndarray:
        return self._matrices[1]

    @property
    def X_test(self) -> np.ndarray:
        return self._matrices[2]

    def borrowers(self, *parts: str) -> np.ndarray | None:
        """The borrower (a group number) of each row of `parts`, in that order; None without a borrower column."""
        if not self.schema.borrower_column:
            return None
        return self._borrowers[np.concatenate([self.rows_of(part) for part in parts])]

    @cached_property
    def _borrowers(self) -> np.ndarray:
        return borrowers(self.frame, self.schema)

    def y(self, part: str) -> np.ndarray:
        return self.frame[self.schema.target].iloc[self.rows_of(part)].to_numpy(dtype=np.int64)

    def where(self, keep: np.ndarray, method: str) -> Split:
        """The same split keeping only the rows where `keep` (a mask over `frame`) is true, in each part."""
        kept = tuple(rows[keep[rows]] for rows in self.positions)
        return Split(self.frame, kept, method, self.schema)


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows at `positions`, numbered from 0 (one copy: `reset_index` would copy them again)."""
    part = frame.take(positions)
    part.index = pd.RangeIndex(len(part))
    return part


def split_frame(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    """Out-of-time split on `schema.date_column` if it has one, else a seeded stratified split (by borrower when
    the schema names a borrower column)."""
    if config.test_size + config.valid_size >= 1:
        raise SplitError(f"test_size {config.test_size} + valid_size {config.valid_size} leaves no rows to train on")
    if schema.borrower_column:
        _check_borrowers(frame, schema, config)
    frame = frame.copy(deep=False)
    frame.index = pd.RangeIndex(len(frame))
    if schema.date_column:
        return _out_of_time(frame, schema, config)
    return _stratified(frame, schema, config)


def _check_borrowers(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> None:
    """Refuse a table without the schema's borrower column, or naming fewer borrowers than a split needs."""
    column = schema.borrower_column
    if column not in frame.columns:
        raise SplitError(
            f"no borrower column {column!r}, which the schema names (the split keeps each borrower's loans "
            "together): add it, or remove borrower_column from the schema"
        )
    named = int(frame[column].nunique())
    if named < config.min_borrowers:
        needs = "the search's folds" if schema.date_column else "the test and validation parts and the search's folds"
        raise SplitError(
            f"{column!r} names {named:,} borrower(s): keeping each borrower's loans together needs at least "
            f"{config.min_borrowers} (train.min_borrowers) to fill {needs}; remove borrower_column from the schema "
            "to split loans at random"
        )


def _stratified(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    y = frame[schema.target].astype("float64").fillna(-1).to_numpy()  # rejects without an outcome: their own stratum
    if schema.borrower_column:
        part = group_parts(y, borrowers(frame, schema), config.part_shares, config.seed)
        train, valid, test = (np.flatnonzero(part == k) for k in range(len(PARTS)))
        empty = [name for name, rows in zip(PARTS, (train, valid, test)) if not len(rows)]
        if empty:
            raise SplitError(
                f"keeping each borrower's loans together leaves the {' and '.join(empty)} part(s) empty: a few "
                f"borrowers hold most of the loans in {schema.borrower_column!r}; remove borrower_column from the "
                "schema to split loans at random"
            )
        return Split(frame, (train, valid, test), method="stratified_by_borrower", schema=schema)
    rest, test = train_test_split(
        np.arange(len(frame)), test_size=config.test_size, stratify=y, random_state=config.seed
    )
    valid_share = config.valid_size / (1 - config.test_size)
    train, valid = train_test_split(rest, test_size=valid_share, stratify=y[rest], random_state=config.seed + 1)
    return Split(frame, (np.sort(train), np.sort(valid), np.sort(test)), method="stratified", schema=schema)


def borrowers(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Each row's borrower as a group number (a row with no borrower is a borrower of its own)."""
    codes = pd.factorize(frame[schema.borrower_column])[0]
    alone = codes < 0
    codes[alone] = codes.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    return codes


def group_parts(y: np.ndarray, groups: np.ndarray, shares: Sequence[float], seed: int) -> np.ndarray:
    """Each row's part (0 to len(shares) - 1), whole groups at a time: the groups shuffled (seeded) within two
    strata, those with a default and those without, then dealt out in order so that each part holds about its
    share of each stratum's rows (a group goes where its middle row falls). sklearn's StratifiedGroupKFold does
    this one group at a time in Python (16 s for 120,000 borrowers) and only in shares of 1/k."""
    _, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse)
    defaulted = np.bincount(inverse, weights=(y == 1).astype(np.float64)) > 0
    bounds = np.cumsum(shares)[:-1] / np.sum(shares)
    part = np.empty(len(sizes), dtype=np.int64)
    rng = np.random.default_rng(seed)
    for stratum in (defaulted, ~defaulted):
        members = rng.permutation(np.flatnonzero(stratum))
        middle = np.cumsum(sizes[members]) - sizes[members] / 2
        part[members] = np.searchsorted(bounds * sizes[members].sum(), middle, side="right")
    return part[inverse]


def uneven_parts(split: Split, config: TrainConfig) -> str | None:
    """What is uneven about a split by borrower: a part whose share of rows strays from its aim by more than
    `config.uneven_split` (relative), or a part one borrower holds more than `config.borrower_share` of, naming
    the borrower; None otherwise."""
    if split.method != "stratified_by_borrower":
        return None
    rows = sum(map(len, split.positions))
    aims = config.part_shares
    shares = [len(p) / rows for p in split.positions]
    column = split.frame[split.schema.borrower_column]
    biggest = [column.iloc[p].value_counts() for p in split.positions]
    held = [int(b.iloc[0]) / len(p) if len(b) else 0.0 for b, p in zip(biggest, split.positions)]
    strays = any(abs(share - aim) > config.uneven_split * aim for share, aim in zip(shares, aims))
    if not strays and max(held) <= config.borrower_share:
        return None
    parts = ", ".join(f"{part} {len(p):,} ({share:.0%})" for part, p, share in zip(PARTS, split.positions, shares))
    aimed = "/".join(f"{aim:.0%}" for aim in aims)
    k = int(np.argmax(held))
    who = (
        f"borrower {str(biggest[k].index[0])!r} holds {int(biggest[k].iloc[0]):,} of the "
        f"{len(split.positions[k]):,} {PARTS[k]} rows ({held[k]:.0%})"
        if held[k] > config.borrower_share
        else "whole borrowers do not fill the parts as aimed"
    )
    return (
        f"the split by borrower is uneven: {parts} of {rows:,} rows, aimed at {aimed}; {who}: metrics, early "
        "stopping and cut-offs set on so few or such rows may mislead"
    )


def borrowers_across(split: Split) -> str | None:
    """Under an out-of-time split by a table with a borrower column: how many of the test part's borrowers, and
    their rows, also have loans in the training part (its dates keep the parts apart, not its borrowers); None
    otherwise, or when none do."""
    if not split.method.startswith("out_of_time") or not split.schema.borrower_column:
        return None
    train, test = split.borrowers("train"), split.borrowers("test")
    assert train is not None and test is not None
    seen = np.isin(test, train)
    if not seen.any():
        return None
    return (
        f"{len(np.unique(test[seen])):,} of the test part's {len(np.unique(test)):,} borrowers ({int(seen.sum()):,} "
        f"of its {len(test):,} rows, {seen.mean():.0%}) also have loans in the training part: an out-of-time split "
        "keeps dates apart, not borrowers, so the test metrics partly measure borrowers the model learnt from, as "
        "returning borrowers are scored"
    )


def _out_of_time(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    """Oldest rows train, the next validate, the newest test; ties keep table order."""
    column = str(schema.date_column)
    dates = read_dates(frame[column]) if column in frame.columns else None
    if dates is None or dates.isna().any():  # only then read again, for the words naming the rows
        raise SplitError(str(date_problem(frame, schema, ValidationSettings().examples_shown)))
    order = np.argsort(dates.to_numpy(), kind="stable")
    n = len(frame)
    n_test = int(round(n * config.test_size))
    n_valid = int(round(n * config.valid_size))
    cut_train, cut_valid = n - n_test - n_valid, n - n_test
    parts = (order[:cut_train], order[cut_train:cut_valid], order[cut_valid:])
    return Split(frame, parts, method="out_of_time", schema=schema)


SPLIT_FIELDS = ("date_column", "borrower_column")


def splits_otherwise(given: Schema, trained: Schema) -> str:
    """How `given` would split a table otherwise than `trained` (the fields the split reads, each as given against
    as trained); empty when it splits it alike."""
    return "; ".join(
        f"{name} {_named(getattr(given, name))} against {_named(getattr(trained, name))}"
        for name in SPLIT_FIELDS
        if getattr(given, name) != getattr(trained, name)
    )


def _named(column: str | None) -> str:
    return "none" if column is None else repr(column)
