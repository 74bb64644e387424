"""What a process that forks scoring workers loads first: the embedded engine's fork server and Spark's Python daemon.

The scoring side's modules, and numba set up (its compiler contexts load on a process's first compiled call, 0.15-
0.25 s): a worker forked from such a process starts with both, where each used to load numba on its first chunk.
"""

from __future__ import annotations

from thinfile.serving.batch import worker  # noqa: F401 (the workers' task module and everything it scores with)
from thinfile.training.scorer.treeshap import load_numba

load_numba()
