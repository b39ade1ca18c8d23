"""The opt-in PostgreSQL change notification on the Class database: what installs, removes and finds it.

Installed (``classxpm watch install-trigger``), a statement-level trigger on ``funds`` and ``members``
sends one ``NOTIFY`` on ``CHANNEL`` per statement that changes them, with no payload: the watcher then
reads the fingerprint, so a notification is only a wake-up and never carries Class data. A bulk insert
of 500 funds in one statement is one notification. Only the pipeline's own objects are created (a
function and two triggers, named ``classxpm_watch...``); Class's tables and rows are not changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CHANNEL = "classxpm_class_changes"
FUNCTION = "classxpm_watch_notify"
TABLES = ("funds", "members")

_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$$
"""


def _trigger_name(table: str) -> str:
    return f"classxpm_watch_{table}"


def install(conn: Connection) -> None:
    """Create (or replace) the notifying function and its trigger on each watched table."""
    conn.execute(sa.text(_FUNCTION_SQL))
    for table in TABLES:
        conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {_trigger_name(table)} ON {table}"))
        conn.execute(
            sa.text(
                f"CREATE TRIGGER {_trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )
        )


def remove(conn: Connection) -> None:
    """Drop the triggers and the function; the watcher goes back to polling."""
    for table in TABLES:
        conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {_trigger_name(table)} ON {table}"))
    conn.execute(sa.text(f"DROP FUNCTION IF EXISTS {FUNCTION}()"))


def installed(conn: Connection) -> bool:
    """Whether every watched table has its notifying trigger (always False off PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return False
    names = [_trigger_name(table) for table in TABLES]
    found = conn.execute(
        sa.text("SELECT count(*) FROM pg_trigger WHERE tgname = ANY(:names) AND NOT tgisinternal"),
        {"names": names},
    ).scalar_one()
    return found == len(TABLES)
