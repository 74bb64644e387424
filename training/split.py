"""Train / validation / test split: seeded and stratified, or out-of-time when the schema names a date."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from thinfile.features.schema import Schema
from thinfile.training.champion import TrainConfig


class SplitError(ValueError):
    """A table that cannot be split into usable train, validation and test parts."""


@dataclass(frozen=True)
class Split:
    """Train, validation and test rows of one table, made once and kept; model matrices built once each."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    method: str
    schema: Schema = field(repr=False)

    def sizes(self) -> dict[str, int]:
        return {"train_rows": len(self.train), "valid_rows": len(self.valid), "test_rows": len(self.test)}

    @cached_property
    def X_train(self) -> np.ndarray:
        return self.schema.to_matrix(self.train)

    @cached_property
    def X_valid(self) -> np.ndarray:
        return self.schema.to_matrix(self.valid)

    @cached_property
    def X_test(self) -> np.ndarray:
        return self.schema.to_matrix(self.test)

    def y(self, part: str) -> np.ndarray:
        return getattr(self, part)[self.schema.target].to_numpy(dtype=np.int64)


def _rows(frame: pd.DataFrame, positions: np.ndarray) -> pd.DataFrame:
    """The rows at `positions`, numbered from 0 (one copy: `reset_index` would copy them again)."""
    part = frame.take(positions)
    part.index = pd.RangeIndex(len(part))
    return part


def split_frame(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    """Out-of-time split on `schema.date_column` if it has one, else a seeded stratified split."""
    if config.test_size + config.valid_size >= 1:
        raise SplitError(f"test_size {config.test_size} + valid_size {config.valid_size} leaves no rows to train on")
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
    tr, va, te = (_rows(frame, np.sort(i)) for i in (train, valid, test))
    return Split(tr, va, te, method="stratified", schema=schema)


def _out_of_time(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> Split:
    """Oldest rows train, the next validate, the newest test; ties keep table order."""
    dates = pd.to_datetime(frame[schema.date_column], errors="coerce")
    if dates.isna().any():
        bad = int(dates.isna().sum())
        raise SplitError(f"date column {schema.date_column!r} has {bad} missing or unreadable date(s)")
    order = np.argsort(dates.to_numpy(), kind="stable")
    n = len(frame)
    n_test = int(round(n * config.test_size))
    n_valid = int(round(n * config.valid_size))
    cut_train, cut_valid = n - n_test - n_valid, n - n_test
    parts = (order[:cut_train], order[cut_train:cut_valid], order[cut_valid:])
    tr, va, te = (_rows(frame, i) for i in parts)
    return Split(tr, va, te, method="out_of_time", schema=schema)
