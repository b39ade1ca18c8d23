"""``classxpm watch``: the opt-in PostgreSQL change notification that lets the Class watcher sleep.

Without it the watcher polls the Class database every few seconds (one grouped statement); with it, it
waits on ``LISTEN`` and polls once a minute as a safety net. Installing needs a role that may create a
function and triggers on Class's ``funds`` and ``members`` tables; the watcher picks the change up
when the triggerer next starts it.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy.engine import Connection

from classxpm.airflow.connections import CLASS_DB_CONN_ID

class_db_option = click.option(
    "--class-db",
    "url",
    default=None,
    help=f"Class database URL (default: the {CLASS_DB_CONN_ID} connection).",
)


@click.group()
def watch() -> None:
    """Install or remove the Class change notification the instant-sync watcher listens to."""


@watch.command("install-trigger")
@class_db_option
def install_trigger(url: str | None) -> None:
    """Create the notifying function and triggers on funds and members (PostgreSQL only)."""
    from classxpm.source import notify

    _on_postgres(url, notify.install)
    click.echo(f"Installed: Class notifies changes to funds and members on channel {notify.CHANNEL}.")


@watch.command("remove-trigger")
@class_db_option
def remove_trigger(url: str | None) -> None:
    """Drop the notifying triggers and function; the watcher goes back to polling."""
    from classxpm.source import notify

    _on_postgres(url, notify.remove)
    click.echo("Removed: the watcher polls the Class database again.")


def _on_postgres(url: str | None, change: Callable[[Connection], None]) -> None:
    from classxpm.airflow.resources import engine

    with engine(CLASS_DB_CONN_ID, url) as source:
        if source.dialect.name != "postgresql":
            raise click.UsageError(
                f"the Class database is {source.dialect.name}: change notification needs PostgreSQL; "
                "the watcher polls it instead"
            )
        with source.begin() as conn:
            change(conn)
