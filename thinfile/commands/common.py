"""Helpers shared by the CLI commands: console, errors that say what to do, progress bars."""

from __future__ import annotations

import errno
import functools
import os
import select
import signal
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table
from typer._click.globals import get_current_context  # typer>=0.26 runs commands on its own copy of click

from thinfile.config import Settings
from thinfile.features.progress import rows_bar
from thinfile.features.schema import Schema, load_schema
from thinfile.features.settings import PARTS_DIR, GeneratorParams, default_data_dir
from thinfile.features.yamlio import YamlFileError, read_yaml
from thinfile.training.scorer.policy import CutoffRule, LendingPolicy
from thinfile.training.settings import model_name_for

LOG_WIDTH = 160
"""Columns of output into a file or pipe (rich's default there is 80): a log's lines may be long, but a note
must not be broken mid-sentence nor a table's figures cut short."""


class _Console(Console):
    """rich's console, whose closed output raises the BrokenPipeError (`guarded` and `thinfile.launch` end the
    command with EXIT_CLOSED) instead of rich's SystemExit(1), which reads as a failed check, after pointing
    standard output at /dev/null, which hides that it was closed."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def _console(stderr: bool) -> Console:
    """On a terminal, rich's console; into a log, one that neither wraps text nor pads lines (tables are laid out
    LOG_WIDTH wide)."""
    if Console(stderr=stderr).is_terminal:
        return _Console(stderr=stderr, log_path=False)
    return _Console(stderr=stderr, log_path=False, width=LOG_WIDTH, soft_wrap=True)


console = _console(stderr=True)
"""Progress, notes on what a command is doing (as `say` gives them), warnings about its setting (a schema file,
fonts), and errors: standard error."""
results = _console(stderr=False)
"""What a command found or made (verdicts, findings with their warnings about the data, tables, summaries): standard
output, which a script captures (`thinfile audit verify > verify.txt`)."""


def show(table: Table) -> None:
    """Print a table of results: as wide as the terminal, or LOG_WIDTH wide into a log."""
    results.print(table)


@functools.cache
def built_in_settings() -> Settings:
    """The settings' built-in values, made once (flag help quotes a score of them as the CLI starts)."""
    return Settings.model_construct()


def from_settings(key: str) -> str:
    """A flag's default in its help: the setting that gives it and that setting's built-in value (a settings file
    or variable may change it; `thinfile settings` shows the value in force)."""
    value: Any = built_in_settings()
    for part in key.split("."):
        value = getattr(value, part)
    return f"default: the settings' {key}, built in {shown_default(value)}"


def shown_default(value: object) -> str:
    """A default as help text writes it: yes/no, 200,000, 0.35, a list comma-separated."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ",".join(shown_default(v) for v in value)
    return str(value)


EXIT_FAULT = 2
"""an expected fault or a usage error: one line says which and what to do"""
EXIT_INCOMPLETE = 4
"""a report's verdict when some check could not run (a group too small, no audit key): not a pass, not a fail"""
EXIT_NOTHING_MOVED = 1
"""`promote --auto`: the gate found no candidate that qualifies, and moved nothing"""


def fail(message: str, code: int = EXIT_FAULT) -> typer.Exit:
    """Print an error in plain words and return the Exit to raise."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


@contextmanager
def row_progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar counting rows, with rows/s; yields advance(n)."""
    with rows_bar(console) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


POPULATION_ROWS = 200_000
"""Rows of the synthetic population a command generates when it is given no table."""


def population_rows_option(help: str, minimum: int = 1) -> Any:
    """--rows / -n: the size of the synthetic population, POPULATION_ROWS unless given."""
    return typer.Option(POPULATION_ROWS, "--rows", "-n", min=minimum, help=help)


def generated_rows_option() -> Any:
    """--rows / -n of a command that trains or audits a table, or generates one when it is given none: unset unless
    given, so that `table_rows` can refuse it beside --data."""
    return typer.Option(
        None,
        "--rows",
        "-n",
        min=1,
        show_default=False,
        help=f"Rows to generate when there is no table (default {POPULATION_ROWS:,}); not with --data, whose "
        "rows are all read (to use fewer, give a smaller table).",
    )


