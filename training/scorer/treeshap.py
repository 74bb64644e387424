"""Exact path-dependent TreeSHAP for LightGBM boosters, precomputed into tables (the FastTreeSHAP "v2" idea).

For a leaf whose path splits on the distinct features P (k = |P|), the leaf's share of every feature's
SHAP value depends only on which of those features the row agrees with: 2^k patterns, so the leaf's
shares fit a 2^k x k table. A tree with few splits goes one step further: its whole contribution
depends only on the row's decision at each of its N splits, so one 2^N-row table indexed by those
decisions replaces its leaves' tables (the champion's depth-3 trees have N = 7: 128 rows). Explaining
a row is then one pass of split decisions per tree plus one table row added.

Split decisions follow LightGBM 4.7's `Tree::NumericalDecision` / `CategoricalDecision` and its dense
row reader, so the numbers equal `Booster.predict(pred_contrib=True)`:
- |x| <= kZeroThreshold (the float 1e-35f, held in a double) is read as 0.0 before any split;
- numerical: NaN is read as 0.0 unless the missing type is NaN; missing type Zero sends 0.0 (and so
  NaN) the default way, missing type NaN sends NaN the default way; otherwise `x <= threshold` goes left;
- categorical: NaN, values <= -1 and values outside int32 go right whatever the missing type (the
  x86 cast of NaN is INT_MIN, LightGBM's "NaN is always in the right"); otherwise the truncated
  integer goes left iff it is in the split's category set.

Tables are bounded by `ExplainEngineConfig`: a tree whose tables would pass the budget (per leaf, or
the model's total) is left out and explained by LightGBM's own `pred_contrib` over that tree alone;
the sum of per-tree contributions is the model's, so the result stays exact. No build can hang.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from math import factorial
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from pydantic import Field

from thinfile.features.settings import Section

if TYPE_CHECKING:
    import lightgbm as lgb

ZERO_THRESHOLD = float(np.float32(1e-35))
"""LightGBM's kZeroThreshold: `const double kZeroThreshold = 1e-35f`, i.e. 1.0000000180025095e-35."""

_MISSING = {"None": 0, "Zero": 1, "NaN": 2}

CONSTANT, PATTERN, LEAVES, LIGHTGBM = 0, 1, 2, 3
"""How each tree is explained: a constant (bias only), one pattern table, per-leaf tables, LightGBM."""

MAX_LEAVES = 64
"""The per-leaf kernel keeps a tree's split decisions in one 64-bit word: larger trees go to LightGBM."""


class ExplainEngineConfig(Section):
    """Budget of the precomputed TreeSHAP tables and how the kernel runs; past it, LightGBM explains.

    Table entries are float64 (8 bytes). A leaf with k distinct features on its path needs 2^k * k
    entries (building them costs ~k^2 operations each); a tree with N splits kept as one pattern table
    needs 2^N * (distinct features of the tree).
    """

    max_leaf_entries: int = Field(2**12 * 12, ge=1, description="table entries of one leaf (2^k*k; k <= 12)")
    max_total_entries: int = Field(8_000_000, ge=0, description="table entries of the whole model (64 MB)")
    max_pattern_splits: int = Field(10, ge=0, le=20, description="trees with at most this many splits get one table")
    max_lightgbm_runs: int = Field(
        16, ge=0, description="more separate runs of over-budget trees than this: LightGBM explains the whole model"
    )
    parallel_rows: int = Field(5_000, ge=1, description="inputs with fewer rows run on one thread")
    block_rows: int = Field(256, ge=1, description="rows a kernel task explains tree by tree")
    predict_rows: int = Field(
        50_000,
        ge=0,
        description="a prediction of this many rows builds the tables (if not yet built) and predicts from them, "
        "several times faster than LightGBM; a smaller one uses LightGBM until they exist",
    )


class UnsupportedModel(ValueError):
    """A booster these tables cannot represent (use LightGBM's own pred_contrib instead)."""


@dataclass(frozen=True)
class TreeTables:
    """Flattened trees (every tree's splits) and the SHAP tables of the trees within the budget."""

    n_features: int
    n_trees: int
    bias: float
    tree_kind: np.ndarray
    tree_node_start: np.ndarray
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_is_cat: np.ndarray
    node_zero_left: np.ndarray
    node_nan_left: np.ndarray
    node_cat_start: np.ndarray
    node_cat_len: np.ndarray
    cat_bits: np.ndarray
    tree_feat_start: np.ndarray
    tree_nfeat: np.ndarray
    tree_feats: np.ndarray
    tree_table_start: np.ndarray
    tree_leaf_start: np.ndarray
    slot_nodes: np.ndarray
    slot_expect: np.ndarray
    leaf_feat_start: np.ndarray
    leaf_nfeat: np.ndarray
    leaf_feats: np.ndarray
    leaf_table_start: np.ndarray
    phi_table: np.ndarray
    tree_value_start: np.ndarray
    """a pattern or constant tree's output for split pattern m is value_table[tree_value_start[t] + m]"""
    value_table: np.ndarray
    leaf_value: np.ndarray
    """a per-leaf tree's leaf values, in the order of its leaf tables"""
    lightgbm_runs: tuple[tuple[int, int], ...]
    """(first tree, number of trees) runs left to LightGBM's pred_contrib."""
    whole_model_by_lightgbm: bool

    @property
    def lightgbm_trees(self) -> int:
        """Trees explained by LightGBM's pred_contrib rather than by tables."""
        return self.n_trees if self.whole_model_by_lightgbm else sum(count for _, count in self.lightgbm_runs)

    @property
    def table_entries(self) -> int:
        return int(self.phi_table.size)

    @property
    def note(self) -> str:
        """One line on which engine explains which trees (for the model card)."""
        over = sum(count for _, count in self.lightgbm_runs)
        if not over:
            return f"all {self.n_trees} trees explained by thinfile's precomputed TreeSHAP tables"
        if self.whole_model_by_lightgbm:
            return (
                f"all {self.n_trees} trees explained by LightGBM's pred_contrib ({over} over the table budget, "
                f"in {len(self.lightgbm_runs)} separate runs)"
            )
        return f"{over} of {self.n_trees} trees explained by LightGBM's pred_contrib (over the table budget)"


