"""The scorer artefact: schema + LightGBM booster + Platt calibration + score scale, saved and reloaded exactly."""

from __future__ import annotations

import copy
import hashlib
import json
import numbers
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy.special import expit

from thinfile.features.schema import Schema, SchemaError, parse_schema
from thinfile.features.settings import ValidationSettings
from thinfile.features.validate import require_frame
from thinfile.training.scorer import treeshap
from thinfile.training.scorer.explain import (
    DEFAULT_TOP_REASONS,
    MOST_TOP_REASONS,
    Explanation,
    HintTexts,
    explain_contributions,
    hint_values,
)
from thinfile.training.scorer.policy import Cutoffs, check_reachable
from thinfile.training.scorer.scale import ScoreScale
from thinfile.training.scorer.treeshap import ExplainEngineConfig, TreeTables, build_tables

if TYPE_CHECKING:
    import lightgbm as lgb

MODEL_FILE = "model.lgb"
META_FILE = "scorer.json"


def _lightgbm() -> Any:
    """LightGBM, imported where a booster is first needed: it imports scikit-learn too, a third of a scoring
    worker's imports, and a worker that explains from the tables never calls it."""
    import lightgbm

    return lightgbm


class DeferredBooster:
    """A booster held as its model text (as LightGBM wrote it); the LightGBM booster is built on first use of any
    attribute but `model_to_string()`, which answers from the text (the explainer's tables and the model's
    fingerprint read only that)."""

    def __init__(self, model_text: str) -> None:
        self._text = model_text
        self._booster: Any = None

    def model_to_string(self, *args: Any, **kwargs: Any) -> str:
        if args or kwargs:
            return str(self.__getattr__("model_to_string")(*args, **kwargs))
        return self._text

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_text", "_booster"):
            raise AttributeError(name)
        if self._booster is None:
            self._booster = _lightgbm().Booster(model_str=self._text)
        return getattr(self._booster, name)

    def __getstate__(self) -> dict:
        return {"_text": self._text, "_booster": None}


class DamagedModelError(ValueError):
    """A saved scorer's model file does not match the checksum saved with it: LightGBM would crash reading it."""


class UnreadableScorerError(ValueError):
    """A saved scorer's scorer.json is not one a scorer wrote: not JSON, or lacking or garbling what a scorer needs."""


SAVED_FIELDS = ("schema", "scale", "cutoffs", "calibration", "reference", "meta")
"""what `Scorer.save` writes in scorer.json beside the model file's checksum"""


