"""thinfile's settings: one typed object composed of the sections in each stage's settings module, read from
THINFILE_<SECTION>__<FIELD> variables and a YAML file (pydantic-settings)."""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Callable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)
from pydantic_settings import SettingsError as PydanticSettingsError

from thinfile.features.settings import (
    GeneratorParams,
    HistorySettings,
    Home,
    InferSettings,
    ParquetFiles,
    TextFiles,
)
from thinfile.features.yamlio import UniqueKeys, YamlFileError, read_yaml
from thinfile.serving.batch.settings import BatchSettings
from thinfile.serving.processes import SERVER_PID as SERVER_PID_VARIABLE
from thinfile.serving.settings import ServingSettings, service_variables
from thinfile.training.settings import LoopSettings, PromotionGate, TrainingSettings

__all__ = [
    "ENVIRONMENT_ONLY",
    "SETTINGS_FILE_VARIABLE",
    "BatchSettings",
    "GeneratorParams",
    "PromotionGate",
    "ServingSettings",
    "Settings",
    "SettingsError",
    "TrainingSettings",
    "environment_problems",
    "environment_yaml",
    "load_settings",
    "setting_source",
    "setting_variables",
    "stray_variables",
    "settings_file",
    "settings_yaml",
]

ENV_PREFIX = "THINFILE_"
ENV_NESTING = "__"
SETTINGS_FILE_VARIABLE = "THINFILE_SETTINGS_FILE"


class SettingsError(ValueError):
    """Settings that cannot be used: a bad value (named by its variable or file key), or an unreadable file."""


class Settings(BaseSettings, TrainingSettings):
    """Every section: the training job's (scale, policy, train, checks, evaluation, pipeline, fairness, audit,
    stability, explanations, reject_inference), the synthetic world's (generator, history), batch jobs' (batch),
    promotion's, the lending loop's and schema inference's. Each field: its default, else the YAML file named by
    THINFILE_SETTINGS_FILE, else THINFILE_<SECTION>__<FIELD> (e.g. THINFILE_FAIRNESS__DISPARATE_IMPACT_MIN=0.9),
    else what the code passes. The service reads its own ServingSettings from THINFILE_<FIELD>."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTING,
        extra="forbid",
        frozen=True,
    )

    generator: GeneratorParams = GeneratorParams()
    batch: BatchSettings = BatchSettings()
    promotion: PromotionGate = PromotionGate()
    history: HistorySettings = HistorySettings()
    loop: LoopSettings = LoopSettings()
    infer: InferSettings = InferSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file = settings_file()
        from_file = (_CaselessYaml(settings_cls, yaml_file=file),) if file else ()
        return (init_settings, env_settings, *from_file)


class _UniqueKeys(UniqueKeys):
    """A key given twice in one mapping refused in any case (a section pasted twice: the last would win)."""

    caseless = True
    twice_advice = "write each section and field once"


class _CaselessYaml(YamlConfigSettingsSource):
    """The settings file with its keys read in lower case at every level, as the variables' names are read."""

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        return _lower_keys(super()._read_file(file_path))


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k.lower() if isinstance(k, str) else k: _lower_keys(v) for k, v in value.items()}
    return value


def settings_file() -> Path | None:
    """The YAML file THINFILE_SETTINGS_FILE names (None when unset), or SettingsError when it is not a readable
    mapping of sections, each given once."""
    named = os.environ.get(SETTINGS_FILE_VARIABLE)
    if not named:
        return None
    path = Path(named)
    if not path.is_file():
        raise SettingsError(
            f"{SETTINGS_FILE_VARIABLE} names {path}, which is not a file; write one with "
            "`thinfile settings --defaults > FILE`"
        )
    try:
        held = read_yaml(path, _UniqueKeys)
    except YamlFileError as err:
        raise SettingsError(f"settings file {path} {err}") from None
    if held is not None and not (isinstance(held, dict) and all(isinstance(k, str) for k in held)):
        what = f"a {type(held).__name__}" if not isinstance(held, dict) else "keys that are not section names"
        raise SettingsError(
            f"settings file {path} holds {what}; it must map sections to their fields "
            "(see `thinfile settings --defaults`)"
        )
    return path


