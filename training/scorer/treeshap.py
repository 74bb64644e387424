"""Exact path-dependent TreeSHAP for LightGBM, precomputed per leaf (the FastTreeSHAP "v2" idea).

For a leaf whose path splits on the unique features P (|P| <= depth), the leaf's share of every
feature's SHAP value depends only on which of those features the row agrees with: a mask of
2^|P| patterns. Tabulating phi per (leaf, mask) once turns explaining a row into: decide each split,
build each leaf's mask, add its table row. Split decisions follow LightGBM's own rules (missing
types None / Zero / NaN, default direction, categorical sets), so rows full of missing values give
the same numbers as `Booster.predict(pred_contrib=True)`; tests compare the two.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from math import factorial
from typing import Any

import lightgbm as lgb
import numba
import numpy as np

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
MAX_LEAVES = 64


class UnsupportedModel(ValueError):
    """A booster these tables cannot represent (use LightGBM's own pred_contrib instead)."""


_ZERO = 1e-35


@dataclass(frozen=True)
class TreeTables:
    """Flattened trees and per-leaf SHAP tables, ready for the numba kernel."""

    n_features: int
    bias: float
    tree_node_start: np.ndarray
    tree_leaf_start: np.ndarray
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_is_cat: np.ndarray
    node_default_left: np.ndarray
    node_missing: np.ndarray
    node_cat_start: np.ndarray
    node_cat_len: np.ndarray
    cat_values: np.ndarray
    slot_nodes: np.ndarray
    slot_expect: np.ndarray
    leaf_feat_start: np.ndarray
    leaf_nfeat: np.ndarray
    leaf_feats: np.ndarray
    leaf_table_start: np.ndarray
    phi_table: np.ndarray


@numba.njit(cache=True)
def _leaf_table(value: float, zero: np.ndarray, k: int, weights: np.ndarray) -> np.ndarray:
    """phi (2^k x k) of one leaf: row m is the pattern where feature q agrees iff bit q of m is set."""
    out = np.zeros((1 << k, k))
    for m in range(1 << k):
        for i in range(k):
            o_i = 1.0 if (m >> i) & 1 else 0.0
            total = 0.0
            for s in range(1 << k):
                if (s >> i) & 1:
                    continue
                size = 0
                prod = 1.0
                for j in range(k):
                    if j == i:
                        continue
                    if (s >> j) & 1:
                        size += 1
                        prod *= 1.0 if (m >> j) & 1 else 0.0
                    else:
                        prod *= zero[j]
                total += weights[size] * prod
            out[m, i] = value * (o_i - zero[i]) * total
    return out


def _weights(k: int) -> np.ndarray:
    return np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)] if k else [0.0])


