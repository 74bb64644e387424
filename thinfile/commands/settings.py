"""`thinfile settings`: every setting with its description, as YAML to edit and name in THINFILE_SETTINGS_FILE."""

from __future__ import annotations

import os
import sys

import typer

from thinfile.config import (
    SETTINGS_FILE_VARIABLE,
    Settings,
    SettingsError,
    environment_problems,
    environment_yaml,
    load_settings,
    setting_source,
    setting_variables,
    settings_file,
    settings_yaml,
)


def settings(
    defaults: bool = typer.Option(
        False, "--defaults", help="The built-in defaults, leaving out THINFILE_SETTINGS_FILE and THINFILE_* variables."
    ),
) -> None:
    """Print every setting (limits, thresholds, counts of every stage) as YAML, each with its description.

    Without --defaults: the values commands use now, from the built-in defaults, then the YAML file named by
    THINFILE_SETTINGS_FILE (or --settings), then THINFILE_<SECTION>__<FIELD> variables. A field set there is an
    active line ending in where it came from (# from FILE or # from VARIABLE); every other is commented out with
    its default. A field left to its default is fitted to the table where training fits it (tree shape, leaf
    size): uncomment only the fields to change, with their section's line, and name the file:

    \b
        thinfile settings --defaults > thinfile.yaml
        # edit: uncomment "fairness:" and "disparate_impact_min: 0.8", make it 0.9
        export THINFILE_SETTINGS_FILE=$PWD/thinfile.yaml

    or set one field for one command: THINFILE_BATCH__CHUNK_ROWS=20000 thinfile batch-score ...
    A command's own flags (--cutoff, --seed, --chunk-rows, ...) win over both. Last, as comments: the variables
    read from the environment alone (the service's, which batch-score's cut-offs and reason count read too,
    THINFILE_HOME, THINFILE_CSV_ENCODING, THINFILE_PARQUET_MAX_FOOTER_MB), each with its default or, set, its
    value (a key's never shown). A value a command would refuse is refused here, naming its variable.
    """
    if defaults:
        sys.stdout.write(
            "# thinfile's built-in settings\n" + settings_yaml(Settings.model_construct()) + environment_yaml()
        )
        return
    chosen = load_settings()
    problems = environment_problems()
    if problems:
        raise SettingsError("; ".join(problems))
    file, variables = settings_file(), setting_variables()
    given = [f"the file {file}"] * bool(file) + [f"the variables {', '.join(variables)}"] * bool(variables)
    head = f"# thinfile's settings: the built-in defaults{''.join(', then ' + g for g in given)}\n"
    sys.stdout.write(head + settings_yaml(chosen, setting_source) + environment_yaml(os.environ))


def register(app: typer.Typer) -> None:
    app.command("settings", epilog=f"Environment: {SETTINGS_FILE_VARIABLE}, THINFILE_<SECTION>__<FIELD>.")(settings)
