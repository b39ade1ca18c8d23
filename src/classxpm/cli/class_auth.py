"""``classxpm class-auth``: authorise, check and forget a business's Class API access.

Class issues one token per business. The authorization-code flow (partners; the consent includes MFA)
opens Class's consent page and waits for the callback; the password flow (a customer reading its own
data) signs in as the connection's user for its business code. Tokens are stored encrypted in the state
database and never printed.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from classxpm.airflow.connections import CLASS_API_CONN_ID, STATE_CONN_ID
from classxpm.errors import ClassXpmError

if TYPE_CHECKING:
    from classxpm.source.class_api.auth import ClassTokens
    from classxpm.source.class_api.source import ClassApiSource
    from classxpm.state.class_grants import ClassGrantStore

AUTHORISED = "Class API authorised"

business_option = click.option(
    "--business", default=None, help="The pipeline's id for the business (default: Class's business code)."
)
state_db_option = click.option(
    "--state-db", help=f"State database URL (default: the {STATE_CONN_ID} connection)."
)
conn_option = click.option(
    "--conn", "conn_id", default=CLASS_API_CONN_ID, show_default=True, help="Class API connection id."
)


@click.group(name="class-auth")
def class_auth() -> None:
    """Authorise, check or forget the Class API access of a business."""


@class_auth.command()
@business_option
@click.option(
    "--business-code", help="Fix the Class business (target:b/<code>) instead of picking it in Class."
)
@click.option("--no-browser", is_flag=True, help="Print the authorize URL instead of opening a browser.")
@click.option("--port", type=int, default=None, help="Local callback port (default: the redirect URI's).")
@click.option(
    "--listen-host", default="127.0.0.1", show_default=True, help="Address the callback server listens on."
)
@click.option(
    "--timeout", type=float, default=300.0, show_default=True, help="Seconds to wait for the callback."
)
@state_db_option
@conn_option
def login(
    *,
    business: str | None,
    business_code: str | None,
    no_browser: bool,
    port: int | None,
    listen_host: str,
    timeout: float,
    state_db: str | None,
    conn_id: str,
) -> None:
    """Authorise the Class API for one business and store its tokens (encrypted)."""
    with _source_and_store(conn_id, state_db) as (source, store):
        config = source.config
        if config.flow == "password":
            tokens = source.identity.password_grant()
        else:
            tokens = _code_flow(
                source, business_code, no_browser=no_browser, port=port, host=listen_host, timeout=timeout
            )
        business_id = business or tokens.business_code
        store.save(business_id, config.flow, tokens)
    refresh = "with a refresh token" if tokens.refresh_token else "without a refresh token: it signs in again"
    click.echo(
        f"{AUTHORISED} for {tokens.business_name or tokens.business_code} ({tokens.business_code}), {refresh}"
    )
    click.echo(f"  business id in this pipeline: {business_id}")


def _code_flow(
    source: ClassApiSource,
    business_code: str | None,
    *,
    no_browser: bool,
    port: int | None,
    host: str,
    timeout: float,
) -> ClassTokens:
    from classxpm.source.class_api.auth import authorization_request
    from classxpm.xpm.auth import code_from_callback
    from classxpm.xpm.callback import CallbackServer

    config = source.config
    server = CallbackServer(config.redirect_uri, config.redirect_port if port is None else port, host=host)
    with server:
        request = authorization_request(config.with_redirect_port(server.port), business_code)
        click.echo(f"Open this URL to authorise: {request.url}")
        if not no_browser:
            webbrowser.open(request.url)
        callback = server.wait_for_callback(timeout)
    return source.identity.exchange_code(request, code_from_callback(request, callback))


@class_auth.command()
@business_option
@state_db_option
def status(business: str | None, state_db: str | None) -> None:
    """Show whether a business's Class API access is authorised, and until when."""
    with _store(state_db) as store:
        grant = store.get(_business(store, business))
    if grant is None:
        click.echo("Class API not authorised")
        raise SystemExit(1)
    if grant.invalid_reason:
        click.echo(f"Class API access refused: {grant.invalid_reason}. Run classxpm class-auth login again.")
        raise SystemExit(1)
    tokens = grant.tokens
    click.echo(AUTHORISED)
    click.echo(f"  business: {tokens.business_name or '-'} ({tokens.business_code}), id {grant.business_id}")
    click.echo(f"  flow: {grant.flow}; scopes: {tokens.scope}")
    click.echo(
        f"  access token until {tokens.expires_at:%Y-%m-%d %H:%M} UTC; refresh token: "
        f"{'held (single-use, rotated)' if tokens.refresh_token else 'none (signs in again)'}"
    )


@class_auth.command()
@business_option
@state_db_option
def unlink(business: str | None, state_db: str | None) -> None:
    """Forget a business's Class tokens (Class has no revocation endpoint: revoke in Class too)."""
    with _store(state_db) as store:
        business_id = _business(store, business)
        if not store.discard(business_id):
            raise click.ClickException(f"Class API not authorised for business {business_id}")
    click.echo(f"Forgot the Class tokens of business {business_id}.")
    click.echo(
        "Class has no revocation endpoint: revoke the app under Business > Partner Application Access."
    )


def _business(store: ClassGrantStore, business: str | None) -> str:
    if business:
        return business
    names = store.business_names()
    if len(names) != 1:
        raise click.UsageError(f"{len(names)} businesses have Class API access: say which with --business")
    return next(iter(names))


@contextmanager
def _store(state_db: str | None) -> Iterator[ClassGrantStore]:
    from classxpm.airflow.resources import engine
    from classxpm.state.class_grants import ClassGrantStore
    from classxpm.state.crypto import load_cipher

    with engine(STATE_CONN_ID, state_db) as state:
        yield ClassGrantStore(state, load_cipher())


@contextmanager
def _source_and_store(conn_id: str, state_db: str | None) -> Iterator[tuple]:
    from classxpm.airflow.resources import class_api_source

    try:
        source = class_api_source(conn_id)
        try:
            with _store(state_db) as store:
                yield source, store
        finally:
            source.close()
    except ClassXpmError as exc:
        raise click.ClickException(str(exc)) from None
