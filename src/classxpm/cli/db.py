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
    from classxpm.airflow.resources import database_url
    from classxpm.state.migrations import upgrade as run_upgrade

    target = url or database_url(STATE_CONN_ID)
    run_upgrade(target)
    click.echo("State database is up to date.")
