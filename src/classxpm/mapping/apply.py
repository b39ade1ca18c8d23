"""Mapping one source row to an XPM record: a pure function that reports problems instead of raising.

Per field, in order: read the column(s) or the constant, check it is text, clean control characters,
apply the mapping's transforms, then decide on blanks (``keep`` leaves XPM alone, ``clear`` sends
``""``) and check the length cap. A bad field becomes a :class:`RecordProblem` of its record, so one
bad record never stops the others.
"""

from __future__ import annotations

import collections.abc

from classxpm.mapping.models import FieldMapping, Mapping
from classxpm.mapping.records import FieldValues, MappedRecord, RecordProblem
from classxpm.mapping.transforms import TRANSFORMS, TransformProblem, clean

Row = collections.abc.Mapping[str, object]


class _FieldError(Exception):
    """Ends the mapping of one field with a reason that never quotes the value."""


def map_row(mapping: Mapping, row: Row) -> MappedRecord:
    """Map one source row through ``mapping``.

    Args:
        mapping: A loaded mapping (see :func:`classxpm.mapping.load_mapping`).
        row: Column name → value, as read from the Class table; values are text or None.

    Returns:
        The record with its XPM field values in mapping order, the fields left blank under
        ``on_blank: keep``, and every problem found (an ``error`` means: do not send this record).
    """
    key, problems = _record_key(mapping, row)
    values: dict[str, str] = {}
    kept_blank: list[str] = []
    for field, spec in mapping.fields.items():
        try:
            text, warnings = _field_text(mapping, field, spec, row)
        except _FieldError as error:
            problems.append(RecordProblem(key, field, str(error)))
            continue
        problems += [RecordProblem(key, field, reason, "warning") for reason in warnings]
        if text is None:
            kept_blank.append(field)
        else:
            values[field] = text
    sensitive = frozenset(field for field, spec in mapping.fields.items() if spec.sensitive)
    return MappedRecord(
        mapping.target, key, FieldValues(values, sensitive), tuple(kept_blank), tuple(problems)
    )


def _record_key(mapping: Mapping, row: Row) -> tuple[str, list[RecordProblem]]:
    value = row.get(mapping.key)
    if value is None or not str(value).strip():
        return "", [RecordProblem("", mapping.key, f"the row has no {mapping.key}")]
    return str(value), []


def _field_text(mapping: Mapping, field: str, spec: FieldMapping, row: Row) -> tuple[str | None, list[str]]:
    """Return the text to send (None: leave XPM alone) and any warnings; raise _FieldError when unusable."""
    element = mapping.element(field)
    text, changed = _source_text(spec, row, multiline=element.multiline)
    warnings = ["control characters removed"] if changed else []
    for name in spec.transform:
        try:
            text = TRANSFORMS[name](text)
        except TransformProblem as problem:
            raise _FieldError(f"{name}: {problem}") from None
    if not text.strip():
        return _blank(field, spec, element.required), warnings
    if len(text) > element.max_length:
        raise _FieldError(f"is {len(text)} characters; XPM {field} takes at most {element.max_length}")
    return text, warnings


def _source_text(spec: FieldMapping, row: Row, *, multiline: bool) -> tuple[str, bool]:
    """Return the cleaned source text and whether cleaning changed it; joins keep the non-blank parts."""
    if spec.value is not None:
        return clean(spec.value, multiline=multiline)
    cleaned = [clean(_column_text(row, column), multiline=multiline) for column in spec.columns]
    changed = any(flag for _, flag in cleaned)
    if spec.join is None:
        return cleaned[0][0], changed
    return spec.separator.join(part.strip() for part, _ in cleaned if part.strip()), changed


def _blank(field: str, spec: FieldMapping, required: bool) -> str | None:
    if required:
        raise _FieldError(f"XPM requires {field} and the source is blank")
    return "" if spec.on_blank == "clear" else None


def _column_text(row: Row, column: str) -> str:
    if column not in row:
        raise _FieldError(f"column {column!r} is missing from the source row")
    value = row[column]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _FieldError(f"column {column!r} should hold text, not {type(value).__name__}")
    return value
