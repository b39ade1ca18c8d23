"""SQLAlchemy engines for the Class source and the pipeline's state database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from classxpm.errors import Fatal


class DatabaseUrlError(Fatal, ValueError):
    """A database URL that SQLAlchemy cannot use: the message is one line and names the URL."""


def parse_url(url: str | URL) -> URL:
    """Parse ``url`` and prefer psycopg 3 for PostgreSQL URLs that name no driver.

    Raises:
        DatabaseUrlError: The URL is not a SQLAlchemy database URL.
    """
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise DatabaseUrlError(f"not a database URL: {url!s} ({exc})") from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite gets foreign keys on and a busy timeout for concurrent writers.

    Raises:
        DatabaseUrlError: The URL is malformed or names a dialect or driver that is not installed.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise DatabaseUrlError(f"cannot use database URL {parsed.render_as_string()}: {exc}") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def bulk_insert(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL (psycopg), else executemany.

    COPY sends the rows as one stream instead of one statement each, several times faster for the
    hundred thousand rows a large practice's run writes. Values go through each column type's bind
    processing (JSON columns included), and a column missing from a row gets its scalar default, as
    ``INSERT`` would give it.

    Args:
        conn: A connection inside a transaction.
        table: The table to fill.
        rows: Rows with the same keys; none is a no-op.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        conn.execute(sa.insert(table), list(rows))
        return
    given = list(rows[0])
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if column.name not in given and column.default is not None and column.default.is_scalar
    }
    names = given + list(defaults)
    processors = [
        table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for name in names
    ]
    preparer = conn.dialect.identifier_preparer
    statement = "COPY {} ({}) FROM STDIN".format(
        preparer.format_table(table), ", ".join(preparer.quote(name) for name in names)
    )
    tail = list(defaults.values())
    # A cursor of the connection's own DBAPI connection: the rows join ``conn``'s transaction.
    with conn.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[name] for name in given] + tail
            copy.write_row(
                [
                    value if process is None else process(value)
                    for process, value in zip(processors, values, strict=True)
                ]
            )
