"""One evaluation for every model kind: the same metrics under the same names, so MLflow can compare runs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

from thinfile.features.schema import Schema, protected_values
from thinfile.training.scorer.policy import Cutoffs
from thinfile.training.scorer.scale import ScoreScale, pd_to_score
from thinfile.training.stability import bin_shares, psi

EPS = 1e-12


@dataclass(frozen=True)
class Evaluation:
    """Metrics (flat, MLflow-ready), the calibration table by bin, and approval / bad rate by cut-off."""

    metrics: dict[str, float]
    calibration: pd.DataFrame
    cutoffs: pd.DataFrame

    def to_dict(self) -> dict[str, object]:
        return {
            "metrics": self.metrics,
            "calibration": self.calibration.to_dict(orient="records"),
            "cutoffs": self.cutoffs.to_dict(orient="records"),
        }


def metric_token(value: object) -> str:
    """A group or cut-off value as a metric-name part: '55+' -> '55plus', '18-24' -> '18_24', '农村' -> '农村'
    (letters of any script stay: MLflow takes them, and 男 and 女 must not both become one name)."""
    text = str(value).replace("+", "plus")
    return re.sub(r"\W+", "_", text).strip("_") or "blank"


def metric_tokens(values: Iterable[object]) -> dict[object, str]:
    """A distinct `metric_token` per distinct value, in the values' order: a value whose token an earlier one took
    ('single never' after 'single-never') gets '_2', '_3', ..., so that no metric overwrites another."""
    tokens: dict[object, str] = {}
    taken: set[str] = set()
    for value in values:
        if value in tokens:
            continue
        token = base = metric_token(value)
        n = 2
        while token in taken:
            token, n = f"{base}_{n}", n + 1
        tokens[value] = token
        taken.add(token)
    return tokens


def auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def _both_classes(y: np.ndarray, fewest: int) -> bool:
    bads = int(y.sum())
    return min(bads, len(y) - bads) >= fewest


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Largest gap between the cumulative distributions of bads and goods."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def calibration_table(y: np.ndarray, p: np.ndarray, score: np.ndarray, bins: int) -> pd.DataFrame:
    """Equal-count bins of predicted PD: rows, mean predicted PD, observed default rate, score range."""
    order = np.argsort(p, kind="stable")
    parts = np.array_split(order, min(bins, len(p)))
    rows = []
    for i, idx in enumerate(parts, start=1):
        rows.append(
            {
                "bin": i,
                "rows": int(len(idx)),
                "pd_mean": float(p[idx].mean()),
                "default_rate": float(y[idx].mean()),
                "score_min": float(score[idx].min()),
                "score_max": float(score[idx].max()),
            }
        )
    table = pd.DataFrame(rows)
    table["gap"] = table["default_rate"] - table["pd_mean"]
    return table


def expected_calibration_error(table: pd.DataFrame) -> float:
    """Row-weighted mean absolute gap between observed and predicted default over the bins."""
    weights = table["rows"] / table["rows"].sum()
    return float((weights * table["gap"].abs()).sum())


def cutoff_table(y: np.ndarray, score: np.ndarray, cutoffs: Sequence[float]) -> pd.DataFrame:
    """Approval rate (score >= cut-off) and bad rate among those approved, per cut-off."""
    rows = []
    for c in cutoffs:
        approved = score >= c
        rows.append(
            {
                "cutoff": float(c),
                "approval_rate": float(approved.mean()),
                "bad_rate": float(y[approved].mean()) if approved.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["cutoff", "approval_rate", "bad_rate"])


def score_psi(train_score: np.ndarray, test_score: np.ndarray, bins: int = 10) -> float:
    """PSI of the test scores against equal-count bins of the training scores."""
    edges = np.unique(np.quantile(train_score, np.linspace(0, 1, bins + 1)[1:-1])).tolist()
    return psi(bin_shares(train_score, edges), bin_shares(test_score, edges))


def default_cutoffs(scale: ScoreScale) -> list[float]:
    """Band lower bounds above the bottom of the range (the usual decision points)."""
    return [low for _, low in scale.bands if low > scale.min_score]


def thin_file_mask(frame: pd.DataFrame, schema: Schema) -> np.ndarray | None:
    """Rows with no bureau (traditional) feature present; None when the schema marks none traditional."""
    cols = [c for c in schema.traditional_features if c in frame.columns]
    if not cols:
        return None
    return frame[cols].isna().all(axis=1).to_numpy()


def evaluate(
    pd_test: np.ndarray,
    test: pd.DataFrame,
    schema: Schema,
    scale: ScoreScale,
    *,
    pd_train: np.ndarray | None = None,
    cutoffs: Sequence[float] | None = None,
    bins: int = 10,
    group_min_class_rows: int = 10,
    policy: Cutoffs | None = None,
) -> Evaluation:
    """Score a model's test-set PDs against the outcomes; identical for champion and baselines. A group's AUC is
    reported only when its rows hold `group_min_class_rows` defaults and as many repayments; approval and bad
    rate at the lending `policy`'s approve cut-off too, when the model has one."""
    y = test[schema.target].to_numpy(dtype=np.int64)
    p = np.clip(np.asarray(pd_test, dtype=np.float64), EPS, 1 - EPS)
    if len(p) != len(y):
        raise ValueError(f"{len(p)} predictions for {len(y)} test rows")
    score = pd_to_score(p, scale)
    m: dict[str, float] = {}
    m["auc"] = auc(y, p)
    m["gini"] = 2 * m["auc"] - 1
    m["ks"] = ks_statistic(y, p)
    m["brier"] = float(brier_score_loss(y, p))
    m["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
    calib = calibration_table(y, p, score, bins)
    m["ece"] = expected_calibration_error(calib)
    m["pd_mean"] = float(p.mean())
    m["default_rate"] = float(y.mean())
    m["score_mean"] = float(score.mean())
    if pd_train is not None:
        m["psi_score"] = score_psi(pd_to_score(pd_train, scale), score, bins)
    if schema.oracle_column and schema.oracle_column in test.columns:
        oracle = test[schema.oracle_column].to_numpy(dtype=np.float64)
        m["oracle_auc"] = auc(y, oracle)
        m["oracle_gap"] = m["oracle_auc"] - m["auc"]
    thin = thin_file_mask(test, schema)
    if thin is not None:
        for name, mask in (("thin_file", thin), ("thick_file", ~thin)):
            m[f"share_{name}"] = float(mask.mean())
            if _both_classes(y[mask], group_min_class_rows):
                m[f"auc_{name}"] = auc(y[mask], p[mask])
                if "oracle_auc" in m:
                    m[f"oracle_auc_{name}"] = auc(y[mask], oracle[mask])
    for attr in schema.protected_names:
        if attr not in test.columns:
            continue
        values = protected_values(test[attr], schema.group_names.get(attr))
        for group, token in metric_tokens(sorted(set(values))).items():
            mask = values == group
            if _both_classes(y[mask], group_min_class_rows):
                m[f"auc_{attr}_{token}"] = auc(y[mask], p[mask])
    points = list(cutoffs) if cutoffs is not None else default_cutoffs(scale)
    cuts = cutoff_table(y, score, points + ([policy.approve] if policy is not None else []))
    for row in cuts.itertuples():
        token = "policy" if policy is not None and row.Index == len(points) else metric_token(f"{row.cutoff:g}")
        m[f"approval_rate_at_{token}"] = row.approval_rate
        if not np.isnan(row.bad_rate):
            m[f"bad_rate_at_{token}"] = row.bad_rate
    if policy is not None:
        m["policy_cutoff"] = policy.approve
    return Evaluation({k: float(v) for k, v in m.items() if not np.isnan(v)}, calib, cuts)
