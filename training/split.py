"""Train / validation / test split: seeded and stratified, or out-of-time when the schema names a date."""

from __future__ import annotations

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
    """Out-of-time split on `schema.date_column` if it has one, else a seeded stratified split."""
    if config.test_size + config.valid_size >= 1:
        raise SplitError(f"test_size {config.test_size} + valid_size {config.valid_size} leaves no rows to train on")
    frame = frame.copy(deep=False)
    frame.index = pd.RangeIndex(len(frame))
    if schema.date_column:
        return _out_of_time(frame, schema, config)
    return _stratified(frame, schema, config)


def _stratified(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    y = frame[schema.target].astype("float64").fillna(-1).to_numpy()  # rejects without an outcome: their own stratum
    rest, test = train_test_split(
        np.arange(len(frame)), test_size=config.test_size, stratify=y, random_state=config.seed
    )
    valid_share = config.valid_size / (1 - config.test_size)
    train, valid = train_test_split(rest, test_size=valid_share, stratify=y[rest], random_state=config.seed + 1)
    return Split(frame, (np.sort(train), np.sort(valid), np.sort(test)), method="stratified", schema=schema)


def _out_of_time(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    """Oldest rows train, the next validate, the newest test; ties keep table order."""
    problem = date_problem(frame, schema, ValidationSettings().examples_shown)
    if problem:
        raise SplitError(problem)
    dates = read_dates(frame[schema.date_column])
    order = np.argsort(dates.to_numpy(), kind="stable")
    n = len(frame)
    n_test = int(round(n * config.test_size))
    n_valid = int(round(n * config.valid_size))
    cut_train, cut_valid = n - n_test - n_valid, n - n_test
    parts = (order[:cut_train], order[cut_train:cut_valid], order[cut_valid:])
    return Split(frame, parts, method="out_of_time", schema=schema)