def load_settings(**sections: Any) -> Settings:
    """The settings from the file, the environment and `sections`; or SettingsError naming each bad value in one
    line (by its variable or its key in the file, never its value)."""
    stray = stray_variables(os.environ)
    if stray:
        raise SettingsError(f"bad settings: {'; '.join(stray)}")
    try:
        return Settings(**sections)
    except ValidationError as err:
        raise SettingsError(f"bad settings: {'; '.join(_problems(err))}") from None
    except PydanticSettingsError as err:  # a list or a section in a variable that is not JSON
        field = re.search(r'field "([^"]+)"', str(err))
        section = ENV_PREFIX + (field.group(1).upper() if field else "<SECTION>")
        named = sorted(k for k in os.environ if k.upper() == section or k.upper().startswith(section + ENV_NESTING))
        raise SettingsError(
            f"bad settings: {', '.join(named) or section}: cannot be read; a list or a whole section is given as JSON "
            f'(["a", "b"] or {{"field": 1}}), one field as {section}{ENV_NESTING}<FIELD>'
        ) from None


def _section_fields() -> dict[str, set[str]]:
    """Each section's field names."""
    out = {}
    for section, info in Settings.model_fields.items():
        kind = info.annotation
        out[section] = set(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else set()
    return out


def stray_variables(environ: Mapping[str, str]) -> list[str]:
    """THINFILE_* variables that set nothing, each with what was likely meant: an unknown section or field, a field
    without its section, one underscore where a section's field takes two, a misspelt service or other thinfile
    variable; and two variables for one setting that differ only in case (either could win)."""
    sections = _section_fields()
    service = set(service_variables())
    others = {
        ENV_PREFIX + name.upper() for name in (*Home.model_fields, *TextFiles.model_fields, *ParquetFiles.model_fields)
    }
    known = sorted(service | others | {SETTINGS_FILE_VARIABLE, SERVER_PID_VARIABLE})
    fields = [f"{ENV_PREFIX}{s.upper()}{ENV_NESTING}{f.upper()}" for s, names in sections.items() for f in names]
    out = []
    spellings: dict[str, list[str]] = {}
    for key in sorted(environ):
        upper = key.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        rest = upper[len(ENV_PREFIX) :].lower()
        section, _, field = rest.partition(ENV_NESTING)
        if section in sections:
            spellings.setdefault(upper, []).append(key)
            if not field or field.split(ENV_NESTING)[0] in sections[section]:
                continue
            out.append(f"{key}: not a setting{_likely(upper, fields)}")
        elif field:
            out.append(f"{key}: not a setting (no such section){_likely(upper, fields)}")
        elif rest == "settings":
            out.append(f"{key}: not a setting; the settings file is named by {SETTINGS_FILE_VARIABLE}")
        else:
            out.append(
                f"{key}: {_flat_hint(rest, sections) or 'not a thinfile variable' + _likely(upper, known + fields)}"
            )
    for keys in spellings.values():
        if len(keys) > 1 and len({environ[k] for k in keys}) > 1:
            out.append(f"{' and '.join(keys)}: one setting given twice, spelt in two cases; keep one")
    return out


def _flat_hint(rest: str, sections: dict[str, set[str]]) -> str | None:
    """What a name without two underscores likely meant: a section's field, given without its section or with one
    underscore after it."""
    owners = [section for section, fields in sections.items() if rest in fields]
    if owners:
        named = " or ".join(f"{ENV_PREFIX}{s.upper()}{ENV_NESTING}{rest.upper()}" for s in owners)
        return f"not a setting; a field is named with its section: {named}"
    for section, fields in sections.items():
        if rest.startswith(section + "_") and rest[len(section) + 1 :] in fields:
            field = rest[len(section) + 1 :].upper()
            return (
                f"not a setting; a section's field takes two underscores: {ENV_PREFIX}{section.upper()}{ENV_NESTING}"
                f"{field}"
            )
    return None


def _likely(name: str, names: list[str]) -> str:
    """'; did you mean X?' for the closest of `names`, or '; see `thinfile settings`...' when none is close."""
    bare = {n.removeprefix(ENV_PREFIX): n for n in names}
    close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), list(bare), n=1, cutoff=0.7)
    if close:
        return f"; did you mean {bare[close[0]]}?"
    return " (see `thinfile settings` and docs/serving.md for every name)"


