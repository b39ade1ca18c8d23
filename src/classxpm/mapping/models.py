"""Typed models of a Class → XPM field mapping, and the XPM elements a mapping may write.

A mapping file (``include/mappings/*.yaml``) validates into :class:`Mapping`. Structure is checked by
pydantic (unknown keys, types, missing keys); the cross-checks that need the whole file (XPM element
names of the target, columns of the source table, TaxNumber marked sensitive) run in one validator at
the end, so every problem is reported with its own key path.

XPM documents no field lengths. The caps in :data:`ELEMENTS` are ours: generous for real Class data
(they are at least the Class column widths of ``shared/class-schema.sql``) and small enough that a
runaway value is reported for its record instead of being sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from classxpm.source import schema

Target = Literal["client", "contact"]
SourceTable = Literal["funds", "members"]
Transform = Literal["strip", "collapse_whitespace", "upper", "digits_only"]
OnBlank = Literal["keep", "clear"]


@dataclass(frozen=True)
class Element:
    """What we allow ourselves to send in one XPM element."""

    max_length: int
    multiline: bool = False
    required: bool = False
    sensitive: bool = False


_YES_NO = Element(3)
_UUID = Element(36)

# Writable scalar elements of xpm-api.md §5.1 (Client) and §5.3 (Contact); nested lists are not fields.
ELEMENTS: dict[str, dict[str, Element]] = {
    "client": {
        "Name": Element(255, required=True),
        "Email": Element(255),
        "Address": Element(500, multiline=True),
        "City": Element(100),
        "Region": Element(100),
        "PostCode": Element(20),
        "Country": Element(100),
        "PostalAddress": Element(500, multiline=True),
        "PostalCity": Element(100),
        "PostalRegion": Element(100),
        "PostalPostCode": Element(20),
        "PostalCountry": Element(100),
        "Phone": Element(50),
        "Fax": Element(50),
        "WebSite": Element(255),
        "ReferralSource": Element(255),
        "ExportCode": Element(50),
        "AccountManagerUUID": _UUID,
        "BillingClientUUID": _UUID,
        "JobManagerUUID": _UUID,
        "FirstName": Element(100),
        "LastName": Element(100),
        "OtherName": Element(100),
        "DateOfBirth": Element(19),
        "TaxNumber": Element(20, sensitive=True),
        "CompanyNumber": Element(20),
        "BusinessNumber": Element(20),
        "BusinessStructure": Element(100),
        "BalanceMonth": Element(3),
        "PrepareGST": _YES_NO,
        "GSTRegistered": _YES_NO,
        "GSTPeriod": Element(20),
        "GSTBasis": Element(20),
        "PrepareActivityStatement": _YES_NO,
        "PrepareTaxReturn": _YES_NO,
    },
    "contact": {
        "Name": Element(255, required=True),
        "Salutation": Element(100),
        "Addressee": Element(255),
        "Mobile": Element(50),
        "Email": Element(255),
        "Phone": Element(50),
        "Position": Element(100),
        "IsPrimary": _YES_NO,
    },
}

SOURCE_TABLES: dict[str, sa.Table] = {"funds": schema.funds, "members": schema.members}


class FieldMapping(BaseModel):
    """How one XPM element gets its value: from a column, a join of columns, or a constant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_: StrictStr | None = Field(default=None, alias="from")
    join: Annotated[tuple[StrictStr, ...], Field(min_length=2)] | None = None
    separator: StrictStr = " "
    value: StrictStr | None = None
    transform: tuple[Transform, ...] = ()
    on_blank: OnBlank = "keep"
    sensitive: StrictBool = False

    @model_validator(mode="before")
    @classmethod
    def _transform_may_be_one_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("transform"), str):
            return {**data, "transform": [data["transform"]]}
        return data

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        given = [name for name in ("from_", "join", "value") if getattr(self, name) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "one_source", "give exactly one of from, join or value (found {count})", {"count": len(given)}
            )
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        """The source columns this field reads, in order; empty for a constant."""
        if self.from_ is not None:
            return (self.from_,)
        return self.join or ()


class Mapping(BaseModel):
    """A whole mapping file: rows of one Class table become records of one XPM target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_table: SourceTable
    target: Target
    key: StrictStr
    fields: Annotated[dict[StrictStr, FieldMapping], Field(min_length=1)]

    @model_validator(mode="after")
    def _agrees_with_xpm_and_class(self) -> Self:
        problems = [*self._key_problems(), *self._element_problems(), *self._column_problems()]
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self

    def element(self, field: str) -> Element:
        """Return the XPM element rules for one of this mapping's fields."""
        return ELEMENTS[self.target][field]

    def _key_problems(self) -> list[InitErrorDetails]:
        columns = SOURCE_TABLES[self.source_table].columns
        if self.key in columns:
            return []
        return [_problem(("key",), self.key, f"{self.source_table} has no column {self.key!r}")]

    def _element_problems(self) -> list[InitErrorDetails]:
        known = ELEMENTS[self.target]
        problems = [
            _problem(("fields", name), name, f"{name!r} is not an XPM {self.target} element")
            for name in self.fields
            if name not in known
        ]
        problems += [
            _problem(("fields", name), name, f"XPM requires {name}: map it")
            for name, element in known.items()
            if element.required and name not in self.fields
        ]
        problems += [
            _problem(
                ("fields", name, "sensitive"), False, f"{name} holds a tax file number: set sensitive: true"
            )
            for name, spec in self.fields.items()
            if name in known and known[name].sensitive and not spec.sensitive
        ]
        return problems

    def _column_problems(self) -> list[InitErrorDetails]:
        columns = SOURCE_TABLES[self.source_table].columns
        problems = []
        for name, spec in self.fields.items():
            if spec.from_ is not None and spec.from_ not in columns:
                reason = f"{self.source_table} has no column {spec.from_!r}"
                problems.append(_problem(("fields", name, "from"), spec.from_, reason))
            for index, column in enumerate(spec.join or ()):
                if column not in columns:
                    reason = f"{self.source_table} has no column {column!r}"
                    problems.append(_problem(("fields", name, "join", index), column, reason))
        return problems


def _problem(loc: tuple[str | int, ...], value: object, reason: str) -> InitErrorDetails:
    return InitErrorDetails(
        type=PydanticCustomError("mapping", "{reason}", {"reason": reason}), loc=loc, input=value
    )
