import re
import subprocess
import sys

import typer.main
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from thinfile.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    out = runner.invoke(app, ["--help"]).output
    for command in ("generate", "train", "promote", "ui", "fairness", "serve", "audit", "batch-score", "run"):
        assert command in out


def test_help_loads_neither_the_booster_nor_the_explainer(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "THINFILE_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "thinfile.cli", "--help"], env=env, capture_output=True, text=True
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert done.returncode == 0 and "batch-score" in done.stdout
    assert "thinfile.training.scorer.policy" in imported
    explainer = {"thinfile.training.scorer.treeshap", "shap"}  # the kernels (scorer.explain itself is light)
    assert not imported & {"lightgbm", "numba", "thinfile.training.scorer.artefact", "mlflow", "bentoml", *explainer}


def test_generate_writes_parts_and_data_card_and_prints_the_key_marginals(tmp_path):
    result = runner.invoke(app, ["generate", "--rows", "3000", "--seed", "4", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "population" / "part-00000.parquet").exists()
    assert (tmp_path / "DATACARD.md").exists()
    assert "thin-file" in result.output and "oracle AUC" in result.output


def test_generate_refuses_a_rural_footprint_out_of_range(tmp_path):
    result = runner.invoke(app, ["generate", "--rows", "100", "--out", str(tmp_path), "--rural-footprint", "3"])
    assert result.exit_code != 0
    assert "rural_footprint_intensity" in result.output


def test_a_table_printed_into_a_log_keeps_every_figure_whole(capsys):
    from rich.table import Table

    from thinfile.commands.common import show

    figures = [f"{0.8153 + k / 10_000:.4f}" for k in range(9)] + ["9eb8ab1a"]
    table = Table(title="test metrics")
    for k in range(len(figures)):
        table.add_column(f"metric {k}")
    table.add_row(*figures)
    show(table)
    log = capsys.readouterr().out
    assert all(figure in log for figure in figures), log
    assert "…" not in log


def test_notes_and_warnings_printed_into_a_log_stay_whole_on_one_unpadded_line(capsys):
    from rich.status import Status

    from thinfile.commands.common import console, fail, say

    note = "hyper-parameters (table-fitted defaults): 8 leaves, depth 3, min_child_samples 100, learning rate 0.050"
    say(Status("", console=console))(note)
    long = " ".join(["word"] * 60)
    fail(long)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("] " + note)
    assert lines[1] == "error: " + long


def _command_paths(command: TyperCommand, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], TyperCommand]]:
    """Every command and group under `command` (typer's own click classes: not click's Group)."""
    found = [(path, command)]
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            found += _command_paths(sub, (*path, name))
    return found


def test_every_help_on_an_80_column_terminal_shows_every_option_and_command_whole():
    for path, command in _command_paths(typer.main.get_command(app)):
        out = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, terminal_width=80).output
        assert "…" not in out and ("Commands:" not in out or "..." not in out.split("Commands:")[-1]), path
        for param in command.params:
            for name in [*param.opts, *param.secondary_opts]:
                if name.startswith("-"):
                    assert name in out, (path, name)
        if isinstance(command, TyperGroup):
            for name in command.commands:
                assert f"  {name}  " in out, (path, name)


def test_each_default_the_help_quotes_from_the_settings_is_that_settings_built_in_value():
    from thinfile.config import Settings

    quoted = []
    for path, _ in _command_paths(typer.main.get_command(app)):
        out = " ".join(runner.invoke(app, [*path, "--help"], terminal_width=200).output.split())
        quoted += re.findall(r"the settings' ([a-z_.]+), built in ([^;)]+?)[;)]", out)
    assert len({key for key, _ in quoted}) >= 15
    for key, shown in quoted:
        section, *fields = key.split(".")
        value = Settings.model_fields[section].default
        for field in fields:
            value = getattr(value, field)
        if isinstance(value, bool):
            expected = {True: "yes", False: "no"}[value]
        elif isinstance(value, tuple):
            expected = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        else:
            expected = f"{value:,}" if isinstance(value, int) else f"{value:g}" if isinstance(value, float) else value
        assert shown == expected, key
