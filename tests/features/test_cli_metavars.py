"""Every option naming a file or folder reads the same in every command's `--help`: `--schema <path>`, never
`<path>` on one command and `<str>` on the next."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

import typer.main

from thinfile.cli import app

PATH_OPTIONS = ("--schema", "--data", "--input", "--out", "--log", "--audit-log", "--policy", "--rejects", "--settings")
OPTION_NAMES = re.compile(r"^(?:-{1,2}[\w-]+(?:, | / |; )?)+\s*")


def help_lines() -> Iterator[tuple[str, str, str]]:
    """(command path, option, what its --help line shows after the option's names) for every option of every
    command and sub-command that takes a value, as `thinfile COMMAND --help` prints it."""
    root = typer.main.get_command(app)

    def walk(command: typer.main.TyperGroup, path: str, ctx: object) -> Iterator[tuple[str, str, str]]:
        for param in command.params:
            record = param.get_help_record(ctx)  # type: ignore[arg-type]
            if record is None or param.param_type_name != "option" or getattr(param, "is_flag", False):
                continue
            yield path, param.opts[0], OPTION_NAMES.sub("", record[0], count=1)
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}", sub.make_context(name, [], parent=ctx, resilient_parsing=True))

    yield from walk(root, "thinfile", root.make_context("thinfile", [], resilient_parsing=True))


def test_every_path_option_shows_one_metavar_across_all_commands() -> None:
    shown: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for command, option, metavar in help_lines():
        if option in PATH_OPTIONS:
            shown[option][metavar].append(command)
    assert set(shown) >= {"--schema", "--data", "--input", "--out", "--log"}, "the command tree was not walked"
    mixed = {option: dict(by) for option, by in shown.items() if len(by) > 1}
    assert not mixed, f"one option, several metavars: {mixed}"
    metavars = {option: next(iter(by)) for option, by in shown.items()}
    assert set(metavars.values()) == {"<path>"}, metavars


def option_names() -> Iterator[tuple[str, list[str]]]:
    """(command path, the option's names) for every option of every command and sub-command."""
    root = typer.main.get_command(app)

    def walk(command: typer.main.TyperGroup, path: str) -> Iterator[tuple[str, list[str]]]:
        for param in command.params:
            if param.param_type_name == "option":
                yield path, [*param.opts, *param.secondary_opts]
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    yield from walk(root, "thinfile")


COUNTS = {"--rows", "--limit"}
"""-n is how many, in every command: rows to make or read, or decisions to show"""


def test_a_short_option_means_one_long_option_in_every_command() -> None:
    means: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for command, names in option_names():
        longs = [n for n in names if n.startswith("--")]
        for short in (n for n in names if not n.startswith("--")):
            meaning = longs[0] if longs else short
            means[short]["a count" if meaning in COUNTS else meaning].append(command)
    assert "-s" in means, "the command tree was not walked"
    mixed = {short: dict(by) for short, by in means.items() if len(by) > 1}
    assert not mixed, f"one short option, several meanings: {mixed}"
