"""How processes end: with their parent (the kernel's parent-death signal, Linux), shared by the servers, the batch
workers and the plot-drawing processes; and not in the middle of starting another (signals held back)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

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


@contextlib.contextmanager
def signals_held(*signals: int) -> Iterator[None]:
    """Hold `signals` back until the block ends, then deliver them to the handlers in place before: for work that
    must not be cut half-way, such as starting a JVM that would outlive an interrupted parent. A second signal of
    a kind already held is not held: the person pressing Ctrl-C again, or a supervisor's second SIGTERM, wins. Only
    the main thread can set handlers; elsewhere signals are not held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def note(sig: int, frame: FrameType | None) -> None:
        if sig in arrived:
            arrived.clear()
            restore()
            signal.raise_signal(sig)
            return
        arrived.append(sig)

    previous = {sig: signal.signal(sig, note) for sig in signals}
    try:
        yield
    finally:
        restore()
        for sig in dict.fromkeys(arrived):
            signal.raise_signal(sig)