@dataclass
class Scorer:
    """Scores applicants; every score decomposes exactly into per-feature points.

    Calibration is Platt scaling on the booster's log-odds (margin' = a * margin + b), which keeps
    the score linear in the TreeSHAP contributions.
    """

    schema: Schema
    booster: lgb.Booster
    scale: ScoreScale = field(default_factory=ScoreScale)
    cutoffs: Cutoffs = field(default_factory=Cutoffs)
    calibration: tuple[float, float] = (1.0, 0.0)
    reference: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    num_threads: int = 0
    engine: ExplainEngineConfig = field(default_factory=ExplainEngineConfig, compare=False)
    _tables: TreeTables | None = field(default=None, init=False, repr=False, compare=False)
    _hint_values: dict[int, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)
    _hint_grid: treeshap.SearchGrid | None = field(default=None, init=False, repr=False, compare=False)
    _hint_texts: HintTexts = field(default_factory=dict, init=False, repr=False, compare=False)
    _tables_unsupported: str = field(default="", init=False, repr=False, compare=False)

    @property
    def tables(self) -> TreeTables | None:
        """TreeSHAP tables of the booster within `engine`'s budget, built once; None if LightGBM explains it all."""
        if self._tables is None and not self._tables_unsupported:
            try:
                self._tables = build_tables(self.booster, self.engine)
            except treeshap.UnsupportedModel as err:
                self._tables_unsupported = str(err)
        return self._tables

    @property
    def explain_engine(self) -> str:
        """One line on what computes the exact explanations (thinfile's tables, LightGBM's pred_contrib, or both)."""
        tables = self.tables
        if tables is None:
            return f"all trees explained by LightGBM's pred_contrib ({self._tables_unsupported})"
        return tables.note

    def with_protected(self, schema: Schema) -> Scorer:
        """This scorer auditing the protected attributes `schema` declares (names, categories, labels) when `schema`
        has the same model inputs: they are never inputs, so a lender may name or add groups after training.
        Itself when they are the same or the inputs differ."""
        if schema.protected == self.schema.protected or schema.feature_names != self.schema.feature_names:
            return self
        declared = {
            **self.schema.model_dump(mode="json"),
            "protected": [p.model_dump(mode="json") for p in schema.protected],
        }
        out = copy.copy(self)
        out.schema = parse_schema(
            declared, f"schema {self.schema.name!r} with the protected attributes of {schema.name!r}", stored=True
        )
        return out

    def with_cutoffs(self, approve: float | None = None, refer: float | None = None) -> Scorer:
        """This scorer deciding at other cut-offs (`Cutoffs.moved`: an approve cut-off alone keeps the refer band's
        width), each a score it can give; itself when neither is given. PolicyError or ValueError names a bad one."""
        if approve is None and refer is None:
            return self
        for what, value in (("approve", approve), ("refer", refer)):
            if value is not None and (isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real)):
                raise ValueError(f"the {what} cut-off is a score, a number; got {value!r}")
        out = copy.copy(self)
        out.cutoffs = check_reachable(self.cutoffs.moved(approve, refer), self.scale.min_score, self.scale.max_score)
        return out

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The model matrix of a table of applicants (one row each, the schema's input columns), read as validation
        reads it; ValueError naming the columns it lacks, or those holding an infinite value. It does not validate
        otherwise: a value out of range or an undeclared category is read (as missing when it cannot be), where
        `validate_table`, `batch_score` and the service reject the row."""
        require_frame(frame)
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]} & set(self.schema.feature_names))
        if twice:
            raise ValueError(f"the table has more than one column named {', '.join(twice)}: keep one of each")
        most = ValidationSettings().examples_shown
        missing = [name for name in self.schema.feature_names if name not in frame.columns]
        if missing:
            shown = ", ".join(missing[:most]) + (f" and {len(missing) - most:,} more" if len(missing) > most else "")
            raise ValueError(f"the table has no column {shown}, which the model reads (schema {self.schema.name!r})")
        X = self.schema.to_matrix(frame)
        infinite = np.isinf(X).any(axis=0)
        if infinite.any():
            names = ", ".join(np.asarray(self.schema.feature_names)[infinite][:most])
            raise ValueError(
                f"{names}: an infinite value, which no input holds; write a missing value as NaN (validate_table and "
                "batch_score reject such rows)"
            )
        return X

    def _params(self) -> dict:
        return {"num_threads": self.num_threads} if self.num_threads else {}

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of default: from the tables when they hold every tree (the same numbers as LightGBM's,
        faster), else from LightGBM."""
        a, b = self.calibration
        built = self._tables is not None or len(X) >= self.engine.predict_rows
        tables = self.tables if built else None
        if tables is not None and not tables.lightgbm_trees:
            raw = treeshap.margins(tables, X, self.num_threads, self.engine)
        else:
            raw = np.asarray(self.booster.predict(X, raw_score=True, **self._params()), dtype=np.float64)
        return a * raw + b

    def contributions(self, X: np.ndarray, exact_engine: Literal["tables", "lightgbm"] = "tables") -> np.ndarray:
        """Calibrated TreeSHAP log-odds contributions (n x p+1, last column the bias).

        `exact_engine="tables"` uses thinfile's precomputed TreeSHAP (same numbers, faster; trees over
        the table budget go to LightGBM), "lightgbm" uses `Booster.predict(pred_contrib=True)` alone.
        """
        if exact_engine not in ("tables", "lightgbm"):
            raise ValueError(f"exact_engine is 'tables' or 'lightgbm', got {exact_engine!r}")
        a, b = self.calibration
        tables = self.tables if exact_engine == "tables" else None
        if tables is None:
            contrib = np.asarray(self.booster.predict(X, pred_contrib=True, **self._params()), dtype=np.float64)
        else:
            contrib = treeshap.contributions(tables, X, self.num_threads, self.booster, self.engine)
        contrib *= a
        contrib[:, -1] += b
        return contrib

    def predict_pd(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The calibrated probability of default of every row of a DataFrame (`matrix`) or model matrix."""
        X = frame if isinstance(frame, np.ndarray) else self.matrix(frame)
        return np.asarray(expit(self.margin(X)))

    def explain(self, frame: pd.DataFrame | np.ndarray, top_reasons: int = DEFAULT_TOP_REASONS) -> Explanation:
        """Score, band, decision, points, dimension sub-scores and `top_reasons` (1 to 10) reason codes for every
        row of a DataFrame (`matrix`) or of a model matrix already made."""
        whole = isinstance(top_reasons, numbers.Integral) and not isinstance(top_reasons, bool | np.bool_)
        if not (whole and 1 <= top_reasons <= MOST_TOP_REASONS):
            raise ValueError(f"top_reasons is a whole number from 1 to {MOST_TOP_REASONS}, got {top_reasons!r}")
        X = frame if isinstance(frame, np.ndarray) else self.matrix(frame)
        explained = explain_contributions(
            self.schema,
            X,
            self.contributions(X),
            self.scale,
            self.cutoffs,
            self.hint_values,
            self.contributions,
            top_reasons,
            self.contribution_search if self._tables_hold_every_tree() else None,
            self._hint_texts,
        )
        return explained if isinstance(frame, np.ndarray) else replace(explained, index=frame.index)

    def _tables_hold_every_tree(self) -> bool:
        tables = self.tables
        return tables is not None and not tables.lightgbm_runs and not tables.whole_model_by_lightgbm

    def contribution_search(
        self, X: np.ndarray, features: np.ndarray, outer: float, floor: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hint values by one kernel call: per feature features[r, k] (-1: none) of row r, its calibrated
        contribution at the farthest hint value beyond the row's value in its monotone direction, and the nearest
        value at which outer x that contribution reaches `floor` (else the farthest; NaN: none), and whether one
        does (see `treeshap.contribution_search`)."""
        tables = self.tables
        assert tables is not None
        if self._hint_grid is None:
            hints = self.hint_values
            direction: dict[int, int] = {j: self.schema.features[j].monotone for j in hints}
            self._hint_grid = treeshap.search_grid(tables, hints, direction)
        a, _ = self.calibration
        last, value, reached = treeshap.contribution_search(tables, self._hint_grid, X, features, outer, a, floor)
        return a * last, value, reached

    @property
    def hint_values(self) -> dict[int, np.ndarray]:
        """Candidate values for 'what would help' hints: those that cross the model's splits."""
        if self._hint_values is None:
            splits = treeshap.split_values(self.tables) if self.tables is not None else {}
            self._hint_values = hint_values(self.schema, splits)
        return self._hint_values

    def pickled_for_workers(self) -> bytes:
        """This scorer pickled for scoring processes: its tables built here once, its booster as model text (built in
        a worker only if some tree is over the table budget, so a worker need not import LightGBM)."""
        self.tables  # noqa: B018 (built once here: each worker unpickles them instead of building its own)
        light = copy.copy(self)
        light.booster = cast("lgb.Booster", DeferredBooster(self.booster.model_to_string()))
        return pickle.dumps(light)

    def save(self, directory: str | Path) -> Path:
        """Write the scorer to `directory` (scorer.json and the model file, with its checksum), for `load`."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(d / MODEL_FILE))
        payload = {
            "model_sha256": hashlib.sha256((d / MODEL_FILE).read_bytes()).hexdigest(),
            "schema": self.schema.model_dump(mode="json"),
            "scale": self.scale.model_dump(mode="json"),
            "cutoffs": self.cutoffs.model_dump(mode="json"),
            "calibration": list(self.calibration),
            "reference": self.reference,
            "meta": self.meta,
        }
        (d / META_FILE).write_text(json.dumps(payload, indent=1, sort_keys=True))
        return d

    @classmethod
    def load(cls, directory: str | Path) -> Scorer:
        """The scorer saved in `directory`; DamagedModelError or UnreadableScorerError, naming the file, when its
        model file or its scorer.json was damaged."""
        d = Path(directory)
        if not d.is_dir():
            what = "is a file" if d.exists() else "does not exist"
            raise UnreadableScorerError(f"{d} {what}: give the folder a scorer was saved to (Scorer.save)")
        payload = _saved_payload(d / META_FILE)
        model = (d / MODEL_FILE).read_bytes()
        expected = payload.get("model_sha256")  # absent in scorers saved before it was kept
        if expected is not None and hashlib.sha256(model).hexdigest() != expected:
            raise DamagedModelError(
                f"{d / MODEL_FILE} is damaged (it does not match the checksum {META_FILE} keeps for it): restore "
                "it from a copy, or train again"
            )
        text = model.decode("utf-8", errors="replace")
        try:
            return cls(
                schema=parse_schema(payload["schema"], str(d / META_FILE), stored=True),
                # checked against the checksum it was saved with, LightGBM wrote the text: it is read when first needed
                booster=_lightgbm().Booster(model_str=text)
                if expected is None
                else cast("lgb.Booster", DeferredBooster(text)),
                scale=ScoreScale.model_validate(payload["scale"]),
                cutoffs=Cutoffs.model_validate(payload["cutoffs"]),
                calibration=_calibration(payload["calibration"]),
                reference=payload["reference"],
                meta=payload["meta"],
            )
        except SchemaError:  # names the file, and says what of the schema this version cannot read
            raise
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            raise _unreadable(d / META_FILE, f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        except (ValueError, TypeError) as err:
            raise _unreadable(d / META_FILE, str(err).splitlines()[0] if str(err) else type(err).__name__) from None


def _saved_payload(path: Path) -> dict[str, Any]:
    """The JSON object `Scorer.save` wrote at `path`, holding every one of SAVED_FIELDS; else UnreadableScorerError."""
    try:
        payload = json.loads(path.read_bytes())
    except ValueError as err:  # not JSON, or not UTF-8
        raise _unreadable(path, f"not JSON: {str(err).splitlines()[0]}") from None
    if not isinstance(payload, dict):
        raise _unreadable(path, f"it holds a JSON {type(payload).__name__}, not an object")
    missing = [name for name in SAVED_FIELDS if name not in payload]
    if missing:
        raise _unreadable(path, f"it lacks {', '.join(missing)}")
    return payload


def _calibration(value: object) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value)):
        raise ValueError("calibration is not two numbers")
    return float(value[0]), float(value[1])


def _unreadable(path: Path, why: str) -> UnreadableScorerError:
    return UnreadableScorerError(
        f"{path} is damaged or was not written by thinfile ({why}); restore the scorer's folder from a copy, or "
        "train again"
    )
