"""What every bench shares: the median of repeated timings (interleaved where figures are compared), the load
average to print before and after, a free loopback port, and the THINFILE_HOME a bench works in."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import sys
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


def interleaved_medians(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median wall time of each of `fns`, run in rounds (each once per round, in order) so that a machine's drift
    over the minutes of a bench falls on every figure alike rather than on whichever ran last."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def load() -> str:
    """The 1, 5 and 15-minute load averages: figures from a busy machine do not compare."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_MADE: list[Path] = []  # temporary folders this bench made, for `run` to remove


def use_home(given: Path | None, prefix: str) -> Path:
    """THINFILE_HOME for this bench (`given`, or a new temporary folder that `run` removes), with the default
    local store."""
    home = given or scratch(prefix)
    os.environ["THINFILE_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return home


def scratch(prefix: str, where: str | None = None) -> Path:
    """A new temporary folder (in `where`, else the system's) that `run` removes when the bench ends well."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    _MADE.append(folder)
    return folder


def run(main: Callable[[], None]) -> None:
    """Run a bench's main: the temporary homes it made are removed when it ends well, and kept when it fails
    (its error names the server logs in them)."""
    try:
        main()
    except SystemExit as done:
        if done.code not in (None, 0):
            _keep()
            raise
    except BaseException:
        _keep()
        raise
    for home in _MADE:
        shutil.rmtree(home, ignore_errors=True)


def _keep() -> None:
    for home in _MADE:
        print(f"kept {home} for its logs", file=sys.stderr)
