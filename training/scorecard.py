"""Traditional baselines: binned, WoE-based logistic scorecards (optbinning), on bureau fields or on all inputs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.pyfunc import PythonModel, PythonModelContext
from optbinning import BinningProcess
from ortools.sat.python import cp_model
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from thinfile.features.schema import Schema
from thinfile.training.registry import (
    input_signature,
    load_python_model,
    model_input_example,
    pinned_requirements,
    use_store,
)

BUREAU_FAMILY = "bureau_scorecard"
ALL_INPUTS_FAMILY = "all_inputs_scorecard"
TREND = {1: "descending", -1: "ascending"}


class _CtrlCLeftToPython(cp_model.CpSolver):
    """CP-SAT, optbinning's solver, without its own Ctrl-C handler."""

    def __init__(self) -> None:
        super().__init__()
        self.parameters.catch_sigint_signal = False


@contextlib.contextmanager
def ctrl_c_left_to_python() -> Iterator[None]:
    """optbinning's solves leave Ctrl-C to Python: CP-SAT would take it for itself (ending only the solve in hand)
    and, done, put the operating system's default back under Python's handler, so that a later Ctrl-C killed the
    command without a word, its runs left RUNNING and its scratch folder behind."""
    made = cp_model.CpSolver
    cp_model.CpSolver = _CtrlCLeftToPython  # type: ignore[misc]
    try:
        yield
    finally:
        cp_model.CpSolver = made  # type: ignore[misc]


class ScorecardError(ValueError):
    """A scorecard that cannot be built, with a message that says why."""


@dataclass
class WoeScorecard:
    """Optimal binning -> weight of evidence -> logistic regression, over a named subset of schema features."""

    schema: Schema
    features: list[str]
    family: str
    binning: BinningProcess
    model: LogisticRegression

    @classmethod
    def fit(cls, train: pd.DataFrame, schema: Schema, features: list[str], family: str, seed: int = 0) -> WoeScorecard:
        unknown = sorted(set(features) - set(schema.feature_names))
        if unknown:
            raise ScorecardError(f"{family}: features not in schema {schema.name!r}: {', '.join(unknown)}")
        if not features:
            raise ScorecardError(f"{family}: no features to build a scorecard on")
        features = [f for f in schema.feature_names if f in set(features)]
        categorical = [f for f in features if schema.by_name[f].categories]
        fit_params = {
            f: {"monotonic_trend": TREND[schema.by_name[f].monotone]}
            for f in features
            if schema.by_name[f].monotone in TREND
        }
        binning = BinningProcess(
            features, categorical_variables=categorical or None, binning_fit_params=fit_params or None
        )
        x = _matrix(train, schema, features)
        y = train[schema.target].to_numpy(dtype=np.int64)
        with ctrl_c_left_to_python():
            woe = binning.fit_transform(x, y, metric="woe", metric_missing="empirical", metric_special="empirical")
        model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
        model.fit(woe.to_numpy(dtype=np.float64), y)
        return cls(schema, features, family, binning, model)

    def woe(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        x = _matrix(frame, self.schema, self.features)
        out = self.binning.transform(x, metric="woe", metric_missing="empirical", metric_special="empirical")
        return out.to_numpy(dtype=np.float64)

    def margin(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Log-odds of default."""
        return self.woe(frame) @ self.model.coef_[0] + self.model.intercept_[0]

    def predict_pd(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        return np.asarray(expit(self.margin(frame)))

    def contributions(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Per-feature log-odds of default (n x features); with the intercept they sum to the margin."""
        return self.woe(frame) * self.model.coef_[0]

    def binning_table(self) -> pd.DataFrame:
        return self.binning.summary()


def _matrix(frame: pd.DataFrame | np.ndarray, schema: Schema, features: list[str]) -> pd.DataFrame:
    """The schema's model matrix (given, or built by `Schema.to_matrix`), restricted to `features`, named."""
    matrix = frame if isinstance(frame, np.ndarray) else schema.to_matrix(frame)
    idx = [schema.feature_names.index(f) for f in features]
    return pd.DataFrame(matrix[:, idx], columns=features)


def fit_bureau_scorecard(train: pd.DataFrame, schema: Schema, seed: int = 0) -> WoeScorecard:
    """What a bank without alternative data does: the bureau-record (traditional) features only."""
    if not schema.traditional_features:
        raise ScorecardError(f"schema {schema.name!r} marks no feature 'traditional: true'; no bureau-only baseline")
    return WoeScorecard.fit(train, schema, schema.traditional_features, BUREAU_FAMILY, seed)


def fit_all_inputs_scorecard(train: pd.DataFrame, schema: Schema, seed: int = 0) -> WoeScorecard:
    """The interpretable challenger: the same method on every model input."""
    return WoeScorecard.fit(train, schema, schema.feature_names, ALL_INPUTS_FAMILY, seed)


class ScorecardPyfunc(PythonModel):
    """MLflow pyfunc face of a WoeScorecard: predict returns a frame with one column, `pd`."""

    def __init__(self, scorecard: WoeScorecard) -> None:
        self.scorecard = scorecard

    def predict(
        self, context: PythonModelContext, model_input: pd.DataFrame, params: dict[str, object] | None = None
    ) -> pd.DataFrame:
        return pd.DataFrame({"pd": self.scorecard.predict_pd(pd.DataFrame(model_input))})


def load_baseline(run_id: str, artifact_path: str = "model") -> WoeScorecard:
    """The WoeScorecard logged by run `run_id` (e.g. the champion run's tag `thinfile.bureau_baseline_run`)."""
    use_store()
    wrapped = load_python_model(f"runs:/{run_id}/{artifact_path}")
    if not isinstance(wrapped, ScorecardPyfunc):
        raise ScorecardError(f"run {run_id} did not log a WoE scorecard (found {type(wrapped).__name__})")
    return wrapped.scorecard


def log_scorecard_model(
    scorecard: WoeScorecard, example: pd.DataFrame, name: str = "model"
) -> mlflow.models.model.ModelInfo:
    """Log a WoE scorecard as a pyfunc model whose predict returns `pd`, with signature and input example."""
    example = model_input_example(scorecard.schema, example)
    output = infer_signature(example, pd.DataFrame({"pd": scorecard.predict_pd(example)})).outputs
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=ScorecardPyfunc(scorecard),
        signature=ModelSignature(inputs=input_signature(scorecard.schema), outputs=output),
        input_example=example,
        pip_requirements=pinned_requirements("optbinning"),
    )
