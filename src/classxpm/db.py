"""SQLAlchemy engines for the Class source and the pipeline's state database (SQLite or PostgreSQL)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url


class DatabaseUrlError(ValueError):
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