def setting_variables() -> list[str]:
    """The THINFILE_* variables that set settings (a section's field, or a whole section as JSON)."""
    sections = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(
        k
        for k in os.environ
        if k.upper() in sections or (ENV_NESTING in k and k.upper().split(ENV_NESTING)[0] in sections)
    )


def _variable_for(loc: list[str]) -> str | None:
    """The variable (as the environment spells it) that set the value at `loc` or the section holding it."""
    spelt = {k.upper(): k for k in os.environ}
    for depth in range(len(loc), 0, -1):
        found = spelt.get(ENV_PREFIX + ENV_NESTING.join(loc[:depth]).upper())
        if found is not None:
            return found
    return None


def _problems(err: ValidationError) -> list[str]:
    file = os.environ.get(SETTINGS_FILE_VARIABLE)
    out = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(p) for p in e["loc"]]
        variable = _variable_for(loc) if loc and loc[0] in Settings.model_fields else None
        if variable is not None:
            where = (
                variable if variable.upper().count(ENV_NESTING) == len(loc) - 1 else f"{'.'.join(loc)} in {variable}"
            )
        elif file:
            where = f"{'.'.join(loc) or 'the top level'} in {file}"
        else:
            where = ".".join(loc)
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"not a setting{_meant(loc)}"
        out.append(f"{where}: {msg}")
    return out


def _meant(loc: list[str]) -> str:
    """'; did you mean X?' for a section or field name given where none is (`loc`: its path in the settings), the
    closest name at that place or a section's field given without its section; else where to find every name."""
    sections = _section_fields()
    *parents, name = loc
    if not parents:
        close = difflib.get_close_matches(name, list(sections), n=1, cutoff=0.7)
        if close:
            return f"; did you mean {close[0]}?"
        owners = [section for section, fields in sections.items() if name in fields]
        if owners:
            return f"; a field is given under its section: {' or '.join(f'{s}.{name}' for s in owners)}"
    elif len(parents) == 1 and parents[0] in sections:
        close = difflib.get_close_matches(name, sorted(sections[parents[0]]), n=1, cutoff=0.7)
        if close:
            return f"; did you mean {parents[0]}.{close[0]}?"
    return " (see `thinfile settings` for every name)"


def settings_yaml(settings: BaseModel, source: Callable[[list[str]], str | None] | None = None) -> str:
    """`settings` as YAML a lender can edit and name in THINFILE_SETTINGS_FILE: every section and field after its
    description; a field the file or a variable gave as an active line (ending in a comment naming where it came
    from, when `source` says), every other commented out with its default (uncomment it, and its section's line, to
    set it: a field left to its default stays fitted to the table where the code fits it), so the text reads back
    as the same settings, given fields included."""
    return "\n".join(_yaml_lines(settings, [], True, source)) + "\n"


def setting_source(loc: list[str]) -> str | None:
    """Where the value at `loc` (section, field, ...) came from: the variable that set it, else the settings file."""
    return _variable_for(loc) or os.environ.get(SETTINGS_FILE_VARIABLE) or None


