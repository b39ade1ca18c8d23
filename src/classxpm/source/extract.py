"""Read funds and their members from the Class database in bounded chunks.

Funds are read in primary-key order with keyset paging, so memory stays flat however large the practice
is and no server-side cursor is needed (the same code runs on SQLite and PostgreSQL). One query up front
finds the id that ends each full chunk, so each page is a bounded key range rather than a sort of every
fund still to come. A chunk's members are read by its key range when no other fund lies in it, else by
its fund ids. A fund counts as changed when its own row or any of its members changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from classxpm.errors import Fatal
from classxpm.identifiers import code_key
from classxpm.source.schema import column_names, funds, members

DEFAULT_CHUNK_SIZE = 5_000


class SourceContractError(Fatal):
    """The Class database lacks a table or column that the pipeline reads."""


@dataclass(frozen=True)
class FundFilter:
    """Which funds to read.

    Attributes:
        business_id: Only funds of this Class business; None reads every business.
        changed_since: Only funds whose row, or any member's row, changed at or after this UTC time.
        fund_codes: Only funds with these scope codes (e.g. after a bulk import); empty reads all. A code
            matches by :func:`~classxpm.identifiers.code_key`: trimmed, whatever its case.
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
    problems: dict[str, list[str]] = field(default_factory=dict)
    """Fund id → each value of the fund's or its members' rows that does not have its column's type,
    named (table, record, column), never shown; the value itself is read as missing. Such a fund is
    quarantined by the validation gate, and the run goes on for the others."""

    @property
    def max_updated_at(self) -> datetime | None:
        """The latest ``updated_at`` of any fund or member in the chunk (a watermark candidate)."""
        stamps = [f["updated_at"] for f in self.funds]
        stamps += [m["updated_at"] for group in self.members.values() for m in group]
        return max((stamp for stamp in stamps if stamp is not None), default=None)


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


def unmatched_codes(engine: Engine, business_id: str | None, fund_codes: Sequence[str]) -> list[str]:
    """The codes of ``fund_codes`` that match no fund (of ``business_id``), as they were asked for.

    Whatever a run's other filters say: a code is unmatched only when Class has no fund with it at all.
    """
    if not fund_codes:
        return []
    query = sa.select(funds.c.scope_code).where(*_code_conditions(business_id, fund_codes))
    with engine.connect() as conn:
        found = {code_key(code) for code in conn.execute(query).scalars()}
    return [code for code in fund_codes if code_key(code) not in found]


def _code_conditions(business_id: str | None, fund_codes: Sequence[str]) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if business_id is not None:
        conditions.append(funds.c.business_id == business_id)
    if fund_codes:
        # code_key in SQL: lower() is casefold() for the ASCII scope codes Class issues.
        keys = sorted({code_key(code) for code in fund_codes})
        conditions.append(sa.func.lower(sa.func.trim(funds.c.scope_code)).in_(keys))
    return conditions


def _fund_conditions(flt: FundFilter) -> list[sa.ColumnElement[bool]]:
    conditions = _code_conditions(flt.business_id, flt.fund_codes)
    if flt.changed_since is not None:
        member_changed = (
            sa.select(members.c.member_id)
            .where(members.c.fund_id == funds.c.fund_id, members.c.updated_at >= flt.changed_since)
            .exists()
        )
        changed = [funds.c.updated_at >= flt.changed_since, member_changed]
        if flt.retry_fund_ids:
            # Written into the SQL, not bound: a backlog deferred by the daily quota can hold more funds
            # than PostgreSQL (65,535) or SQLite (32,766) take bound parameters in one statement.
            retry = sa.bindparam(
                "retry_fund_ids", list(flt.retry_fund_ids), expanding=True, literal_execute=True
            )
            changed.append(funds.c.fund_id.in_(retry))
        conditions.append(sa.or_(*changed))
    return conditions


_TYPED_DIALECTS = frozenset({"postgresql"})
"""Dialects whose columns refuse a value of another type (SQLite's keep whatever they are given)."""

_BATCH = 1_000
"""Rows turned into dicts at a time: the driver's row objects are freed before the collector promotes them."""

