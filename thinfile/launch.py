"""The `thinfile` console entry point: Ctrl-C while the command's libraries load (a few seconds) ends the
command with one line and exit code 130, as it does once the command runs, instead of an import traceback. When the
command is done, what it made is frozen out of the garbage collector (`gc.freeze`): the interpreter's last collection
at exit would otherwise walk every object the command's libraries made, for a second or more."""

from __future__ import annotations

import gc
import os
import signal
import sys
from types import FrameType

INTERRUPTED_STARTING = "error: interrupted while starting; nothing was done"


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write(INTERRUPTED_STARTING + "\n")
    sys.stderr.flush()
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_loading)
from thinfile.cli import app  # noqa: E402  (loaded under the quiet handler above)

signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    try:
        app()
    finally:
        gc.freeze()
