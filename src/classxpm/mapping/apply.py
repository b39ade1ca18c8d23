"""Mapping one source row to an XPM record: a pure function that reports problems instead of raising.

Per field, in order: read the column(s) or the constant, check it is text, clean control characters,
apply the mapping's transforms, then decide on blanks (``keep`` leaves XPM alone, ``clear`` sends
``""``) and check the length cap. A bad field becomes a :class:`RecordProblem` of its record, so one
bad record never stops the others.

A sync maps hundreds of thousands of rows through the same two mappings, so each mapping is compiled
once into a tuple of per-field plans (columns, cleaned constant, transforms, element rules) and the
common case, a text value with nothing to clean, takes the shortest path through one loop. A field the
mapping marks sensitive comes out as a :class:`~classxpm.identifiers.Tfn`, whose text form is masked.
"""

from __future__ import annotations

import collections.abc
from collections.abc import Callable
from typing import NamedTuple

from classxpm.errors import RecordRefused
from classxpm.identifiers import Tfn
from classxpm.mapping.models import Mapping
from classxpm.mapping.records import FieldValues, MappedRecord, RecordProblem
from classxpm.mapping.transforms import TRANSFORMS, TransformProblem, clean

Row = collections.abc.Mapping[str, object]
Source = Callable[[Row], tuple[str, bool]]

_MISSING = object()
_REQUIRED = object()
"""The blank value of a field XPM requires: a blank source is an error, whatever ``on_blank`` says."""
_CLEANED = "control characters removed"
_MAX_PLANS = 64


class _FieldError(RecordRefused):
    """Ends the mapping of one field with a reason that never quotes the value."""


class _FieldPlan(NamedTuple):
    """One field of a compiled mapping, unpacked by the loop of :func:`_map`."""

    field: str
    column: str | None
    """The one column read, or None for a join or a constant (then ``source`` gives the text)."""
    source: Source | None
    multiline: bool
    transforms: tuple[tuple[str, Callable[[str], str]], ...]
    """The field's transforms in order, each with its name (for the problem it may report)."""
    stripped: bool
    """Whether the transformed text has no surrounding whitespace, so blank means empty."""
    blank: object
    """What a blank value becomes: ``""`` (clear), None (keep) or _REQUIRED."""
    max_length: int
    sensitive: bool
    """Whether the value is wrapped as a :class:`Tfn` (the mapping says ``sensitive: true``)."""


class _Plan(NamedTuple):
    target: str
    key: str
    fields: tuple[_FieldPlan, ...]
    sensitive: frozenset[str]


_PLANS: dict[int, tuple[Mapping, _Plan]] = {}
"""Compiled plans by ``id(mapping)``; each entry holds its mapping, so the id is not reused meanwhile."""
_STRIPPING = frozenset({"strip", "collapse_whitespace", "digits_only"})
"""Transforms whose result never starts or ends with whitespace."""


def map_row(mapping: Mapping, row: Row) -> MappedRecord:
    """Map one source row through ``mapping``.

    Args:
        mapping: A loaded mapping (see :func:`classxpm.mapping.load_mapping`).
        row: Column name → value, as read from the Class table; values are text or None.

    Returns:
        The record with its XPM field values in mapping order, the fields left blank under
        ``on_blank: keep``, and every problem found (an ``error`` means: do not send this record).
    """
    plan = _plan(mapping)
    key, values, kept_blank, problems = _map(plan, row)
    return MappedRecord(
        plan.target, key, FieldValues(values, plan.sensitive), tuple(kept_blank), tuple(problems)
    )


def _plan(mapping: Mapping) -> _Plan:
    entry = _PLANS.get(id(mapping))
    if entry is not None and entry[0] is mapping:
        return entry[1]
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    plan = _compile(mapping)
    _PLANS[id(mapping)] = (mapping, plan)
    return plan