@numba.njit(cache=True)
def _leaf_table(value: float, zero: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """phi (2^k x k) of one leaf: row m is the pattern where the row agrees with feature q iff bit q of m is set.

    phi_i = value * (o_i - z_i) * sum_s w_s * e_s, with e_s the t^s coefficient of prod_{j != i} (z_j + o_j t).
    """
    k = zero.size
    out = np.zeros((1 << k, k))
    poly = np.empty(k + 1)
    for m in range(1 << k):
        for i in range(k):
            poly[:] = 0.0
            poly[0] = 1.0
            deg = 0
            for j in range(k):
                if j == i:
                    continue
                o = 1.0 if (m >> j) & 1 else 0.0
                deg += 1
                for s in range(deg, 0, -1):
                    poly[s] = poly[s] * zero[j] + poly[s - 1] * o
                poly[0] *= zero[j]
            total = 0.0
            for s in range(k):
                total += weights[s] * poly[s]
            o_i = 1.0 if (m >> i) & 1 else 0.0
            out[m, i] = value * (o_i - zero[i]) * total
    return out


def load_numba() -> None:
    """Set numba up in this process: its typing and target contexts load on the first compiled call (0.15-0.25 s),
    so a process that forks scoring workers calls this once, and no worker pays it."""
    _leaf_table(0.0, np.zeros(1), np.ones(1))


def _weights(k: int) -> np.ndarray:
    return np.array([factorial(s) * factorial(k - s - 1) / factorial(k) for s in range(k)] if k else [0.0])


@dataclass
class _Leaf:
    value: float
    count: float
    feats: list[int]
    zero: list[float]
    nodes: list[int]
    expect: list[int]


@dataclass
class _Tree:
    """One tree of the model text: its splits (by split index) and its leaves with their paths."""

    feature: list[int]
    threshold: list[float]
    is_cat: list[bool]
    zero_left: list[bool]
    nan_left: list[bool]
    cat_words: list[list[int]]
    leaves: list[_Leaf]
    root_count: float


def _model_trees(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The model text's header and its trees as key -> value-string maps (LightGBM's exact numbers, inf kept)."""
    head, _, rest = text.partition("\nTree=")
    body = ("Tree=" + rest).split("end of trees")[0] if rest else ""
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    header["average_output"] = "1" if "average_output" in head.splitlines() else "0"
    trees = [
        dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        for block in body.split("\n\n")
        if block.strip().startswith("Tree=")
    ]
    return header, trees


def _read_tree(fields: dict[str, str]) -> _Tree:
    def values(key: str, kind: type = float) -> list[Any]:
        return [kind(v) for v in fields.get(key, "").split()]

    num_leaves = int(fields["num_leaves"])
    leaf_value, leaf_count = values("leaf_value"), values("leaf_count")
    if fields.get("is_linear", "0") != "0":
        raise UnsupportedModel("linear trees have no TreeSHAP in LightGBM or here")
    if num_leaves == 1:
        return _Tree([], [], [], [], [], [], [_Leaf(leaf_value[0], 1.0, [], [], [], [])], 1.0)
    n = num_leaves - 1
    feature, threshold = values("split_feature", int), values("threshold")
    decision, counts = values("decision_type", int), values("internal_count")
    left_child, right_child = values("left_child", int), values("right_child", int)
    bounds, words = values("cat_boundaries", int), values("cat_threshold", int)
    tree = _Tree(feature, [0.0] * n, [False] * n, [False] * n, [False] * n, [[] for _ in range(n)], [], counts[0])
    for i in range(n):
        missing, default_left = (decision[i] >> 2) & 3, bool(decision[i] & 2)
        if decision[i] & 1:
            tree.is_cat[i] = True
            c = int(threshold[i])
            tree.cat_words[i] = words[bounds[c] : bounds[c + 1]]
        else:
            tree.threshold[i] = threshold[i]
            tree.zero_left[i] = default_left if missing == 1 else threshold[i] >= 0.0
            tree.nan_left[i] = default_left if missing in (1, 2) else threshold[i] >= 0.0

    def count(node: int) -> float:
        return counts[node] if node >= 0 else leaf_count[~node]

    stack: list[tuple[int, list[tuple[int, bool, float]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if node < 0:
            tree.leaves.append(_leaf(leaf_value[~node], leaf_count[~node], path, feature))
            continue
        total = count(node)
        for child, left in ((left_child[node], True), (right_child[node], False)):
            stack.append((child, [*path, (node, left, count(child) / total if total else 0.0)]))
    return tree


def _leaf(value: float, count: float, path: list[tuple[int, bool, float]], feature: list[int]) -> _Leaf:
    leaf = _Leaf(value, count, [], [], [], [])
    for i, left, frac in path:
        feat = feature[i]
        if feat not in leaf.feats:
            leaf.feats.append(feat)
            leaf.zero.append(1.0)
            leaf.nodes.append(0)
            leaf.expect.append(0)
        q = leaf.feats.index(feat)
        leaf.zero[q] *= frac
        leaf.nodes[q] |= 1 << i
        leaf.expect[q] |= (1 << i) if left else 0
    return leaf


def _expected_value(tree: _Tree) -> float:
    """LightGBM's Tree::ExpectedValue: leaf values weighted by their share of the root's count."""
    if not tree.root_count:
        return 0.0
    return float(sum(leaf.value * leaf.count / tree.root_count for leaf in tree.leaves))


def _pattern_values(tree: _Tree) -> np.ndarray:
    """(2^N) the output of a tree with N splits, indexed by the bits of the splits that went left: the value of the
    one leaf whose path agrees with the pattern."""
    patterns = np.arange(1 << len(tree.feature), dtype=np.int64)
    values = np.zeros(patterns.size)
    for leaf in tree.leaves:
        agrees = np.ones(patterns.size, dtype=np.bool_)
        for nodes, expect in zip(leaf.nodes, leaf.expect):
            agrees &= ((patterns ^ expect) & nodes) == 0
        values[agrees] = leaf.value
    return values


def _pattern_table(tree: _Tree, feats: list[int]) -> np.ndarray:
    """(2^N x |feats|) contributions of a tree with N splits, row = bits of the splits that went left."""
    n = len(tree.feature)
    patterns = np.arange(1 << n, dtype=np.int64)
    table = np.zeros((1 << n, len(feats)))
    slot = {f: s for s, f in enumerate(feats)}
    for leaf in tree.leaves:
        phi = _leaf_table(leaf.value, np.array(leaf.zero), _weights(len(leaf.feats)))
        mask = np.zeros(1 << n, dtype=np.int64)
        for q in range(len(leaf.feats)):
            mask |= (((patterns ^ leaf.expect[q]) & leaf.nodes[q]) == 0).astype(np.int64) << q
        for q, f in enumerate(leaf.feats):
            table[:, slot[f]] += phi[mask, q]
    return table


class _Builder:
    """Accumulates the flat arrays of TreeTables tree by tree."""

    def __init__(self) -> None:
        self.a: defaultdict[str, list[Any]] = defaultdict(list)
        self.tables: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.value_entries = 0
        self.entries = 0
        self.bias = 0.0

    def add_nodes(self, tree: _Tree) -> None:
        a = self.a
        a["node_start"].append(len(a["feature"]))
        a["feature"] += tree.feature
        a["threshold"] += tree.threshold
        a["is_cat"] += tree.is_cat
        a["zero_left"] += tree.zero_left
        a["nan_left"] += tree.nan_left
        for words in tree.cat_words:
            a["cat_start"].append(len(a["cat_bits"]))
            a["cat_len"].append(len(words))
            a["cat_bits"] += words

    def add_table(self, table: np.ndarray) -> int:
        start = self.entries
        self.tables.append(table.ravel())
        self.entries += table.size
        return start

    def add_tree(self, tree: _Tree, kind: int, feats: list[int]) -> None:
        a = self.a
        a["kind"].append(kind)
        a["feat_start"].append(len(a["feats"]))
        a["nfeat"].append(len(feats) if kind == PATTERN else 0)
        if kind == PATTERN:
            a["feats"] += feats
        a["table_start"].append(self.add_table(_pattern_table(tree, feats)) if kind == PATTERN else 0)
        a["leaf_start"].append(len(a["leaf_nfeat"]))
        a["value_start"].append(self.value_entries)
        if kind in (PATTERN, CONSTANT):
            values = _pattern_values(tree)
            self.values.append(values)
            self.value_entries += values.size
        if kind == LEAVES:
            for leaf in tree.leaves:
                a["leaf_value"].append(leaf.value)
                a["leaf_feat_start"].append(len(a["leaf_feats"]))
                a["leaf_nfeat"].append(len(leaf.feats))
                a["leaf_feats"] += leaf.feats
                a["slot_nodes"] += leaf.nodes
                a["slot_expect"] += leaf.expect
                phi = _leaf_table(leaf.value, np.array(leaf.zero), _weights(len(leaf.feats)))
                a["leaf_table_start"].append(self.add_table(phi))
        if kind in (PATTERN, LEAVES):
            self.bias += _expected_value(tree)
        elif kind == CONSTANT:
            self.bias += tree.leaves[0].value


def _table_entries(tree: _Tree, config: ExplainEngineConfig) -> tuple[int, int] | None:
    """(kind, stored entries) of a tree's tables, or None when a leaf is over the per-leaf budget."""
    if len(tree.leaves) > MAX_LEAVES:
        return None
    per_leaf = [(1 << len(leaf.feats)) * len(leaf.feats) for leaf in tree.leaves]
    if max(per_leaf) > config.max_leaf_entries:
        return None
    n = len(tree.feature)
    if n <= config.max_pattern_splits:
        return PATTERN, (1 << n) * len(set(tree.feature))
    return LEAVES, sum(per_leaf)


def build_tables(booster: lgb.Booster, config: ExplainEngineConfig | None = None) -> TreeTables:
    """Read the booster's trees and tabulate the SHAP shares of every tree within the budget."""
    config = config or ExplainEngineConfig()
    header, trees = _model_trees(booster.model_to_string())
    if header.get("num_tree_per_iteration", "1") != "1":
        raise UnsupportedModel("a multiclass booster (several trees per iteration) has no per-row single score")
    if header["average_output"] == "1":
        raise UnsupportedModel("a random-forest booster averages its trees; explain it with pred_contrib")
    build = _Builder()
    lightgbm_trees: list[int] = []
    for t, fields in enumerate(trees):
        tree = _read_tree(fields)
        build.add_nodes(tree)
        if not tree.feature:
            build.add_tree(tree, CONSTANT, [])
            continue
        sized = _table_entries(tree, config)
        if sized is None or build.entries + sized[1] > config.max_total_entries:
            build.add_tree(tree, LIGHTGBM, [])
            lightgbm_trees.append(t)
            continue
        build.add_tree(tree, sized[0], sorted(set(tree.feature)))
    runs = _runs(lightgbm_trees)
    a = build.a
    a["node_start"].append(len(a["feature"]))
    a["leaf_start"].append(len(a["leaf_nfeat"]))
    i64 = lambda key: np.asarray(a[key], dtype=np.int64)  # noqa: E731
    boolean = lambda key: np.asarray(a[key], dtype=np.bool_)  # noqa: E731
    return TreeTables(
        n_features=int(header["max_feature_idx"]) + 1,
        n_trees=len(trees),
        bias=build.bias,
        tree_kind=i64("kind"),
        tree_node_start=i64("node_start"),
        node_feature=i64("feature"),
        node_threshold=np.asarray(a["threshold"], dtype=np.float64),
        node_is_cat=boolean("is_cat"),
        node_zero_left=boolean("zero_left"),
        node_nan_left=boolean("nan_left"),
        node_cat_start=i64("cat_start"),
        node_cat_len=i64("cat_len"),
        cat_bits=np.asarray(a["cat_bits"], dtype=np.uint32),
        tree_feat_start=i64("feat_start"),
        tree_nfeat=i64("nfeat"),
        tree_feats=i64("feats"),
        tree_table_start=i64("table_start"),
        tree_leaf_start=i64("leaf_start"),
        slot_nodes=i64("slot_nodes"),
        slot_expect=i64("slot_expect"),
        leaf_feat_start=i64("leaf_feat_start"),
        leaf_nfeat=i64("leaf_nfeat"),
        leaf_feats=i64("leaf_feats"),
        leaf_table_start=i64("leaf_table_start"),
        phi_table=np.concatenate(build.tables) if build.tables else np.zeros(0),
        tree_value_start=i64("value_start"),
        value_table=np.concatenate(build.values) if build.values else np.zeros(0),
        leaf_value=np.asarray(a["leaf_value"], dtype=np.float64),
        lightgbm_runs=runs,
        whole_model_by_lightgbm=len(runs) > config.max_lightgbm_runs,
    )


def _runs(trees: list[int]) -> tuple[tuple[int, int], ...]:
    runs: list[list[int]] = []
    for t in trees:
        if runs and runs[-1][0] + runs[-1][1] == t:
            runs[-1][1] += 1
        else:
            runs.append([t, 1])
    return tuple((s, c) for s, c in runs)


@numba.njit(cache=True, inline="always")
def _categorical_left(v: float, words: np.ndarray, start: int, length: int) -> bool:
    """LightGBM's CategoricalDecision: NaN, v <= -1 and v beyond int32 go right; else int(v) in the set."""
    if not (v > -1.0 and v < 2147483648.0):
        return False
    iv = int(v)
    w = iv >> 5
    if w >= length:
        return False
    return (words[start + w] >> np.uint32(iv & 31)) & np.uint32(1) != 0


@numba.njit(cache=True, inline="always")
def _decide(
    cols: np.ndarray,
    lo: int,
    hi: int,
    bits: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    is_cat: np.ndarray,
    zero_left: np.ndarray,
    nan_left: np.ndarray,
    cat_start: np.ndarray,
    cat_len: np.ndarray,
    cat_bits: np.ndarray,
) -> None:
    """bits[i] = the splits lo..hi-1 (bit nd - lo) that send row i of the block left."""
    bits[:] = 0
    for nd in range(lo, hi):
        col = cols[feature[nd]]
        bit = 1 << (nd - lo)
        if is_cat[nd]:
            for i in range(bits.size):
                if _categorical_left(col[i], cat_bits, cat_start[nd], cat_len[nd]):
                    bits[i] |= bit
        else:
            thr = threshold[nd]
            zero = zero_left[nd]
            nan = nan_left[nd]
            for i in range(bits.size):
                v = col[i]
                left = v <= thr
                if v == 0.0:
                    left = zero
                if v != v:
                    left = nan
                bits[i] |= bit if left else 0


@numba.njit(cache=True, inline="always")
def _block_columns(X: np.ndarray, r0: int, m: int) -> np.ndarray:
    """Rows r0..r0+m-1 of X feature-major (one contiguous column per feature), tiny values read as 0.0."""
    p = X.shape[1]
    cols = np.empty((p, m))
    for i in range(m):
        for j in range(p):
            v = X[r0 + i, j]
            cols[j, i] = 0.0 if abs(v) <= ZERO_THRESHOLD else v
    return cols


def _kernel_py(
    X: np.ndarray,
    out: np.ndarray,
    bias: float,
    block: int,
    tree_kind: np.ndarray,
    tree_node_start: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    is_cat: np.ndarray,
    zero_left: np.ndarray,
    nan_left: np.ndarray,
    cat_start: np.ndarray,
    cat_len: np.ndarray,
    cat_bits: np.ndarray,
    tree_feat_start: np.ndarray,
    tree_nfeat: np.ndarray,
    tree_feats: np.ndarray,
    tree_table_start: np.ndarray,
    tree_leaf_start: np.ndarray,
    slot_nodes: np.ndarray,
    slot_expect: np.ndarray,
    leaf_feat_start: np.ndarray,
    leaf_nfeat: np.ndarray,
    leaf_feats: np.ndarray,
    leaf_table_start: np.ndarray,
    phi_table: np.ndarray,
) -> None:
    """out = contributions of the table trees, a block of rows at a time, tree by tree over the block.

    The block is held feature-major (one contiguous column per feature, tiny values read as 0.0) and
    its sums feature-major too, so each split decision and each table column is a tight loop over rows.
    """
    n, p = X.shape
    n_blocks = (n + block - 1) // block
    for b in numba.prange(n_blocks):
        r0 = b * block
        m = min(n, r0 + block) - r0
        cols = _block_columns(X, r0, m)
        acc = np.zeros((p + 1, m))
        acc[p, :] = bias
        bits = np.empty(m, dtype=np.int64)
        for t in range(tree_kind.size):
            kind = tree_kind[t]
            if kind != PATTERN and kind != LEAVES:
                continue
            _decide(
                cols,
                tree_node_start[t],
                tree_node_start[t + 1],
                bits,
                feature,
                threshold,
                is_cat,
                zero_left,
                nan_left,
                cat_start,
                cat_len,
                cat_bits,
            )
            if kind == PATTERN:
                k = tree_nfeat[t]
                fs = tree_feat_start[t]
                start = tree_table_start[t]
                for i in range(m):
                    bits[i] = start + bits[i] * k
                for q in range(k):
                    a = acc[tree_feats[fs + q]]
                    for i in range(m):
                        a[i] += phi_table[bits[i] + q]
            else:
                for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
                    k = leaf_nfeat[leaf]
                    fs = leaf_feat_start[leaf]
                    start = leaf_table_start[leaf]
                    for i in range(m):
                        mask = 0
                        for q in range(k):
                            if ((bits[i] ^ slot_expect[fs + q]) & slot_nodes[fs + q]) == 0:
                                mask |= 1 << q
                        row = start + mask * k
                        for q in range(k):
                            acc[leaf_feats[fs + q], i] += phi_table[row + q]
        for i in range(m):
            for j in range(p + 1):
                out[r0 + i, j] = acc[j, i]


_parallel_kernel = numba.njit(cache=True, parallel=True)(_kernel_py)
_serial_kernel = numba.njit(cache=True)(_kernel_py)
_parallel_lock = threading.Lock()


def contributions(
    tables: TreeTables,
    X: np.ndarray,
    threads: int = 0,
    booster: lgb.Booster | None = None,
    config: ExplainEngineConfig | None = None,
) -> np.ndarray:
    """SHAP log-odds contributions (n x p+1, last column the bias), equal to LightGBM's pred_contrib.

    Trees over the table budget are explained by `booster.predict(pred_contrib=True)` over their runs
    (the booster the tables were built from is then required). Inputs under `parallel_rows` run on the
    calling thread (a serial build: no thread pool, safe from many threads at once), larger ones on
    `threads` (0 = all); parallel calls are serialised, since not every numba threading layer may be
    entered from several threads at once.
    """
    config = config or ExplainEngineConfig()
    X = _model_matrix(tables, X)
    if tables.lightgbm_runs and booster is None:
        raise ValueError(f"{tables.note}: pass the booster the tables were built from")
    kw: dict[str, Any] = {"num_threads": threads} if threads else {}
    if tables.whole_model_by_lightgbm:
        assert booster is not None
        return np.asarray(booster.predict(X, pred_contrib=True, num_iteration=tables.n_trees, **kw), dtype=np.float64)
    out = np.empty((len(X), tables.n_features + 1))
    _launch(_serial_kernel, _parallel_kernel, threads, config, X, out, *_shap_arrays(tables, config.block_rows))
    for start, count in tables.lightgbm_runs:
        assert booster is not None
        out += booster.predict(X, pred_contrib=True, start_iteration=start, num_iteration=count, **kw)
    return out


def _shap_arrays(t: TreeTables, block: int) -> tuple:
    """The explanation kernel's arguments after X and out."""
    return (
        t.bias, block, t.tree_kind, t.tree_node_start, t.node_feature, t.node_threshold, t.node_is_cat,
        t.node_zero_left, t.node_nan_left, t.node_cat_start, t.node_cat_len, t.cat_bits, t.tree_feat_start,
        t.tree_nfeat, t.tree_feats, t.tree_table_start, t.tree_leaf_start, t.slot_nodes, t.slot_expect,
        t.leaf_feat_start, t.leaf_nfeat, t.leaf_feats, t.leaf_table_start, t.phi_table,
    )  # fmt: skip


def _model_matrix(tables: TreeTables, X: np.ndarray) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != tables.n_features:
        raise ValueError(f"expected a matrix with {tables.n_features} feature columns, got shape {X.shape}")
    return X


def _launch(serial: Any, parallel: Any, threads: int, config: ExplainEngineConfig, X: np.ndarray, *args: Any) -> None:
    """Run a kernel over X: on the calling thread under `parallel_rows` rows, else on `threads` (0 = all),
    parallel calls serialised."""
    most = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    use = 1 if len(X) < config.parallel_rows else min(threads or most, most)
    if use == 1:
        serial(X, *args)
    else:
        with _parallel_lock:
            numba.set_num_threads(use)
            parallel(X, *args)


def _margin_kernel_py(
    X: np.ndarray,
    out: np.ndarray,
    block: int,
    tree_kind: np.ndarray,
    tree_node_start: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    is_cat: np.ndarray,
    zero_left: np.ndarray,
    nan_left: np.ndarray,
    cat_start: np.ndarray,
    cat_len: np.ndarray,
    cat_bits: np.ndarray,
    tree_value_start: np.ndarray,
    value_table: np.ndarray,
    tree_leaf_start: np.ndarray,
    slot_nodes: np.ndarray,
    slot_expect: np.ndarray,
    leaf_feat_start: np.ndarray,
    leaf_nfeat: np.ndarray,
    leaf_value: np.ndarray,
) -> None:
    """out = the raw score of every row: the trees' outputs added from 0.0 in model order, as LightGBM adds them.

    The split decisions are the explanation kernel's; a pattern or constant tree then reads its output from its
    value table, a per-leaf tree from the one leaf whose path agrees with every decision.
    """
    n, p = X.shape
    n_blocks = (n + block - 1) // block
    for b in numba.prange(n_blocks):
        r0 = b * block
        m = min(n, r0 + block) - r0
        cols = _block_columns(X, r0, m)
        acc = np.zeros(m)
        bits = np.empty(m, dtype=np.int64)
        for t in range(tree_kind.size):
            _decide(
                cols,
                tree_node_start[t],
                tree_node_start[t + 1],
                bits,
                feature,
                threshold,
                is_cat,
                zero_left,
                nan_left,
                cat_start,
                cat_len,
                cat_bits,
            )
            if tree_kind[t] == LEAVES:
                for i in range(m):
                    for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
                        fs = leaf_feat_start[leaf]
                        agrees = True
                        for q in range(leaf_nfeat[leaf]):
                            if ((bits[i] ^ slot_expect[fs + q]) & slot_nodes[fs + q]) != 0:
                                agrees = False
                                break
                        if agrees:
                            acc[i] += leaf_value[leaf]
                            break
            else:
                start = tree_value_start[t]
                for i in range(m):
                    acc[i] += value_table[start + bits[i]]
        for i in range(m):
            out[r0 + i] = acc[i]


_parallel_margin_kernel = numba.njit(cache=True, parallel=True)(_margin_kernel_py)
_serial_margin_kernel = numba.njit(cache=True)(_margin_kernel_py)


def margins(
    tables: TreeTables, X: np.ndarray, threads: int = 0, config: ExplainEngineConfig | None = None
) -> np.ndarray:
    """Raw scores (log-odds), equal to `Booster.predict(X, raw_score=True)` to the last bit: the same split
    decisions as `contributions`, and the trees' outputs added in the same order. Every tree must be in the
    tables (`tables.lightgbm_trees == 0`); threads as for `contributions`."""
    config = config or ExplainEngineConfig()
    if tables.lightgbm_runs or tables.whole_model_by_lightgbm:
        raise ValueError(f"{tables.note}: predict with the booster")
    X = _model_matrix(tables, X)
    out = np.empty(len(X))
    t = tables
    arrays = (
        t.tree_kind, t.tree_node_start, t.node_feature, t.node_threshold, t.node_is_cat, t.node_zero_left,
        t.node_nan_left, t.node_cat_start, t.node_cat_len, t.cat_bits, t.tree_value_start, t.value_table,
        t.tree_leaf_start, t.slot_nodes, t.slot_expect, t.leaf_feat_start, t.leaf_nfeat, t.leaf_value,
    )  # fmt: skip
    _launch(_serial_margin_kernel, _parallel_margin_kernel, threads, config, X, out, config.block_rows, *arrays)
    return out


def split_values(tables: TreeTables) -> dict[int, np.ndarray]:
    """Sorted unique thresholds of the numerical splits on each feature."""
    numeric = ~tables.node_is_cat
    out = {}
    for j in np.unique(tables.node_feature[numeric]):
        out[int(j)] = np.unique(tables.node_threshold[numeric & (tables.node_feature == j)])
    return out


@numba.njit(cache=True)
def _trees_by_feature(p: int, tree_kind: np.ndarray, tree_node_start: np.ndarray, feature: np.ndarray) -> tuple:
    """(start, trees): the table trees that split on feature f are trees[start[f]:start[f + 1]], in order."""
    count = np.zeros(p + 1, dtype=np.int64)
    seen = np.full(p, -1, dtype=np.int64)
    for t in range(tree_kind.size):
        if tree_kind[t] == PATTERN or tree_kind[t] == LEAVES:
            for nd in range(tree_node_start[t], tree_node_start[t + 1]):
                f = feature[nd]
                if seen[f] != t:
                    seen[f] = t
                    count[f + 1] += 1
    start = np.cumsum(count)
    fill = start[:-1].copy()
    trees = np.empty(start[-1], dtype=np.int64)
    seen[:] = -1
    for t in range(tree_kind.size):
        if tree_kind[t] == PATTERN or tree_kind[t] == LEAVES:
            for nd in range(tree_node_start[t], tree_node_start[t + 1]):
                f = feature[nd]
                if seen[f] != t:
                    seen[f] = t
                    trees[fill[f]] = t
                    fill[f] += 1
    return start, trees


_SEARCH_INTS = (
    "tree_kind", "tree_node_start", "node_feature", "node_cat_start", "node_cat_len", "tree_feat_start", "tree_nfeat",
    "tree_feats", "tree_table_start", "tree_leaf_start", "slot_nodes", "slot_expect", "leaf_feat_start", "leaf_nfeat",
    "leaf_feats", "leaf_table_start",
)  # fmt: skip
"""the tables' integer arrays the search reads, in the order `_search_kernel` unpacks them"""


@dataclass(frozen=True)
class SearchGrid:
    """The values `contribution_search` tries for each feature, which table trees split on each feature, and the
    tables' arrays the search reads, packed: a one-row search is mostly the kernel's call, whose cost grows with
    its count of array arguments."""

    values: np.ndarray
    """every feature's candidate values, sorted, one after another"""
    ints: np.ndarray
    """int64: a header of offsets, then per feature the start of its values (feature j's are values[start[j]:
    start[j + 1]]) and its direction (+1 try values above the row's, -1 below it, 0 none), the table trees
    splitting on each feature (trees[tree_start[j]:tree_start[j + 1]], in model order), then `_SEARCH_INTS`"""
    flags: np.ndarray
    """per node (columns): is categorical, zero goes left, missing goes left"""
    threshold: np.ndarray
    cat_bits: np.ndarray
    phi_table: np.ndarray


def search_grid(tables: TreeTables, values: dict[int, np.ndarray], direction: dict[int, int]) -> SearchGrid:
    """The SearchGrid of `tables` for the given sorted candidate values and direction of each feature."""
    p = tables.n_features
    used = [direction.get(j) and j in values for j in range(p)]
    per = [np.asarray(values[j], dtype=np.float64) if used[j] else np.zeros(0) for j in range(p)]
    start = np.zeros(p + 1, dtype=np.int64)
    np.cumsum([len(v) for v in per], out=start[1:])
    tree_start, trees = _trees_by_feature(p, tables.tree_kind, tables.tree_node_start, tables.node_feature)
    signs = np.array([int(np.sign(direction.get(j, 0))) for j in range(p)], dtype=np.int64)
    parts = [start, signs, tree_start, trees, *(getattr(tables, name) for name in _SEARCH_INTS)]
    header = len(parts) + 1
    offsets = header + np.concatenate([[0], np.cumsum([len(a) for a in parts])])
    return SearchGrid(
        values=np.concatenate(per),
        ints=np.concatenate([offsets, *parts]).astype(np.int64),
        flags=np.stack([tables.node_is_cat, tables.node_zero_left, tables.node_nan_left]).astype(np.bool_),
        threshold=tables.node_threshold,
        cat_bits=tables.cat_bits,
        phi_table=tables.phi_table,
    )


@numba.njit(cache=True, inline="always")
def _part(ints: np.ndarray, i: int) -> np.ndarray:
    return ints[ints[i] : ints[i + 1]]


@numba.njit(cache=True)
def _search_kernel(
    X: np.ndarray,
    features: np.ndarray,
    grid: np.ndarray,
    ints: np.ndarray,
    flags: np.ndarray,
    threshold: np.ndarray,
    cat_bits: np.ndarray,
    phi_table: np.ndarray,
    outer: float,
    inner: float,
    floor: float,
    found: np.ndarray,
    reached: np.ndarray,
) -> None:
    """See `contribution_search`. Per question, the row's decisions at every split not on feature j are made
    once; each value tried then decides only j's splits and adds, tree by tree and leaf by leaf in the
    contributions kernel's order, the same table entries that kernel would add to j's column."""
    grid_start, direction, tree_start, trees_of = _part(ints, 0), _part(ints, 1), _part(ints, 2), _part(ints, 3)
    tree_kind, tree_node_start, feature = _part(ints, 4), _part(ints, 5), _part(ints, 6)
    cat_start, cat_len, tree_feat_start, tree_nfeat = _part(ints, 7), _part(ints, 8), _part(ints, 9), _part(ints, 10)
    tree_feats, tree_table_start, tree_leaf_start = _part(ints, 11), _part(ints, 12), _part(ints, 13)
    slot_nodes, slot_expect, leaf_feat_start = _part(ints, 14), _part(ints, 15), _part(ints, 16)
    leaf_nfeat, leaf_feats, leaf_table_start = _part(ints, 17), _part(ints, 18), _part(ints, 19)
    is_cat, zero_left, nan_left = flags[0], flags[1], flags[2]
    last, value = found[0], found[1]
    n, p = X.shape
    x = np.empty(p)
    jnodes = np.empty(feature.size, dtype=np.int64)
    per_tree = np.empty((4, tree_kind.size + 1), dtype=np.int64)  # rows of one allocation: fewer, faster calls
    tree_jn, tree_lo, tree_pattern, tree_terms = per_tree[0], per_tree[1], per_tree[2], per_tree[3]
    per_term = np.empty((4, leaf_nfeat.size + tree_kind.size), dtype=np.int64)
    term_base, term_step, term_nodes, term_expect = per_term[0], per_term[1], per_term[2], per_term[3]
    for r in range(n):
        for c in range(p):
            v = X[r, c]
            x[c] = 0.0 if abs(v) <= ZERO_THRESHOLD else v
        for k in range(features.shape[1]):
            j = features[r, k]
            last[r, k] = np.nan
            value[r, k] = np.nan
            reached[r, k] = False
            if j < 0 or direction[j] == 0 or X[r, j] != X[r, j]:
                continue
            g0, g1 = grid_start[j], grid_start[j + 1]
            if direction[j] > 0:  # candidate i (nearest first) is grid[lo + i * step], i = 0 .. m - 1
                lo = g0 + np.searchsorted(grid[g0:g1], X[r, j], side="right")
                step = 1
                m = g1 - lo
            else:
                lo = g0 + np.searchsorted(grid[g0:g1], X[r, j], side="left") - 1
                step = -1
                m = lo - g0 + 1
            if m <= 0:
                continue
            # the fixed part of every tree splitting on j: decisions off j, table entry bases
            n_t = 0
            n_jn = 0
            n_terms = 0
            tree_jn[0] = 0
            tree_terms[0] = 0
            for u in range(tree_start[j], tree_start[j + 1]):
                t = trees_of[u]
                node_lo = tree_node_start[t]
                fixed = 0
                for nd in range(node_lo, tree_node_start[t + 1]):
                    if feature[nd] == j:
                        jnodes[n_jn] = nd
                        n_jn += 1
                    else:  # the decision `_decide` makes (written out: a helper call here costs 3x)
                        xv = x[feature[nd]]
                        if is_cat[nd]:
                            left = _categorical_left(xv, cat_bits, cat_start[nd], cat_len[nd])
                        else:
                            left = xv <= threshold[nd]
                            if xv == 0.0:
                                left = zero_left[nd]
                            if xv != xv:
                                left = nan_left[nd]
                        if left:
                            fixed |= 1 << (nd - node_lo)
                tree_lo[n_t] = node_lo
                if tree_kind[t] == PATTERN:
                    tree_pattern[n_t] = 1
                    kf = tree_nfeat[t]
                    fs = tree_feat_start[t]
                    for q in range(kf):
                        if tree_feats[fs + q] == j:
                            term_base[n_terms] = tree_table_start[t] + fixed * kf + q
                            term_step[n_terms] = kf
                            n_terms += 1
                else:
                    tree_pattern[n_t] = 0
                    for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
                        kf = leaf_nfeat[leaf]
                        fs = leaf_feat_start[leaf]
                        slot = -1
                        mask = 0
                        for q in range(kf):
                            if leaf_feats[fs + q] == j:
                                slot = q
                            elif ((fixed ^ slot_expect[fs + q]) & slot_nodes[fs + q]) == 0:
                                mask |= 1 << q
                        if slot >= 0:
                            term_base[n_terms] = leaf_table_start[leaf] + mask * kf + slot
                            term_step[n_terms] = (1 << slot) * kf
                            term_nodes[n_terms] = slot_nodes[fs + slot]
                            term_expect[n_terms] = slot_expect[fs + slot]
                            n_terms += 1
                n_t += 1
                tree_jn[n_t] = n_jn
                tree_terms[n_t] = n_terms
            # bisection over candidates 0 .. m - 1, the farthest first (as `Explanation.hint` does)
            a, b = 0, m - 1
            probe = m - 1
            first = True
            while True:
                v = grid[lo + probe * step]
                v = 0.0 if abs(v) <= ZERO_THRESHOLD else v
                phi = 0.0
                for u in range(n_t):
                    bits = 0
                    for s in range(tree_jn[u], tree_jn[u + 1]):
                        nd = jnodes[s]
                        if is_cat[nd]:
                            left = _categorical_left(v, cat_bits, cat_start[nd], cat_len[nd])
                        else:
                            left = v <= threshold[nd]
                            if v == 0.0:
                                left = zero_left[nd]
                            if v != v:
                                left = nan_left[nd]
                        if left:
                            bits |= 1 << (nd - tree_lo[u])
                    for e in range(tree_terms[u], tree_terms[u + 1]):
                        if tree_pattern[u] != 0:
                            phi += phi_table[term_base[e] + bits * term_step[e]]
                        elif ((bits ^ term_expect[e]) & term_nodes[e]) == 0:
                            phi += phi_table[term_base[e] + term_step[e]]
                        else:
                            phi += phi_table[term_base[e]]
                ok = outer * (inner * phi) >= floor
                if first:
                    first = False
                    last[r, k] = phi
                    if not ok:
                        value[r, k] = grid[lo + (m - 1) * step]
                        break
                elif ok:
                    b = probe
                else:
                    a = probe + 1
                if a >= b:
                    value[r, k] = grid[lo + a * step]
                    reached[r, k] = True
                    break
                probe = (a + b) // 2


def contribution_search(
    tables: TreeTables,
    grid: SearchGrid,
    X: np.ndarray,
    features: np.ndarray,
    outer: float = 1.0,
    inner: float = 1.0,
    floor: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a feature's contribution to a row reaches a level as its value moves: many questions, one kernel call.

    Question (r, k) is about feature j = features[r, k] (-1: none) of row r of X: its candidate values are j's
    grid values beyond X[r, j] in j's grid direction, nearest first, along which v(c) = outer * (inner * phi(c))
    is taken not to decrease, phi(c) being j's contribution (exactly as `contributions` gives it) with X[r, j]
    set to c. Returns per question: phi at the farthest candidate (NaN: no candidate or X[r, j] missing); the
    first candidate with v >= floor found by bisection (the farthest when there is none; NaN: no candidate); and
    whether v >= floor was reached. Every tree must be in the tables.
    """
    if tables.lightgbm_runs or tables.whole_model_by_lightgbm:
        raise ValueError(f"{tables.note}: the search needs every tree in the tables")
    if X.ndim != 2 or X.shape[1] != tables.n_features or features.ndim != 2 or len(features) != len(X):
        raise ValueError(f"expected rows of {tables.n_features} features and a question matrix per row")
    found = np.empty((2, *features.shape))
    reached = np.empty(features.shape, dtype=np.bool_)
    _search_kernel(
        np.ascontiguousarray(X, dtype=np.float64), np.ascontiguousarray(features, dtype=np.int64), grid.values,
        grid.ints, grid.flags, grid.threshold, grid.cat_bits, grid.phi_table, float(outer), float(inner), float(floor),
        found, reached,
    )  # fmt: skip
    return found[0], found[1], reached
