"""What every bench shares: the median of repeated timings, and the load average to print before and after."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of `repeat` calls of `fn`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load() -> str:
    """The 1, 5 and 15-minute load averages: figures from a busy machine do not compare."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())