def build_tables(booster: lgb.Booster) -> TreeTables:
    """Read the booster's trees (splits, counts, leaf values) and tabulate every leaf's SHAP shares."""
    dump = booster.dump_model()
    n_features = len(dump["feature_names"])
    nodes: dict[str, list] = {
        k: [] for k in ("feature", "threshold", "is_cat", "default_left", "missing", "cat_start", "cat_len")
    }
    cat_values: list[int] = []
    leaves: dict[str, list] = {k: [] for k in ("feat_start", "nfeat", "table_start")}
    slot_nodes: list[int] = []
    slot_expect: list[int] = []
    leaf_feats: list[int] = []
    tables: list[np.ndarray] = []
    tree_node_start, tree_leaf_start = [0], [0]
    bias = 0.0
    table_size = 0

    for tree in dump["tree_info"]:
        if tree["num_leaves"] > MAX_LEAVES:
            raise UnsupportedModel(
                f"a tree has {tree['num_leaves']} leaves; precomputed TreeSHAP handles up to {MAX_LEAVES}"
            )
        root = tree["tree_structure"]
        node_base = len(nodes["feature"])
        if "leaf_value" in root and "split_index" not in root:
            bias += float(root["leaf_value"])
            tree_node_start.append(node_base)
            tree_leaf_start.append(len(leaves["nfeat"]))
            continue
        stack: list[tuple[dict[str, Any], list[tuple[int, bool, int, float]]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            if "split_index" in node:
                idx = node_base + node["split_index"]
                while len(nodes["feature"]) <= idx:
                    for v in nodes.values():
                        v.append(0)
                nodes["feature"][idx] = node["split_feature"]
                nodes["default_left"][idx] = bool(node["default_left"])
                nodes["missing"][idx] = _MISSING[node["missing_type"]]
                if node["decision_type"] == "==":
                    cats = [int(c) for c in str(node["threshold"]).split("||")]
                    nodes["is_cat"][idx] = True
                    nodes["cat_start"][idx] = len(cat_values)
                    nodes["cat_len"][idx] = len(cats)
                    nodes["threshold"][idx] = 0.0
                    cat_values.extend(cats)
                else:
                    nodes["is_cat"][idx] = False
                    nodes["threshold"][idx] = float(node["threshold"])
                total = float(node["internal_count"])
                for child, left in ((node["left_child"], True), (node["right_child"], False)):
                    count = child.get("internal_count", child.get("leaf_count", 0))
                    stack.append((child, path + [(idx, left, node["split_feature"], count / total if total else 0.0)]))
            else:
                feats: list[int] = []
                zero: list[float] = []
                nodes_of: list[int] = []
                expect_of: list[int] = []
                for idx, left, feat, frac in path:
                    if feat not in feats:
                        feats.append(feat)
                        zero.append(1.0)
                        nodes_of.append(0)
                        expect_of.append(0)
                    slot = feats.index(feat)
                    zero[slot] *= frac
                    bit = 1 << (idx - node_base)
                    nodes_of[slot] |= bit
                    expect_of[slot] |= bit if left else 0
                slot_nodes.extend(nodes_of)
                slot_expect.extend(expect_of)
                value = float(node["leaf_value"])
                k = len(feats)
                bias += value * float(np.prod(zero)) if k else value
                leaves["feat_start"].append(len(leaf_feats))
                leaves["nfeat"].append(k)
                leaf_feats.extend(feats)
                table = _leaf_table(value, np.array(zero, dtype=np.float64), k, _weights(k)).ravel()
                leaves["table_start"].append(table_size)
                table_size += table.size
                tables.append(table)
        tree_node_start.append(len(nodes["feature"]))
        tree_leaf_start.append(len(leaves["nfeat"]))

    i64 = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return TreeTables(
        n_features=n_features,
        bias=bias,
        tree_node_start=i64(tree_node_start),
        tree_leaf_start=i64(tree_leaf_start),
        node_feature=i64(nodes["feature"]),
        node_threshold=np.asarray(nodes["threshold"], dtype=np.float64),
        node_is_cat=np.asarray(nodes["is_cat"], dtype=np.bool_),
        node_default_left=np.asarray(nodes["default_left"], dtype=np.bool_),
        node_missing=i64(nodes["missing"]),
        node_cat_start=i64(nodes["cat_start"]),
        node_cat_len=i64(nodes["cat_len"]),
        cat_values=i64(cat_values),
        slot_nodes=i64(slot_nodes),
        slot_expect=i64(slot_expect),
        leaf_feat_start=i64(leaves["feat_start"]),
        leaf_nfeat=i64(leaves["nfeat"]),
        leaf_feats=i64(leaf_feats),
        leaf_table_start=i64(leaves["table_start"]),
        phi_table=np.concatenate(tables) if tables else np.zeros(0),
    )


@numba.njit(cache=True, inline="always")
def _goes_left(
    x: np.ndarray,
    node: int,
    feature: np.ndarray,
    threshold: np.ndarray,
    is_cat: np.ndarray,
    default_left: np.ndarray,
    missing: np.ndarray,
    cat_start: np.ndarray,
    cat_len: np.ndarray,
    cat_values: np.ndarray,
) -> bool:
    v = x[feature[node]]
    if is_cat[node]:
        if np.isnan(v):
            if missing[node] == 2:
                return False
            v = 0.0
        iv = int(v)
        if iv < 0:
            return False
        for c in range(cat_start[node], cat_start[node] + cat_len[node]):  # noqa: SIM110 (numba)
            if cat_values[c] == iv:
                return True
        return False
    if np.isnan(v) and missing[node] != 2:
        v = 0.0
    if (missing[node] == 1 and abs(v) <= 1e-35) or (missing[node] == 2 and np.isnan(v)):
        return default_left[node]
    return v <= threshold[node]


def _contributions_py(
    X,
    bias,
    tree_node_start,
    tree_leaf_start,
    feature,
    threshold,
    is_cat,
    default_left,
    missing,
    cat_start,
    cat_len,
    cat_values,
    slot_nodes,
    slot_expect,
    leaf_feat_start,
    leaf_nfeat,
    leaf_feats,
    leaf_table_start,
    phi_table,
):
    n, p = X.shape
    out = np.zeros((n, p + 1))
    n_trees = len(tree_node_start) - 1
    for r in numba.prange(n):
        x = X[r]
        row = out[r]
        row[p] = bias
        for t in range(n_trees):
            base = tree_node_start[t]
            went_left = 0
            for nd in range(base, tree_node_start[t + 1]):
                if _goes_left(x, nd, feature, threshold, is_cat, default_left, missing, cat_start, cat_len, cat_values):
                    went_left |= 1 << (nd - base)
            for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
                k = leaf_nfeat[leaf]
                fs = leaf_feat_start[leaf]
                mask = 0
                for q in range(k):
                    if ((went_left ^ slot_expect[fs + q]) & slot_nodes[fs + q]) == 0:
                        mask |= 1 << q
                start = leaf_table_start[leaf] + mask * k
                for q in range(k):
                    row[leaf_feats[fs + q]] += phi_table[start + q]
    return out


_kernel = numba.njit(cache=True, parallel=True)(_contributions_py)
_kernel_lock = threading.Lock()
PARALLEL_ROWS = 5_000


def contributions(tables: TreeTables, X: np.ndarray, threads: int = 0) -> np.ndarray:
    """SHAP log-odds contributions (n x p+1, last column the bias), equal to LightGBM's pred_contrib.

    One kernel, compiled with numba's parallel lowering (much faster than its serial build even on
    one thread); small inputs run on one thread, large ones on `threads` (0 = all). Calls are
    serialised, since not every numba threading layer may be entered from several threads at once.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != tables.n_features:
        raise ValueError(f"expected a matrix with {tables.n_features} feature columns, got shape {X.shape}")
    most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    use = 1 if len(X) < PARALLEL_ROWS else min(threads or most, most)
    with _kernel_lock:
        numba.set_num_threads(use)
        return _run(_kernel, tables, X)


def _run(kernel, t: TreeTables, X: np.ndarray) -> np.ndarray:
    return kernel(
        X,
        t.bias,
        t.tree_node_start,
        t.tree_leaf_start,
        t.node_feature,
        t.node_threshold,
        t.node_is_cat,
        t.node_default_left,
        t.node_missing,
        t.node_cat_start,
        t.node_cat_len,
        t.cat_values,
        t.slot_nodes,
        t.slot_expect,
        t.leaf_feat_start,
        t.leaf_nfeat,
        t.leaf_feats,
        t.leaf_table_start,
        t.phi_table,
    )


def split_values(tables: TreeTables) -> dict[int, np.ndarray]:
    """Sorted unique thresholds of the numerical splits on each feature."""
    numeric = ~tables.node_is_cat
    out = {}
    for j in np.unique(tables.node_feature[numeric]):
        out[int(j)] = np.unique(tables.node_threshold[numeric & (tables.node_feature == j)])
    return out