def _yaml_lines(
    model: BaseModel, loc: list[str], given: bool, source: Callable[[list[str]], str | None] | None
) -> list[str]:
    pad = "  " * len(loc)
    plain = model.model_dump(mode="json")
    lines: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        active = given and name in model.model_fields_set
        doc = info.description or (_first_paragraph(type(value).__doc__) if isinstance(value, BaseModel) else None)
        if doc:
            lines.append(f"{pad}# {_yaml_words(doc)}")
        mark = "" if active else "# "
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{mark}{name}:")
            lines.extend(_yaml_lines(value, [*loc, name], active, source))
        else:
            dumped = yaml.safe_dump(
                {name: plain[name]}, default_flow_style=True, sort_keys=False, width=10**6, allow_unicode=True
            )
            origin = source([*loc, name]) if active and source else None
            lines.append(pad + mark + dumped.strip()[1:-1] + (f"  # from {origin}" if origin else ""))
    return lines


class _SettingsFile(BaseSettings):
    """THINFILE_SETTINGS_FILE, as `environment_yaml` lists it beside the other variables."""

    settings_file: Path | None = Field(
        None,
        description="the YAML file of the sections above (`thinfile --settings FILE` names it for one command); "
        "THINFILE_<SECTION>__<FIELD> variables win over it",
    )


ENVIRONMENT_ONLY: tuple[type[BaseSettings], ...] = (_SettingsFile, Home, TextFiles, ParquetFiles, ServingSettings)
"""The settings commands read from THINFILE_<FIELD> variables alone (a settings file does not set them): the
service's (batch-score reads its cut-offs and reason count too), where thinfile keeps its files, how CSV tables
are encoded, the largest Parquet footer read."""


def environment_problems() -> list[str]:
    """`VARIABLE: why` for each value of `ENVIRONMENT_ONLY` a command would refuse (the service's checks across
    fields named by the model's own message)."""
    out = []
    for model in ENVIRONMENT_ONLY:
        try:
            model()
        except ValidationError as err:
            for e in err.errors(include_url=False):
                where = f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: " if e["loc"] else ""
                out.append(where + str(e["msg"]).removeprefix("Value error, "))
    return out


def environment_yaml(environ: Mapping[str, str] | None = None) -> str:
    """Every variable of `ENVIRONMENT_ONLY` as comment lines to follow `settings_yaml` (the file still reads back as
    the same settings): each after its description, with its default, or the value `environ` gives it ending in a
    comment naming the variable it came from; a key's value is never shown."""
    environ = environ or {}
    spelt = {k.upper(): k for k, v in environ.items() if v}
    lines = [
        "",
        "# Read from the environment alone (export them; a settings file does not set them): the service's, which "
        "batch-score reads its cut-offs and reason count from too, where thinfile keeps its files, CSV tables' "
        "encoding.",
    ]
    for model in ENVIRONMENT_ONLY:
        for name, info in model.model_fields.items():
            variable = ENV_PREFIX + name.upper()
            given = spelt.get(variable)
            if info.description:
                lines.append(f"# {_yaml_words(info.description)}")
            if given is None:
                lines.append(f"# {_yaml_pair(variable, _default_of(info))}")
            elif not info.repr or info.annotation == SecretStr | None:
                lines.append(f"# {variable}: (set, not shown)  # from {given}")
            else:
                lines.append(f"# {variable}: {' '.join(environ[given].split())}  # from {given}")
    return "\n".join(lines) + "\n"


def _default_of(info: FieldInfo) -> object:
    default = info.get_default(call_default_factory=True)
    return str(default) if isinstance(default, Path) else default


def _yaml_pair(name: str, value: object) -> str:
    dumped = yaml.safe_dump({name: value}, default_flow_style=True, width=10**6, allow_unicode=True)
    return dumped.strip()[1:-1]


def _first_paragraph(doc: str | None) -> str | None:
    return inspect.cleandoc(doc).split("\n\n")[0] if doc else None


def _yaml_words(doc: str) -> str:
    """A description on one line, in the file's terms: Python's None is YAML's null."""
    return re.sub(r"\bNone\b", "null", " ".join(doc.split()))
