"""Ctrl-C during the hyper-parameter search: it reaches the caller, and optuna says nothing about it."""

import logging
from pathlib import Path

import optuna
import pandas as pd
import pytest

import thinfile.training.tuning as tuning
from thinfile.features.schema import load_schema
from thinfile.training.data import prepare
from thinfile.training.settings import TrainConfig
from thinfile.training.split import Split, split_frame

DATA = Path(__file__).resolve().parents[1] / "data"
TRIALS = 4
STOPPED_AT = 2  # the trial whose scoring Ctrl-C interrupts


@pytest.fixture(scope="module")
def split() -> Split:
    schema = load_schema(DATA / "german_credit.yaml")
    frame = prepare(pd.read_csv(DATA / "german_credit.csv"), schema).frame
    return split_frame(frame, schema, TrainConfig(tune_trials=TRIALS))


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The trials scored so far; scoring trial STOPPED_AT raises KeyboardInterrupt, as Ctrl-C in LightGBM does."""
    calls: list[int] = []
    real = tuning.cv_logloss

    def cv_logloss(*args: object) -> float:
        calls.append(len(calls) + 1)
        if len(calls) == STOPPED_AT:
            raise KeyboardInterrupt
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tuning, "cv_logloss", cv_logloss)
    return calls


@pytest.fixture
def optuna_log(caplog: pytest.LogCaptureFixture):
    """What optuna logs (its own handler prints it on stderr); optuna does not pass it on unless asked to."""
    optuna.logging.enable_propagation()
    yield caplog
    optuna.logging.disable_propagation()


def test_ctrl_c_in_a_trial_reaches_the_caller_of_the_search(split, scored):
    with pytest.raises(KeyboardInterrupt):
        tuning.tune_config(split, TrainConfig(tune_trials=TRIALS))


def test_ctrl_c_in_a_trial_ends_the_search_without_scoring_another(split, scored):
    with pytest.raises(KeyboardInterrupt):
        tuning.tune_config(split, TrainConfig(tune_trials=TRIALS))
    assert scored == [1, STOPPED_AT]


def test_ctrl_c_in_a_trial_leaves_optuna_no_failed_trial_nor_traceback_to_print(split, scored, optuna_log):
    with pytest.raises(KeyboardInterrupt):
        tuning.tune_config(split, TrainConfig(tune_trials=TRIALS))
    printed = [r for r in optuna_log.records if r.name.startswith("optuna") and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in printed] == []
    assert "Traceback" not in optuna_log.text
