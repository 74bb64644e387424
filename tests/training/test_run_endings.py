"""How a run opened by `tracking.open_run` ends: FINISHED when its block ends, FAILED on an error, KILLED (and saying
so) when the process is stopped inside it, including by a Ctrl-C that arrives while MLflow makes the run."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from thinfile.training.settings import tracking_uri
from thinfile.training.tracking import ENDED_TAG, experiment_id, open_run


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _ended(run_id: str) -> tuple[str, str | None]:
    run = MlflowClient(tracking_uri()).get_run(run_id)
    return run.info.status, run.data.tags.get(ENDED_TAG)


def test_a_whole_run_ends_finished() -> None:
    with open_run(experiment_id=experiment_id(), run_name="whole") as run:
        mlflow.log_param("a", 1)
    assert _ended(run.info.run_id) == ("FINISHED", None)
    assert mlflow.active_run() is None


def test_an_error_ends_it_failed() -> None:
    with pytest.raises(ValueError), open_run(experiment_id=experiment_id(), run_name="failed") as run:
        raise ValueError("a bug")
    assert _ended(run.info.run_id) == ("FAILED", None)


def test_ctrl_c_inside_ends_it_killed_saying_it_was_stopped(ctrl_c_raises: None) -> None:
    with pytest.raises(KeyboardInterrupt), open_run(experiment_id=experiment_id(), run_name="stopped") as run:
        signal.raise_signal(signal.SIGINT)
    status, why = _ended(run.info.run_id)
    assert status == "KILLED" and why is not None and "stopped (Ctrl-C or SIGTERM)" in why
    assert mlflow.active_run() is None


def test_ctrl_c_while_the_run_is_made_waits_until_it_can_be_ended(
    ctrl_c_raises: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_run, made = mlflow.start_run, []

    def ctrl_c_on_making(**kwargs: object) -> object:
        run = start_run(**kwargs)  # type: ignore[arg-type]
        made.append(run.info.run_id)
        signal.raise_signal(signal.SIGINT)  # MLflow's own `with` was never entered: the run stayed RUNNING
        return run

    monkeypatch.setattr(mlflow, "start_run", ctrl_c_on_making)
    with pytest.raises(KeyboardInterrupt), open_run(experiment_id=experiment_id(), run_name="made"):
        pytest.fail("the block ran although Ctrl-C came as its run was made")
    assert _ended(made[0])[0] == "KILLED"
