"""``classxpm lease``: who holds a business's XPM tenant lease, and releasing one whose run died.

A run holds its tenant's lease while it writes; a heartbeat renews it, so a killed run's lease lapses by
itself within its TTL (a minute by default). ``release`` is for not waiting that long, or for a TTL
configured long: it is safe once the holder is known to be gone.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

import click
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.airflow.connections import STATE_CONN_ID
from classxpm.cli.auth import _business, business_option, state_db_option
from classxpm.sync.lease import LeaseState

tenant_option = click.option(
    "--tenant", default=None, help="XPM tenant id (default: the tenant of the business's grant)."
)


@click.group()
def lease() -> None:
    """Show or release the lease that lets one run at a time write to a business's XPM tenant."""


@lease.command()
@business_option
@tenant_option
@state_db_option
def status(business: str | None, tenant: str | None, state_db: str | None) -> None:
    """Show the lease's holder, since when, until when, and whether its heartbeat still renews it."""
    with _state(state_db) as engine:
        _shown(engine, business, tenant)


@lease.command()
@business_option
@tenant_option
@state_db_option
@click.option("--yes", is_flag=True, help="Release without asking.")
def release(business: str | None, tenant: str | None, state_db: str | None, yes: bool) -> None:
    """Delete the lease so the next run may write at once (only when its holder is no longer running)."""
    from classxpm.sync.lease import force_release

    with _state(state_db) as engine:
        tenant_id, label, held = _shown(engine, business, tenant)
        if held is None:
            return
        click.echo(
            "Releasing deletes this lease, so the next run may write to the tenant at once. If the holder "
            "is still running, it stops before its next write when it finds its lease gone, but a write it "
            "has in flight still lands: release only a lease whose run is dead or stopped."
        )
        if not yes:
            click.confirm("Release the lease?", abort=True)
        if force_release(engine, tenant_id, held.holder):
            click.echo(f"Released the lease of {held.holder} on {label}.")
        else:
            click.echo("The lease changed hands meanwhile; nothing released. See `classxpm lease status`.")


def _state(state_db: str | None) -> AbstractContextManager[Engine]:
    from classxpm.airflow.resources import engine

    return engine(STATE_CONN_ID, state_db)


def _shown(engine: Engine, business: str | None, tenant: str | None) -> tuple[str, str, LeaseState | None]:
    """Print the tenant's lease; return the tenant id, its label and the lease (None when nobody has it)."""
    from classxpm.sync.lease import lease_state
    from classxpm.xpm.auth import utcnow

    tenant_id, label = _tenant(engine, business, tenant)
    held = lease_state(engine, tenant_id)
    if held is None:
        click.echo(f"{label}: no run holds the lease; the next run may write.")
        return tenant_id, label, None
    for line in describe(held, _run_status(engine, held.holder), utcnow(), label):
        click.echo(line)
    return tenant_id, label, held


def describe(held: LeaseState, run_status: str | None, now: datetime, label: str) -> list[str]:
    """The printed lines for a held lease: holder, since, expires, alive (and the holder run's status)."""
    since = f"{held.acquired_at:%Y-%m-%d %H:%M:%S} UTC" if held.acquired_at else "unknown (taken before 0005)"
    left = (held.expires_at - now).total_seconds()
    when = f"in {left:.0f} s" if left > 0 else f"{-left:.0f} s ago"
    alive = (
        "yes: its holder's heartbeat renews it; a new run waits until it is released or lapses"
        if held.alive(now)
        else "no: it lapsed (the holder stopped renewing it); the next run takes it over"
    )
    lines = [
        f"{label}: lease held by {held.holder}",
        f"  since    {since}",
        f"  expires  {held.expires_at:%Y-%m-%d %H:%M:%S} UTC ({when})",
        f"  alive    {alive}",
    ]
    if run_status:
        lines.append(f"  run      {run_status}")
    return lines


def _tenant(engine: Engine, business: str | None, tenant: str | None) -> tuple[str, str]:
    """The tenant id to look at and how to name it: given, or the business's grant's."""
    from classxpm.state.tables import xpm_grants

    if tenant:
        return tenant, f"Tenant {tenant}"
    business_id = _business(business)
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(xpm_grants.c.tenant_id).where(xpm_grants.c.business_id == business_id)
        ).scalar()
    if found is None:
        raise click.ClickException(f"business {business_id} has no grant: name the tenant with --tenant")
    return found, f"Tenant {found} of business {business_id}"


def _run_status(engine: Engine, holder: str) -> str | None:
    from classxpm.sync.tables import sync_runs

    with engine.connect() as conn:
        run = conn.execute(
            sa.select(sync_runs.c.status, sync_runs.c.started_at).where(sync_runs.c.run_id == holder)
        ).first()
    if run is None:
        return None
    return f"{run.status}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC"
