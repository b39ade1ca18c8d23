"""``classxpm db``: the state database's schema."""

from __future__ import annotations

import click

from classxpm.airflow.connections import STATE_CONN_ID


@click.group()
def db() -> None:
    """Manage the pipeline's state database."""


@db.command()
@click.option(
    "--url", help=f"SQLAlchemy URL of the state database (default: the {STATE_CONN_ID} connection)."
)
def upgrade(url: str | None) -> None:
    """Create or upgrade the state database schema to the latest revision."""
    from classxpm.state.migrations import upgrade as run_upgrade

    target = url or _state_url_from_airflow()
    run_upgrade(target)
    click.echo("State database is up to date.")


def _state_url_from_airflow() -> str:
    from classxpm.airflow.connections import database_url_from, get_connection

    return database_url_from(get_connection(STATE_CONN_ID))