def table_rows(rows: int | None, data: Path | None) -> int:
    """The population's rows when no table is given; --rows beside --data is an error, not silently ignored."""
    if rows is not None and data is not None:
        raise fail(
            "--rows is the size of a generated population; with --data every row of the table is read (to use "
            "fewer, give a smaller table)"
        )
    return POPULATION_ROWS if rows is None else rows


def default_population(rows: int, seed: int, generator: GeneratorParams) -> Path:
    """data/synthetic/population under THINFILE_HOME, generated first (with a progress bar) when absent."""
    from thinfile.features.population import generate_population  # loads scikit-learn: only when needed

    out = default_data_dir()
    parts = out / PARTS_DIR
    if not any(parts.glob("*.parquet")):
        console.print(
            f"no table given and no population in {parts}: generating {rows:,} synthetic people (seed {seed})"
        )
        with row_progress("generating population", rows) as advance:
            generate_population(load_schema(), out, rows, seed, generator, on_chunk=advance)
    return parts


@contextmanager
def one_font_warning() -> Iterator[None]:
    """Every MissingGlyphWarning raised inside (one per set of plots) becomes one `warning:` line at the end,
    naming each missing character once."""
    from thinfile.training.reporting.figures import MissingGlyphWarning  # matplotlib: not for every command's start

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingGlyphWarning)
        try:
            yield
        finally:
            missing = ""
            for w in caught:
                if isinstance(w.message, MissingGlyphWarning):
                    missing += w.message.characters
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
            if missing:
                merged = "".join(dict.fromkeys(missing))
                console.print(f"[yellow]warning:[/] {escape(str(MissingGlyphWarning(merged)))}")


def warn_of_schema(schema: Schema) -> None:
    """Print what the schema still leaves undecided (reason texts saying TODO, inputs named like a protected
    attribute): a lender's applicants would read those reasons."""
    from thinfile.features.infer import schema_warnings

    for line in schema_warnings(schema):
        console.print(f"[yellow]warning:[/] {escape(line)}")


def model_name(name: str | None, schema: Schema) -> str:
    """--name if given, else the project's registered model name (from its schema's name)."""
    return name or model_name_for(schema)


def say(status: Status) -> Callable[[str], None]:
    """A progress callback: the message replaces the spinner's text and is logged with its time."""

    def progress(message: str) -> None:
        status.update(message)
        if console.is_terminal:
            console.log(message)
        else:  # rich's log pads every line to the console's width
            console.print(f"[{time.strftime('%H:%M:%S')}] {escape(message)}", highlight=False)

    return progress


POLICY_HELP = {
    "cutoff": "Approve at or above this score; refer scores up to the settings' policy.refer_gap below it (built in "
    f"{shown_default(built_in_settings().policy.refer_gap)} points).",
    "approval_rate": "Approve this share of applicants (e.g. 0.35): the cut-off is set on the validation rows.",
    "bad_rate": "Approve as many as keep the bad rate among approved at or below this (e.g. 0.05).",
    "policy": "A lending policy file (YAML: approve/refer rules by score, approval_rate or bad_rate; refer_gap).",
}


class _ShareMisread(typer.BadParameter):
    """A share option's value out of 0..1, said as the whole error (not after "Invalid value for '--flag':")."""

    def format_message(self) -> str:
        return self.message


def _share(param: typer.CallbackParam, value: float | None) -> float | None:
    """A share is 0 to 1; a value above 1 and at most 100 is a percentage, so the error gives the share it means."""
    if value is None or 0 <= value <= 1:
        return value
    flag = param.opts[0]
    if 1 < value <= 100:
        raise _ShareMisread(f"{flag} takes a share between 0 and 1: for {value:g}% give {value / 100:g}")
    raise _ShareMisread(f"{flag} takes a share between 0 and 1, not {value:g}")


