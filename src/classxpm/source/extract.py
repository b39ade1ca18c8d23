"""Read funds and their members from the Class database in bounded chunks.

Funds are read in primary-key order with keyset paging, so memory stays flat however large the practice
is and no server-side cursor is needed (the same code runs on SQLite and PostgreSQL). A fund counts as
changed when its own row or any of its members changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.source.schema import businesses, column_names, funds, members

DEFAULT_CHUNK_SIZE = 5_000


class SourceContractError(RuntimeError):
    """The Class database lacks a table or column that the pipeline reads."""


@dataclass(frozen=True)
class FundFilter:
    """Which funds to read.

    Attributes:
        business_id: Only funds of this Class business; None reads every business.
        changed_since: Only funds whose row, or any member's row, changed at or after this UTC time.
        fund_codes: Only funds with these scope codes (e.g. after a bulk import); empty reads all.
        retry_fund_ids: Funds read whatever ``changed_since`` says: those a previous run could not finish.
    """

    business_id: str | None = None
    changed_since: datetime | None = None
    fund_codes: tuple[str, ...] = ()
    retry_fund_ids: tuple[str, ...] = ()


@dataclass
class FundChunk:
    """One chunk of funds with every member of each fund, keyed by fund id."""

    funds: list[dict[str, Any]]
    members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def max_updated_at(self) -> datetime | None:
        """The latest ``updated_at`` of any fund or member in the chunk (a watermark candidate)."""
        stamps = [f["updated_at"] for f in self.funds]
        stamps += [m["updated_at"] for group in self.members.values() for m in group]
        return max(stamps, default=None)


def check_source_contract(engine: Engine) -> None:
    """Fail fast, naming each missing table and column, when the source does not honour the contract.

    Raises:
        SourceContractError: One line per missing table or column.
    """
    inspector = sa.inspect(engine)
    problems = []
    for table in (funds, members):
        if not inspector.has_table(table.name):
            problems.append(f"class_db: table {table.name} is missing")
            continue
        present = {col["name"] for col in inspector.get_columns(table.name)}
        problems += [
            f"class_db: table {table.name} lacks column {name}"
            for name in column_names(table)
            if name not in present
        ]
    if problems:
        raise SourceContractError("\n".join(problems))


def _fund_conditions(flt: FundFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if flt.business_id is not None:
        conditions.append(funds.c.business_id == flt.business_id)
    if flt.fund_codes:
        conditions.append(funds.c.scope_code.in_(flt.fund_codes))
    if flt.changed_since is not None:
        member_changed = (
            sa.select(members.c.member_id)
            .where(members.c.fund_id == funds.c.fund_id, members.c.updated_at >= flt.changed_since)
            .exists()
        )
        changed = [funds.c.updated_at >= flt.changed_since, member_changed]
        if flt.retry_fund_ids:
            changed.append(funds.c.fund_id.in_(flt.retry_fund_ids))
        conditions.append(sa.or_(*changed))
    return conditions


def _columns(table: sa.Table) -> list[Any]:
    """The table's columns; timestamps come as the driver gives them, so a malformed one can be named."""
    return [
        sa.type_coerce(column, sa.String).label(column.name)
        if isinstance(column.type, sa.DateTime)
        else column
        for column in table.columns
    ]


def _checked(table: sa.Table, key: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Return the row with its timestamps as datetimes.

    Raises:
        SourceContractError: A value does not have its column's type (SQLite keeps whatever it is given);
            the message names the table, the record and the column, never the value.
    """
    checked = dict(row)
    for column in table.columns:
        value = checked[column.name]
        if isinstance(value, bytes | bytearray | memoryview):
            raise SourceContractError(f"{_where(table, key, row, column)}: binary data, not text")
        if isinstance(column.type, sa.DateTime) and value is not None and not isinstance(value, datetime):
            try:
                checked[column.name] = datetime.fromisoformat(str(value))
            except ValueError:
                raise SourceContractError(f"{_where(table, key, row, column)}: not a date and time") from None
    return checked


def _where(table: sa.Table, key: str, row: Mapping[str, Any], column: sa.Column) -> str:
    return f"class_db: {table.name} {row[key]} {column.name}"


def _members_of(conn: Connection, fund_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    query = (
        sa.select(*_columns(members))
        .where(members.c.fund_id.in_(sa.bindparam("ids", expanding=True)))
        .order_by(members.c.fund_id, members.c.created_at, members.c.member_id)
    )
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(query, {"ids": list(fund_ids)}).mappings():
        grouped[row["fund_id"]].append(_checked(members, "member_id", row))
    return dict(grouped)


def iter_fund_chunks(
    engine: Engine, flt: FundFilter = FundFilter(), chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[FundChunk]:
    """Yield the funds matching ``flt`` with all their members, ``chunk_size`` funds at a time.

    Args:
        engine: An engine on the Class database.
        flt: Which funds to read.
        chunk_size: How many funds each chunk holds at most.

    Yields:
        Chunks in fund-id order; every member of a yielded fund is in the same chunk.
    """
    conditions = _fund_conditions(flt)
    last_id: str | None = None
    while True:
        page = sa.select(*_columns(funds)).where(*conditions).order_by(funds.c.fund_id).limit(chunk_size)
        if last_id is not None:
            page = page.where(funds.c.fund_id > last_id)
        with engine.connect() as conn:
            rows = [_checked(funds, "fund_id", row) for row in conn.execute(page).mappings()]
            if not rows:
                return
            chunk = FundChunk(funds=rows, members=_members_of(conn, [r["fund_id"] for r in rows]))
        yield chunk
        last_id = rows[-1]["fund_id"]


def business_ids(engine: Engine) -> list[str]:
    """Every business in the Class database, in id order."""
    with engine.connect() as conn:
        return list(
            conn.execute(sa.select(businesses.c.business_id).order_by(businesses.c.business_id)).scalars()
        )


def count_funds(engine: Engine, flt: FundFilter = FundFilter()) -> int:
    """Return how many funds match ``flt`` (for progress and planning)."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(funds).where(*_fund_conditions(flt))
        ).scalar_one()
