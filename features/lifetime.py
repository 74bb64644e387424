"""A process that ends with its parent: the kernel's parent-death signal (Linux), shared by the servers, the batch
workers and the plot-drawing processes."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> bool:
    """Linux: have the kernel send `sig` to this process when its parent exits (prctl PR_SET_PDEATHSIG), and send
    it now if the parent is already gone (not `parent`, when given: the process that started this one).
    Elsewhere nothing (False)."""
    if not sys.platform.startswith("linux"):
        return False
    expected = os.getppid() if parent is None else parent
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != expected:
        os.kill(os.getpid(), sig)
    return True
