"""YAML a lender writes (a schema, a settings file), read by YAML's safe loader; whatever stops it is one line
that says where and what to do: a key given twice in one mapping (the last would silently win), a number too long
to read, bytes that are not UTF-8, nesting too deep to read."""

from __future__ import annotations

import sys
from collections.abc import Hashable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.reader import ReaderError

_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SHOWN = 120


class YamlFileError(Exception):
    """A YAML file that cannot be read: what is wrong, where, and what to do, in one line (the caller names the
    file)."""


class UniqueKeys(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (in any case when `caseless`) and a value it
    cannot read (a number of thousands of digits, the 30th of February), naming its line."""

    caseless: ClassVar[bool] = False
    twice_advice: ClassVar[str] = "write each key once"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor`: its keys are merged in, and may be given again
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                break
            same = key.lower() if self.caseless and isinstance(key, str) else key
            if same in seen:
                case = "; names are read in any case" if self.caseless else ""
                raise YamlFileError(
                    f"gives {str(key)[:40]!r} twice (line {key_node.start_mark.line + 1}{case}); {self.twice_advice}"
                )
            seen.add(same)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except ValueError as err:
            raise YamlFileError(_unreadable_value(node, err)) from None


def _unreadable_value(node: yaml.Node, err: ValueError) -> str:
    line = node.start_mark.line + 1
    digits = sum(c.isdigit() for c in str(node.value)) if node.tag == _INT_TAG else 0
    if digits > sys.get_int_max_str_digits():
        return (
            f"gives a number of {digits:,} digits (line {line}), more than {sys.get_int_max_str_digits():,} can be "
            "read; write a smaller number"
        )
    return f"cannot read the value at line {line} ({err}); correct it, or quote it to give it as text"


def read_yaml(file: Path | Traversable, loader: type[UniqueKeys] = UniqueKeys) -> Any:
    """The data in a YAML file (None when it is empty), or YamlFileError saying why it cannot be read."""
    try:
        raw = file.read_bytes()
    except OSError as err:
        raise YamlFileError(f"cannot be read ({err.strerror or err}); check its permissions") from None
    try:
        return yaml.load(raw, Loader=loader)
    except ReaderError as err:
        raise YamlFileError(_not_text(err, raw)) from None
    except yaml.YAMLError as err:
        raise YamlFileError(_not_yaml(err)) from None
    except RecursionError:
        raise YamlFileError(
            "nests lists or mappings too deeply to read; write it with a few levels of nesting"
        ) from None


def _not_text(err: ReaderError, raw: bytes) -> str:
    if err.encoding == "unicode":
        return (
            f"holds character #x{err.character:04x} (character {err.position + 1:,}), which YAML does not allow; "
            "remove it"
        )
    line = raw[: err.position].count(b"\n") + 1
    return f"is not UTF-8 text (byte #x{err.character:02x} on line {line}); save it as UTF-8"


def _not_yaml(err: yaml.YAMLError) -> str:
    if not isinstance(err, yaml.MarkedYAMLError):
        return "is not valid YAML; correct it"
    mark = err.problem_mark or err.context_mark
    where = f"at line {mark.line + 1} " if mark is not None else ""
    problem = " ".join(str(err.problem or err.context or "").split())[:_SHOWN]
    return f"is not valid YAML {where}({problem}); correct it there"