def _map(  # noqa: PLR0912 - one flat loop on purpose: it runs for every field of every row
    plan: _Plan, row: Row
) -> tuple[str, dict[str, str | Tfn], list[str], list[RecordProblem]]:
    """Return the key, values, kept-blank fields and problems of ``row``, as map_row documents them."""
    key = row.get(plan.key)
    if type(key) is str and key.strip():
        problems: list[RecordProblem] = []
    else:
        key, problems = _record_key(plan.key, row)
    values: dict[str, str | Tfn] = {}
    kept_blank: list[str] = []
    # No call per field unless a value needs one (None, not text, to be cleaned) or a transform is named.
    for field, column, source, multiline, transforms, stripped, blank, cap, sensitive in plan.fields:
        try:
            changed = False
            if column is None:
                text, changed = source(row)
            else:
                text = row.get(column, _MISSING)
                if type(text) is str:
                    # Nothing printable needs cleaning, and str.isprintable is a cheaper scan than clean's.
                    if not text.isprintable():
                        text, changed = clean(text, multiline=multiline)
                elif text is None:
                    text = ""
                else:
                    text, changed = _odd_column_text(column, text, multiline)
            for name, transform in transforms:
                try:
                    text = transform(text)
                except TransformProblem as problem:
                    raise _FieldError(f"{name}: {problem}") from None
            if not (text if stripped else text.strip()):
                if blank is _REQUIRED:
                    raise _FieldError(f"XPM requires {field} and the source is blank")
                text = blank
            elif len(text) > cap:
                raise _FieldError(f"is {len(text)} characters; XPM {field} takes at most {cap}")
        except _FieldError as error:
            problems.append(RecordProblem(key, field, str(error)))
            continue
        if changed:
            problems.append(RecordProblem(key, field, _CLEANED, "warning"))
        if text is None:
            kept_blank.append(field)
        else:
            values[field] = Tfn(text) if sensitive else text
    return key, values, kept_blank, problems


def _compile(mapping: Mapping) -> _Plan:
    fields = []
    for field, spec in mapping.fields.items():
        element = mapping.element(field)
        multiline = element.multiline
        if spec.value is not None:
            source: Source | None = _constant(clean(spec.value, multiline=multiline))
        elif spec.join is not None:
            source = _joined(spec.join, spec.separator, multiline)
        else:
            source = None
        fields.append(
            _FieldPlan(
                field=field,
                column=spec.from_ if source is None else None,
                source=source,
                multiline=multiline,
                transforms=tuple((name, TRANSFORMS[name]) for name in spec.transform),
                stripped=bool(spec.transform) and spec.transform[-1] in _STRIPPING,
                blank=_REQUIRED if element.required else ("" if spec.on_blank == "clear" else None),
                max_length=element.max_length,
                sensitive=spec.sensitive,
            )
        )
    sensitive = frozenset(field for field, spec in mapping.fields.items() if spec.sensitive)
    return _Plan(mapping.target, mapping.key, tuple(fields), sensitive)


def _constant(cleaned: tuple[str, bool]) -> Source:
    return lambda row: cleaned


def _joined(columns: tuple[str, ...], separator: str, multiline: bool) -> Source:
    """Return the source of a join: the non-blank parts, cleaned and trimmed, joined by ``separator``."""

    def source(row: Row) -> tuple[str, bool]:
        parts, changed = [], False
        for column in columns:
            text = row.get(column, _MISSING)
            if type(text) is not str:
                text, flag = _odd_column_text(column, text, multiline)
                changed = changed or flag
            elif not text.isprintable():
                text, flag = clean(text, multiline=multiline)
                changed = changed or flag
            text = text.strip()
            if text:
                parts.append(text)
        return separator.join(parts), changed

    return source


def _record_key(key: str, row: Row) -> tuple[str, list[RecordProblem]]:
    value = row.get(key)
    if value is None or not str(value).strip():
        return "", [RecordProblem("", key, f"the row has no {key}")]
    return str(value), []


def _odd_column_text(column: str, value: object, multiline: bool) -> tuple[str, bool]:
    """Return the cleaned text of a value that is not exactly a ``str``: None, missing, another type."""
    if value is _MISSING:
        raise _FieldError(f"column {column!r} is missing from the source row")
    if value is None:
        return "", False
    if not isinstance(value, str):
        raise _FieldError(f"column {column!r} should hold text, not {type(value).__name__}")
    return clean(value, multiline=multiline)
