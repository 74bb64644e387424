"""Scoring workers start ready: what every worker would load on its own is loaded once, by their fork server."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from thinfile.serving.batch.embedded import worker_context

_COMPILED_IN_THIS_PROCESS = (
    "len(__import__('thinfile.training.scorer.treeshap', fromlist=['_']).__dict__['_leaf_table'].overloads)"
)


def test_a_worker_starts_with_numba_set_up_by_its_fork_server() -> None:
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        assert pool.submit(eval, _COMPILED_IN_THIS_PROCESS).result() > 0