_BINARY = (bytes, bytearray, memoryview)


def _typed(engine: Engine) -> bool:
    """Whether no value read can need a check: a typed dialect, text columns as text, timestamps as such.

    Then the driver gives str or None for every text column and datetime or None for every timestamp,
    so rows are taken as they come. Anything else (SQLite, or a Class database whose column types
    differ from the contract) is read checked, value by value.
    """
    if engine.dialect.name not in _TYPED_DIALECTS:
        return False
    inspector = sa.inspect(engine)
    for table in (funds, members):
        present = {column["name"]: column["type"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            wanted = sa.DateTime if isinstance(column.type, sa.DateTime) else sa.String
            if not isinstance(present.get(column.name), wanted):
                return False
    return True


def _columns(table: sa.Table, typed: bool) -> list[Any]:
    """The table's columns; read checked, timestamps come as stored, so a malformed one can be named."""
    if typed:
        return list(table.columns)
    return [
        sa.type_coerce(column, sa.String).label(column.name)
        if isinstance(column.type, sa.DateTime)
        else column
        for column in table.columns
    ]


def _read(
    conn: Connection,
    query: sa.Select,
    table: sa.Table,
    typed: bool,
    *,
    params: Mapping[str, Any] | None = None,
    only_funds: Collection[str] | None = None,
    problems: dict[str, list[str]],
) -> list[dict[str, Any]]:
    """Run ``query`` and return its rows as dicts of every column, timestamps as datetimes.

    Args:
        conn: A connection on the Class database.
        query: Selects ``_columns(table, typed)``.
        table: The table read.
        typed: Whether every value can be taken as it comes (see ``_typed``); else each is checked.
        params: Values for the query's bind parameters.
        only_funds: Keep only rows whose ``fund_id`` is one of these; the others are dropped unchecked.
        problems: Filled with fund id → each value that does not have its column's type (SQLite keeps
            whatever it is given), named by table, record and column, never shown; the value reads as
            missing.

    Raises:
        SourceContractError: A record's own id is not text, so it cannot be named or held back alone.
    """
    result = conn.execute(query, params)
    # Plain str keys: SQLAlchemy's own name objects would make the collector track every row dict.
    names = tuple(map(str, result.keys()))
    fund_at = names.index("fund_id")
    ids = (names.index(table.primary_key.columns[0].name), fund_at)
    rows: list[dict[str, Any]] = []
    while batch := result.fetchmany(_BATCH):
        if only_funds is not None:
            batch = [row for row in batch if row[fund_at] in only_funds]
        if typed:  # names and values come from one result; a strict zip would cost a fifth more
            rows += [dict(zip(names, row, strict=False)) for row in batch]
        else:
            rows += [_checked(table, names, ids, row, problems) for row in batch]
    return rows


def _checked(
    table: sa.Table,
    names: Sequence[str],
    ids: tuple[int, int],
    row: Sequence[Any],
    problems: dict[str, list[str]],
) -> dict[str, Any]:
    """Return the row as a dict, timestamps as datetimes, a mistyped value as None (see ``_read``).

    ``ids`` are the positions of the record's own id and of its fund's id.
    """
    values = list(row)
    for index in ids:
        if not isinstance(values[index], str):
            raise SourceContractError(f"class_db: {table.name} {names[index]}: a record's id is not text")
    record, fund_id = (values[index] for index in ids)
    for index, value in enumerate(values):
        if value is None:
            continue
        column = table.c[names[index]]
        if isinstance(value, _BINARY):
            reason = "binary data, not text"
        elif isinstance(column.type, sa.DateTime) and not isinstance(value, datetime):
            try:
                values[index] = datetime.fromisoformat(str(value))
                continue
            except ValueError:
                reason = "not a date and time"
        else:
            continue
        problems.setdefault(fund_id, []).append(f"class_db: {table.name} {record} {column.name}: {reason}")
        values[index] = None
    return dict(zip(names, values, strict=True))


def _members_of(
    conn: Connection, fund_ids: Sequence[str], typed: bool, problems: dict[str, list[str]]
) -> dict[str, list[dict[str, Any]]]:
    """Every member of the funds ``fund_ids`` (one page, in fund-id order), grouped by fund in page order.

    When no other fund lies between the page's first and last id, as in a practice read whole, the
    members are read by that key range: one index range scan instead of a probe per fund. Only members of
    the page's funds are kept, so a fund added in between changes nothing.
    """
    first, last = fund_ids[0], fund_ids[-1]
    # Counted only as far as one fund more than the page: a business's funds lie scattered among every
    # other business's ids, so its range can span most of the table (3,000 businesses: 150,000 funds).
    in_range = (
        sa.select(funds.c.fund_id)
        .where(funds.c.fund_id >= first, funds.c.fund_id <= last)
        .order_by(funds.c.fund_id)  # walks the key index from ``first`` and stops at the limit
        .limit(len(fund_ids) + 1)
    )
    funds_in_range = sa.select(sa.func.count()).select_from(in_range.subquery())
    params: dict[str, Any] = {}
    if conn.execute(funds_in_range).scalar_one() == len(fund_ids):
        which = sa.and_(members.c.fund_id >= first, members.c.fund_id <= last)
    elif typed:
        # One array parameter: thousands of separate ones cost more to render and plan than to run.
        which = members.c.fund_id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String)))
        params["ids"] = list(fund_ids)
    else:
        which = members.c.fund_id.in_(sa.bindparam("ids", expanding=True))
        params["ids"] = list(fund_ids)
    query = (
        sa.select(*_columns(members, typed))
        .where(which)
        .order_by(members.c.fund_id, members.c.created_at, members.c.member_id)
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    read = _read(
        conn, query, members, typed, params=params, only_funds=frozenset(fund_ids), problems=problems
    )
    for member in read:
        grouped.setdefault(member["fund_id"], []).append(member)
    return grouped


def _chunk_ends(conn: Connection, conditions: Sequence[sa.ColumnElement[bool]], chunk_size: int) -> list[str]:
    """The id of every ``chunk_size``-th matching fund in fund-id order: where each full chunk ends.

    One sort of the matching ids up front makes each page a bounded key range; an open-ended keyset page
    sorts every remaining match again whenever the planner lacks statistics to walk the key index.
    """
    numbered = (
        sa.select(funds.c.fund_id, sa.func.row_number().over(order_by=funds.c.fund_id).label("n"))
        .where(*conditions)
        .subquery()
    )
    query = sa.select(numbered.c.fund_id).where(numbered.c.n % chunk_size == 0).order_by(numbered.c.fund_id)
    return list(conn.execute(query).scalars())


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
    typed = _typed(engine)
    conditions = _fund_conditions(flt)
    columns = _columns(funds, typed)

    def page(after: str | None, end: str | None) -> sa.Select:
        query = sa.select(*columns).where(*conditions).order_by(funds.c.fund_id).limit(chunk_size)
        if after is not None:
            query = query.where(funds.c.fund_id > after)
        return query if end is None else query.where(funds.c.fund_id <= end)

    with engine.connect() as conn:
        ends = _chunk_ends(conn, conditions, chunk_size)
    next_end = 0
    last_id: str | None = None
    while True:
        end = ends[next_end] if next_end < len(ends) else None
        problems: dict[str, list[str]] = {}
        with engine.connect() as conn:
            rows = _read(conn, page(last_id, end), funds, typed, problems=problems)
            if end is not None and len(rows) < chunk_size:
                # Funds were added or removed since the ends were read: back to plain keyset pages. A full
                # bounded page is the keyset page itself, so the chunks are the same whatever changes.
                ends, problems = [], {}
                rows = _read(conn, page(last_id, None), funds, typed, problems=problems)
            if not rows:
                return
            fund_ids = [row["fund_id"] for row in rows]
            chunk = FundChunk(rows, _members_of(conn, fund_ids, typed, problems), problems)
        yield chunk
        last_id = rows[-1]["fund_id"]
        if last_id == end:
            next_end += 1


def count_funds(engine: Engine, flt: FundFilter = FundFilter()) -> int:
    """Return how many funds match ``flt`` (for progress and planning)."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(funds).where(*_fund_conditions(flt))
        ).scalar_one()
