"""The `thinfile` console entry point: Ctrl-C while the command's libraries load (a few seconds) ends the
command with one line and exit code 130, as it does once the command runs, instead of an import traceback. When the
command is done, what it made is frozen out of the garbage collector (`gc.freeze`): the interpreter's last collection
at exit would otherwise walk every object the command's libraries made, for a second or more.

A command stopped by Ctrl-C or SIGTERM (exit 130 or 143: `guarded` has said so in one line, and the `with` blocks
have ended its MLflow runs and removed its scratch folders) leaves without waiting for the threads libraries left
behind: a thread pool whose worker Ctrl-C caught while it started never tells that worker to stop, and the
interpreter's exit would wait for it for ever. Ctrl-C after the command is done ends the exit at once, with the
command's own code (not a death by SIGINT that a shell reports as a silent 130). A finished command's process ends
once its threads are joined and its exit handlers have run, without the interpreter's teardown of every module:
that teardown restores the signals' default actions first, so a Ctrl-C in its last moments killed the process and a
finished batch job's shell saw 130.

A command whose output is closed before it is done (`thinfile ... | head`) ends without a word and with exit code
141, a death by SIGPIPE's, as `yes | head` does: not click's exit 1, which a script reads as a failed check (the
audit log's FAIL), nor `error: Broken pipe` and 2, nor a traceback or "Exception ignored" as the interpreter exits
(what is still buffered for the closed pipe goes to /dev/null)."""

from __future__ import annotations

import atexit
import gc
import os
import signal
import sys
import threading
from types import FrameType

INTERRUPTED_STARTING = "error: interrupted while starting; nothing was done"
STOPPED = (128 + signal.SIGINT, 128 + signal.SIGTERM)
"""the exit codes of a command stopped by Ctrl-C or SIGTERM"""
UNWRITTEN = 120
"""the interpreter's exit code when what a command printed could not be written (a full disk, an I/O error)"""
CLEAN_UP_S = 5.0
"""how long the exit handlers (logging's, MLflow's, ...) of a stopped command may take"""


def _flush() -> OSError | None:
    """Write what is buffered for standard output and error; the error of a stream that could not take it (a closed
    pipe: nothing more can be said), if any."""
    failed = None
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except OSError as err:
            failed = failed or err
        except ValueError:  # closed by the command
            pass
    return failed


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    sys.stderr.write(INTERRUPTED_STARTING + "\n")
    sys.stderr.flush()
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_loading)
from thinfile.cli import app  # noqa: E402  (loaded under the quiet handler above)
from thinfile.commands.common import (  # noqa: E402
    EXIT_CLOSED,
    EXIT_FAULT,
    closed_outputs,
    expected_fault,
    output_closed,
)

signal.signal(signal.SIGINT, signal.default_int_handler)


def _exit_code(code: object) -> int:
    """The process's exit code for `SystemExit(code)`: None is 0; a message (printed by the interpreter) is 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _exiting_with(code: int) -> None:
    """From now on Ctrl-C and SIGTERM end the process at once with `code`: the command is over."""

    def leave(signum: int, frame: FrameType | None) -> None:
        _flush()
        os._exit(code)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, leave)


def _leave(code: int) -> None:
    """End a finished command's process with `code` as the interpreter's exit would (its threads joined, the exit
    handlers run, the standard streams flushed; output that could not be written, but to a reader that has gone, is
    the interpreter's exit code 120), then at once: Ctrl-C meanwhile ends it with `code`."""
    _exiting_with(code)
    threading._shutdown()  # type: ignore[attr-defined]  # the interpreter's own first step of exiting
    atexit._run_exitfuncs()
    failed = _flush()
    if output_closed(failed):
        os._exit(_closed())
    os._exit(UNWRITTEN if failed is not None else code)


def _leave_stopped(code: int) -> None:
    """End a stopped command's process: the exit handlers run (for at most CLEAN_UP_S), not the wait for threads."""
    _exiting_with(code)
    _flush()
    handlers = threading.Thread(target=atexit._run_exitfuncs, name="thinfile-exit", daemon=True)
    handlers.start()
    handlers.join(CLEAN_UP_S)
    _flush()
    os._exit(code)


def _closed() -> int:
    """EXIT_CLOSED, with the closed standard streams sent to /dev/null (the interpreter's last flush of what is
    still buffered for them would fail, printed as "Exception ignored", and make the exit code 120)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in closed_outputs():
        os.dup2(devnull, fd)
    os.close(devnull)
    return EXIT_CLOSED


def _flushed(code: int) -> int:
    """`code`, once what is buffered for standard output and error is written; EXIT_CLOSED if their reader has gone."""
    return _closed() if output_closed(_flush()) else code


def main() -> None:
    code = 1
    try:
        app()
        code = 0
    except KeyboardInterrupt:  # between loading and the command (typer building it): no `guarded` to say it
        sys.stderr.write(INTERRUPTED_STARTING + "\n")
        code = STOPPED[0]
    except SystemExit as done:
        code = _exit_code(done.code)
        # `guarded` said 141 of a command's output; click's exit 1 comes of a broken pipe outside commands (--help)
        if code == EXIT_CLOSED or output_closed(done.__context__):
            code = _closed()
        elif not isinstance(done.code, int | None) and code not in STOPPED:  # a message: the interpreter prints it
            _exiting_with(code)
            raise
    except OSError as err:  # what click wrote outside a command (--help) could not be written
        if output_closed(err):
            code = _closed()
        else:  # a full disk, say: said in a command's words, and what could not be written is let go
            sys.stderr.write(f"error: {expected_fault(err) or err}\n")
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            code = EXIT_FAULT
    finally:
        gc.freeze()
    if code in STOPPED:
        _leave_stopped(code)
    _leave(_flushed(code))
