"""What every bench shares: the median of repeated timings, the load average to print before and after, a free
loopback port, and the THINFILE_HOME a bench works in."""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def use_home(given: Path | None, prefix: str) -> Path:
    """THINFILE_HOME for this bench (`given`, or a new temporary folder), with the default local store."""
    home = given or Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["THINFILE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return home
