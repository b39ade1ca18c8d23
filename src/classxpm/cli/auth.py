"""``classxpm auth``: authorise, check and unlink the business's XPM connection."""

from __future__ import annotations

import webbrowser
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from classxpm.airflow.connections import STATE_CONN_ID, XPM_CONN_ID
from classxpm.errors import ClassXpmError
from classxpm.xpm.api import XeroConnection
from classxpm.xpm.errors import NotAuthorised

if TYPE_CHECKING:
    from classxpm.state.tokens import Grant, TokenStore

business_option = click.option(
    "--business",
    default=None,
    help="Class business id (default: the one business in the class_db connection).",
)
state_db_option = click.option(
    "--state-db", help=f"State database URL (default: the {STATE_CONN_ID} connection)."
)
conn_option = click.option(
    "--conn", "conn_id", default=XPM_CONN_ID, show_default=True, help="XPM connection id."
)


@dataclass(frozen=True)
class Settings:
    """Where the CLI finds XPM and the state database."""

    conn_id: str
    state_db: str | None


@click.group()
def auth() -> None:
    """Authorise, check or unlink the Xero Practice Manager integration."""


@auth.command()
@business_option
@click.option("--no-browser", is_flag=True, help="Print the authorize URL instead of opening a browser.")
@click.option(
    "--port", type=int, default=None, help="Local callback port (default: the redirect URI's; 0 = any)."
)
@click.option(
    "--listen-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the callback server listens on: 0.0.0.0 in a container whose port is published.",
)
@click.option("--tenant", help="Practice Manager tenant name or id to link, when the login connects several.")
@click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for the callback."
)
@click.option(
    "--yes",
    is_flag=True,
    help="Replace the business's XPM account without asking, when the login picks another one.",
)
@state_db_option
@conn_option
def login(
    *,
    business: str,
    no_browser: bool,
    port: int | None,
    listen_host: str,
    tenant: str | None,
    timeout: float,
    yes: bool,
    state_db: str | None,
    conn_id: str,
) -> None:
    """Authorise the integration for a Class business (authorization code + PKCE).

    One XPM account per business: choosing another account than the business has asks first (unless
    ``--yes``), since the next sync then links or creates every fund in the new account.
    """
    from classxpm.state.linking import complete_login, pick_tenant
    from classxpm.xpm.auth import authorization_request, code_from_callback
    from classxpm.xpm.callback import CallbackServer

    business = _business(business)
    with _session_and_store(Settings(conn_id, state_db)) as (session, store):
        config = session.config
        server = CallbackServer(
            config.redirect_uri, config.redirect_port if port is None else port, host=listen_host
        )
        with server:
            request = authorization_request(config.with_redirect_port(server.port))
            click.echo(f"Open this URL to authorise: {request.url}")
            if not no_browser:
                webbrowser.open(request.url)
            callback = server.wait_for_callback(timeout)
        tokens = session.identity.exchange_code(request, code_from_callback(request, callback))
        result = complete_login(
            session,
            store,
            business,
            tokens,
            lambda found: pick_tenant(found, tenant, _ask),
            confirm=lambda previous, chosen: yes or _confirm_replace(store, previous, chosen),
        )
    if result.declined:
        raise click.ClickException(
            f"Nothing changed: business {business} stays connected to {result.replaced_tenant}. The new "
            f"login's access to {result.tenant.label} was not stored; disconnect it in Xero if unwanted."
        )
    if result.replaced_tenant:
        action = (
            "its connection was deleted" if result.replaced_connection_deleted else "its connection was gone"
        )
        click.echo(f"Replaced {result.replaced_tenant}: {action} and its grant discarded.")
    click.echo(f"Xero Integration Authorised ({result.tenant.label})")


def _confirm_replace(store: TokenStore, previous: Grant, chosen: XeroConnection) -> bool:
    from classxpm.sync.links import linked_to

    old = previous.tenant_name or previous.tenant_id
    funds = linked_to(store.engine, previous.business_id, previous.tenant_id)
    click.echo(
        f"Business {previous.business_id} is connected to {old}, where {funds} funds are linked. Connecting "
        f"{chosen.label} instead disconnects {old}: the next sync resets those links and links or creates "
        f"every fund in {chosen.label}. Nothing more is written to {old}."
    )
    return click.confirm(f"Connect {chosen.label} instead of {old}?", default=False)


def _ask(connections: Sequence[XeroConnection]) -> XeroConnection:
    for number, connection in enumerate(connections, start=1):
        click.echo(f"  {number}. {connection.label} ({connection.tenant_id})")
    choice = click.prompt("Which Practice Manager account?", type=click.IntRange(1, len(connections)))
    return connections[choice - 1]


@auth.command()
@business_option
@state_db_option
@conn_option
def status(business: str, state_db: str | None, conn_id: str) -> None:
    """Show whether the integration is authorised, for which tenant, and for how long."""
    from classxpm.airflow.resources import engine, token_store
    from classxpm.state.linking import AUTHORISED_MESSAGE, status_lines
    from classxpm.xpm.auth import utcnow

    with engine(STATE_CONN_ID, state_db) as state:
        lines = status_lines(token_store(state), _business(business), utcnow())
    for line in lines:
        click.echo(line)
    if lines[0] != AUTHORISED_MESSAGE:
        raise SystemExit(1)


@auth.command()
@business_option
@state_db_option
@conn_option
def unlink(business: str, state_db: str | None, conn_id: str) -> None:
    """Disconnect the tenant, revoke the grant and forget it."""
    from classxpm.state.linking import unlink as run_unlink

    with _session_and_store(Settings(conn_id, state_db)) as (session, store):
        try:
            grant = run_unlink(session, store, _business(business))
        except NotAuthorised as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"Unlinked {grant.tenant_name or grant.tenant_id}: connection deleted, grant revoked and cleared."
    )
    click.echo("Xero Integration not Authorised")


@contextmanager
def _session_and_store(settings: Settings) -> Iterator[tuple]:
    from classxpm.airflow.resources import engine, token_store, xpm_session

    try:
        with engine(STATE_CONN_ID, settings.state_db) as state, xpm_session(settings.conn_id) as session:
            yield session, token_store(state)
    except ClassXpmError as exc:
        raise click.ClickException(str(exc)) from None


def _business(business: str | None) -> str:
    """The business named, else the only business in the Class database (``class_db``)."""
    if business:
        return business
    from classxpm.airflow.resources import class_businesses

    found = list(class_businesses())
    if len(found) != 1:
        raise click.UsageError(f"class_db holds {len(found)} businesses: say which with --business")
    return found[0]
