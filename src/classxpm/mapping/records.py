"""What mapping one source row produces: the XPM field values and the problems found on the way.

A sensitive value (the TFN) is held as a :class:`~classxpm.identifiers.Tfn`, whose text form is masked,
so logging a record, its values or a problem never shows a TFN in clear. Problem reasons never quote a
value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from classxpm.identifiers import Tfn, mask_tfn, reveal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class RecordProblem:
    """One field-level problem in one source record.

    An ``error`` means the field could not be mapped and the record must not be sent; a ``warning``
    means the value was cleaned (for example control characters removed) and the record can go.
    """

    record_key: str
    field: str
    reason: str
    severity: Severity = "error"


class FieldValues(Mapping[str, "str | Tfn"]):
    """XPM element → value, in mapping order, with sensitive values masked in its repr.

    :func:`~classxpm.mapping.map_row` gives each sensitive value as a :class:`Tfn`, masked wherever shown.
    """

    def __init__(self, values: Mapping[str, str | Tfn], sensitive: frozenset[str]) -> None:
        self._values = dict(values)
        self._sensitive = sensitive & self._values.keys()

    def __getitem__(self, field: str) -> str | Tfn:
        return self._values[field]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._values == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self.masked())

    @property
    def sensitive(self) -> frozenset[str]:
        """The fields whose values are sensitive and present."""
        return self._sensitive

    def unmasked(self) -> dict[str, str]:
        """Return a plain copy of the values, sensitive ones revealed in clear: for the keyed hash only."""
        return {field: reveal(v) for field, v in self._values.items()}  # type: ignore[misc]

    def masked(self) -> dict[str, str]:
        """Return the values with every sensitive one masked, for reports and dry-run diffs."""
        return {field: mask_tfn(v) if field in self._sensitive else v for field, v in self._values.items()}  # type: ignore[misc]


@dataclass(frozen=True)
class MappedRecord:
    """One source row mapped to an XPM target.

    Attributes:
        target: ``client`` or ``contact``.
        key: The row's identity (fund_id or member_id) as text; empty when the row had none.
        values: The XPM field values to send, in mapping order. A field cleared on purpose has ``""``.
        kept_blank: Fields whose source was blank under ``on_blank: keep``: leave XPM's value alone.
        problems: Field-level problems; any ``error`` means the record must not be sent.
    """

    target: str
    key: str
    values: FieldValues
    kept_blank: tuple[str, ...] = ()
    problems: tuple[RecordProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no problem stops this record from being sent."""
        return not self.errors

    @property
    def errors(self) -> tuple[RecordProblem, ...]:
        """The problems of severity ``error``."""
        return tuple(problem for problem in self.problems if problem.severity == "error")
