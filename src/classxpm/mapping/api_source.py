"""Which Class API field feeds each Class database column, for either call plan (``class_api.yaml``).

The API source writes the same staging rows as the database source, so the client and contact mappings
(``client.yaml``, ``contact.yaml``) serve both: this file states where each column of
``shared/class-schema.sql`` comes from in the API's answers. Loaded into typed models; a wrong file is a
:class:`MappingError` naming the file, the key path and the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from classxpm.mapping.loader import MAPPINGS_DIR_ENV, PROJECT_MAPPINGS_DIR, MappingError, _read_yaml
from classxpm.source import schema

API_SOURCE_FILE = "class_api.yaml"
FUND_COLUMNS = tuple(
    c for c in schema.column_names(schema.funds) if c not in {"business_id", "created_at", "updated_at"}
)
MEMBER_COLUMNS = tuple(
    c for c in schema.column_names(schema.members) if c not in {"fund_id", "created_at", "updated_at"}
)


class Lines(BaseModel):
    """An address's ``Line1``-``Line4``, the non-blank ones joined by line breaks."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lines: StrictStr


class Country(BaseModel):
    """The default country when the address at ``country`` has any part (Class exposes no country)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    country: StrictStr


ColumnSource = StrictStr | Lines | Country | None
"""A dotted path into the fund's (or member's) document, an address's lines or country, or none."""


class PlanMapping(BaseModel):
    """One call plan: the fund's columns, where its members are, and each member's columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    fund: dict[str, ColumnSource]
    members: StrictStr
    member: dict[str, ColumnSource]

    @model_validator(mode="after")
    def _every_column(self) -> PlanMapping:
        for where, given, wanted in (
            ("fund", self.fund, FUND_COLUMNS),
            ("member", self.member, MEMBER_COLUMNS),
        ):
            unknown = sorted(set(given) - set(wanted))
            missing = [column for column in wanted if column not in given]
            if unknown:
                raise ValueError(f"{where}: {', '.join(unknown)} not a column of the Class schema")
            if missing:
                raise ValueError(
                    f"{where}: {', '.join(missing)} not stated (write null if no field feeds it)"
                )
        for where, ident in (("fund", self.fund.get("fund_id")), ("member", self.member.get("member_id"))):
            if not isinstance(ident, str):
                raise ValueError(f"{where}: the id column must come from a field")
        return self


class ApiSourceMapping(BaseModel):
    """The whole file: the default country and the two plans."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    default_country: StrictStr = Field(min_length=1)
    plans: dict[Literal["export", "detail"], PlanMapping]

    @model_validator(mode="after")
    def _both_plans(self) -> ApiSourceMapping:
        if set(self.plans) != {"export", "detail"}:
            raise ValueError("plans must state both export and detail")
        return self


def load_api_source_mapping(path: str | os.PathLike[str] | None = None) -> ApiSourceMapping:
    """Read ``class_api.yaml`` (from ``$CLASSXPM_MAPPINGS_DIR``, else the project's mappings).

    Raises:
        MappingError: The file cannot be read or does not describe a valid source mapping.
    """
    folder = Path(os.environ.get(MAPPINGS_DIR_ENV) or PROJECT_MAPPINGS_DIR)
    file = Path(path) if path is not None else folder / API_SOURCE_FILE
    data = _read_yaml(file)
    if not isinstance(data, dict):
        raise MappingError.at(file, [("(file)", "must hold default_country and plans")])
    try:
        return ApiSourceMapping.model_validate(data)
    except ValidationError as error:
        problems = [(".".join(map(str, d["loc"])) or "(file)", _reason(d)) for d in error.errors()]
        raise MappingError.at(file, problems) from None


def _reason(detail: Any) -> str:
    return str(detail["msg"]).removeprefix("Value error, ")


def pick(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` of nested objects; None where any step is missing."""
    value = document
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def column_values(
    columns: dict[str, ColumnSource], document: Any, default_country: str, odd: list[str] | None = None
) -> dict[str, Any]:
    """One row: each column's value from ``document``, as text (or None), by the plan's sources.

    A field that holds an object or a list where text was expected reads as missing, and its column is
    added to ``odd`` (the value is never shown).
    """
    row: dict[str, Any] = {}
    for column, source in columns.items():
        if source is None:
            row[column] = None
        elif isinstance(source, Lines):
            address = pick(document, source.lines)
            lines = [pick(address, f"Line{n}") for n in range(1, 5)]
            row[column] = "\n".join(str(line) for line in lines if line not in (None, "")) or None
        elif isinstance(source, Country):
            address = pick(document, source.country)
            has_any = isinstance(address, dict) and any(value not in (None, "") for value in address.values())
            row[column] = default_country if has_any else None
        else:
            value = pick(document, source)
            if isinstance(value, dict | list):
                if odd is not None:
                    odd.append(column)
                value = None
            row[column] = None if value is None else str(value)
    return row