def share_option(flag: str, help: str) -> Any:
    """An option taking a share (0 to 1), unset by default. The range is checked here, not by typer's min/max,
    which would refuse 50 (meant as 50%) with its generic range error before this could say what to give."""
    return typer.Option(None, flag, callback=_share, metavar="<share 0..1>", help=help)


PATH = "<path>"
"""the metavar of an option naming a file or folder: what typer shows for a `Path` option, given to those kept a str"""


def schema_option(help: str) -> Any:
    """--schema: a schema file, or `synthetic` for the built-in one, shown as a path like every file option. Kept a
    str: as a Path, `./synthetic` (a file of that name) would read as `synthetic`, the built-in schema."""
    return typer.Option(None, "--schema", metavar=PATH, help=help)


def lending_policy(
    cutoff: float | None,
    approval_rate: float | None,
    bad_rate: float | None,
    policy_file: Path | None,
    base: LendingPolicy,
) -> LendingPolicy:
    """The policy the options state (at most one of them) over `base`, the settings' policy: a cut-off, rate or bad
    rate replaces its approve rule only (its refer rule or gap stays); --policy replaces it whole."""
    given = [x for x in (cutoff, approval_rate, bad_rate, policy_file) if x is not None]
    if len(given) > 1:
        raise fail("give at most one of --cutoff, --approval-rate, --bad-rate and --policy")
    try:
        if cutoff is not None:
            return _approving(base, CutoffRule(by="score", value=cutoff))
        if approval_rate is not None:
            return _approving(base, CutoffRule(by="approval_rate", value=approval_rate))
        if bad_rate is not None:
            return _approving(base, CutoffRule(by="bad_rate", value=bad_rate))
        if policy_file is not None:
            if not policy_file.is_file():
                raise fail(f"policy file {policy_file} does not exist")
            return LendingPolicy.model_validate(read_yaml(policy_file) or {})
    except ValidationError as err:
        said = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors(include_url=False, include_input=False, include_context=False)
        )
        raise fail(f"bad lending policy: {said}") from None
    except YamlFileError as err:
        raise fail(f"bad lending policy: {policy_file} {err}") from None
    return base


def _approving(base: LendingPolicy, rule: CutoffRule) -> LendingPolicy:
    return LendingPolicy.model_validate({**base.model_dump(), "approve": rule.model_dump()})


HINTS = {
    errno.ENOSPC: "free some disk space and run the same command again",
    errno.EDQUOT: "free some disk space and run the same command again",
    errno.EACCES: "check the folder's permissions",
    errno.EPERM: "check the folder's permissions",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.ENOENT: "check the path",
}


def expected_fault(err: BaseException) -> str | None:
    """One line for a fault the user can act on (thinfile's own errors, the operating system's), else None."""
    if type(err).__module__.startswith("thinfile."):
        return str(err) or type(err).__name__
    store = _store_fault(err)
    if store is not None:
        return store
    if isinstance(err, OSError) and err.errno is not None:
        where = f": {err.filename}" if err.filename else ""
        hint = HINTS.get(err.errno)
        return f"{err.strerror or type(err).__name__}{where}" + (f"; {hint}" if hint else "")
    return None


def _store_fault(err: BaseException) -> str | None:
    """One line for an MLflow store whose SQLite database cannot be read or written (damaged, read-only)."""
    found = next((e for e in _causes(err) if isinstance(e, sqlite3.Error)), None)
    if found is None:
        return None
    from thinfile.training.registry import database_fault  # MLflow: loaded only once a store has failed

    return database_fault(found)


EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
EXIT_CLOSED = 128 + 13
"""a command whose output was closed (`thinfile ... | head`): the code of a death by SIGPIPE (13 on every Unix), as
a shell reports `yes | head`; not 1, which says a check failed"""
STOPPED = "before it finished; what it had not finished is not kept: run the command again"


class Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C (`with` blocks close, an MLflow run ends as failed), not mid-step without
    a word."""


@contextmanager
def terminated_raises() -> Iterator[None]:
    """While inside, SIGTERM raises Terminated (in the main thread; elsewhere it keeps its handler)."""

    def stop(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


RESEND_S = 0.05
"""how long after it was swallowed a Ctrl-C or SIGTERM is sent again"""


@contextmanager
def interrupts_kept() -> Iterator[None]:
    """While inside, a KeyboardInterrupt or Terminated that the interpreter would swallow is raised again: a signal's
    handler runs wherever Python is, and in a fork's callbacks, a weakref callback or a `__del__` run by the garbage
    collector its exception is only printed ("Exception ignored in ...") and the command goes on as if the signal
    had not come. Here the signal is sent again a moment later (from a thread: sent from the hook, its handler would
    run inside the hook, whose exceptions are swallowed too), to arrive once the interpreter is back in the
    command's code. In a process forked meanwhile (a drawing process) it is dropped: its parent has it."""
    previous, owner, main = sys.unraisablehook, os.getpid(), threading.main_thread().ident

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        error = unraisable.exc_value
        sent = signal.SIGINT if isinstance(error, KeyboardInterrupt) else signal.SIGTERM
        if not isinstance(error, KeyboardInterrupt | Terminated):
            previous(unraisable)
        elif os.getpid() == owner and main is not None:
            again = threading.Timer(RESEND_S, signal.pthread_kill, (main, sent))
            again.daemon = True
            again.start()

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def guarded(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command; an expected fault becomes one line and exit code 2 (the traceback only with --debug); Ctrl-C
    and SIGTERM one line each, exit 130 and 143; output whose reader has gone (`| head`) exit 141 without a word."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            with terminated_raises(), interrupts_kept():
                return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            raise fail(f"interrupted {STOPPED}", code=EXIT_INTERRUPTED) from None
        except Terminated:
            raise fail(f"stopped by SIGTERM {STOPPED}", code=EXIT_TERMINATED) from None
        except Exception as err:
            if output_closed(err):  # nobody reads on: `thinfile.launch` ends the process without a word
                raise typer.Exit(EXIT_CLOSED) from None
            if _interrupted(err) and not debugging():  # Ctrl-C inside a library that wrapped it in its own error
                raise fail(f"interrupted {STOPPED}", code=EXIT_INTERRUPTED) from None
            message = expected_fault(err)
            if message is None or debugging():
                raise
            raise fail(message) from None

    return run


def output_closed(err: BaseException | None) -> bool:
    """Did `err` come of writing to a standard output or error whose reader has gone (`| head` read what it
    wanted), rather than of a pipe or socket of the command's own (a server that hung up, a fault to report)?"""
    broken = err is not None and any(isinstance(e, OSError) and e.errno == errno.EPIPE for e in _causes(err))
    return broken and bool(closed_outputs())


def closed_outputs() -> list[int]:
    """Standard output and error (as file descriptors 1 and 2) when they are pipes or sockets whose reader has
    gone: the kernel reports an error on them to poll (Linux, the BSDs); where poll cannot tell, none."""
    if not hasattr(select, "poll"):
        return []
    closed = []
    for fd in (1, 2):
        poller = select.poll()
        try:
            poller.register(fd, select.POLLOUT)
            events = poller.poll(0)
        except (OSError, ValueError):
            continue
        if any(event & (select.POLLERR | select.POLLHUP) for _, event in events):
            closed.append(fd)
    return closed


def _interrupted(err: BaseException) -> bool:
    """Was `err` raised because of a KeyboardInterrupt (its cause or context, however deep)?"""
    return any(isinstance(e, KeyboardInterrupt) for e in _causes(err))


def _causes(err: BaseException) -> Iterator[BaseException]:
    """`err`, then what it wraps (a driver's error under SQLAlchemy's `orig`), its cause or context, however deep."""
    seen: set[int] = set()
    found: BaseException | None = err
    while found is not None and id(found) not in seen:
        yield found
        seen.add(id(found))
        found = getattr(found, "orig", None) or found.__cause__ or found.__context__


def debugging() -> bool:
    context = get_current_context(silent=True)
    return bool(context and context.find_root().params.get("debug"))
