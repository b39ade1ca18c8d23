"""Loading mapping files into typed models, with errors that name the file, the key path and the reason.

Every failure is a :class:`MappingError`, a configuration error: fix the file, do not retry. Its
message has one line per problem, ``<file>: <key path>: <reason>``. Messages quote key names and
column names but never a value, and any run of eight or more digits is masked, so a TFN typed into a
mapping by mistake cannot reach a log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from classxpm.errors import Fatal
from classxpm.identifiers import mask_digit_runs
from classxpm.mapping.models import FieldMapping, Mapping

MAPPINGS_DIR_ENV = "CLASSXPM_MAPPINGS_DIR"
PROJECT_MAPPINGS_DIR = Path(__file__).resolve().parents[3] / "include" / "mappings"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALLOWED_KEYS = {
    1: sorted(Mapping.model_fields),
    3: sorted(field.alias or name for name, field in FieldMapping.model_fields.items()),
}


class MappingError(Fatal):
    """A mapping file is unreadable or wrong; the message has one ``file: key: reason`` line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))

    @classmethod
    def at(cls, path: Path, problems: list[tuple[str, str]]) -> MappingError:
        """Build the error for ``path`` from (key path, reason) pairs, masking long digit runs in both."""
        return cls([f"{path}: {mask_digit_runs(key)}: {mask_digit_runs(reason)}" for key, reason in problems])


@dataclass(frozen=True)
class DefaultMappings:
    """The shipped mappings: funds → XPM clients and members → XPM contacts."""

    client: Mapping
    contact: Mapping


def load_mapping(path: str | os.PathLike[str]) -> Mapping:
    """Read a mapping file and validate it into a :class:`Mapping`.

    Args:
        path: The YAML file.

    Returns:
        The validated mapping, fields in file order.

    Raises:
        MappingError: The file cannot be read, is not valid YAML, or does not describe a valid mapping.
    """
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise MappingError.at(
            path, [("(file)", "must hold a mapping with source_table, target, key, fields")]
        )
    try:
        return Mapping.model_validate(data)
    except ValidationError as error:
        raise MappingError.at(path, [_explain(detail) for detail in error.errors()]) from None


def load_default_mappings(directory: str | os.PathLike[str] | None = None) -> DefaultMappings:
    """Load ``client.yaml`` and ``contact.yaml`` from the mappings directory.

    Args:
        directory: Where the files are; default ``$CLASSXPM_MAPPINGS_DIR``, else the project's
            ``include/mappings``.

    Returns:
        Both mappings, each checked to write the XPM target its file is named for.

    Raises:
        MappingError: Either file is missing or wrong; the message covers both files.
    """
    folder = Path(directory or os.environ.get(MAPPINGS_DIR_ENV) or PROJECT_MAPPINGS_DIR)
    loaded: dict[str, Mapping] = {}
    lines: list[str] = []
    for target in ("client", "contact"):
        path = folder / f"{target}.yaml"
        try:
            loaded[target] = _load_for_target(path, target)
        except MappingError as error:
            lines += str(error).splitlines()
    if lines:
        raise MappingError(lines)
    return DefaultMappings(**loaded)


def _load_for_target(path: Path, target: str) -> Mapping:
    mapping = load_mapping(path)
    if mapping.target != target:
        raise MappingError.at(path, [("target", f"must be {target} in {path.name}, found {mapping.target}")])
    return mapping


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError.at(path, [("(file)", f"cannot be read: {_os_reason(error)}")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as error:
        raise MappingError.at(path, [(_yaml_where(error.problem_mark), _yaml_reason(error))]) from None
    except yaml.YAMLError as error:
        raise MappingError.at(path, [("(file)", f"invalid YAML: {type(error).__name__}")]) from None


def _os_reason(error: OSError | UnicodeDecodeError) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return error.strerror or type(error).__name__


def _yaml_where(mark: yaml.Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"


def _yaml_reason(error: yaml.MarkedYAMLError) -> str:
    reason = f"invalid YAML: {error.problem}"
    if error.context and error.context_mark:
        reason += f" ({error.context} at {_yaml_where(error.context_mark)})"
    return reason


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice, which plain YAML silently resolves to the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _explain(detail: ErrorDetails) -> tuple[str, str]:
    """Turn one pydantic error into (key path, plain reason) without quoting the offending value."""
    loc = detail["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    kind = detail["type"]
    if kind == "missing":
        return key, "required key is missing"
    if kind == "extra_forbidden":
        allowed = _ALLOWED_KEYS.get(len(loc), [])
        return key, "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
    if kind == "literal_error":
        return key, f"{_shown(detail['input'])} is not allowed; use {detail['ctx']['expected']}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return key, f"wrong type: expected {_expected(kind)}, found {_yaml_type(detail['input'])}"
    return key or "(file)", detail["msg"]


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) and _NAME.fullmatch(value) else "this value"


def _expected(kind: str) -> str:
    base = kind.partition("_")[0]
    names = {"string": "text", "bool": "true or false", "dict": "a mapping of keys", "tuple": "a list"}
    names["model"] = "a mapping of keys such as from: <column>"
    return names.get(base, base)


def _yaml_type(value: object) -> str:
    names = {str: "text", bool: "true/false", int: "a number", float: "a number", list: "a list"}
    names |= {dict: "a mapping of keys", type(None): "nothing (empty)"}
    return names.get(type(value), type(value).__name__)
