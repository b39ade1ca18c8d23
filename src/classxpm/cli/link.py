"""``classxpm link``: answer a fund that needs review, by linking it to an XPM client or creating one.

Without an action it lists the fund's candidate XPM clients (name, ExportCode, ABN, archived or deleted,
launch link) as the sync last read XPM. The choice is kept in the state database (``sync/choices.py``)
and every later run follows it. A choice that cannot be made (an unknown business, fund or client, a client
of another XPM account, conflicting flags) names what was wrong, exits with status 2 and writes nothing.
"""

from __future__ import annotations

import click

from classxpm.cli.auth import _business, business_option, state_db_option
from classxpm.cli.lease import _state
from classxpm.errors import Fatal


class Refused(Fatal, click.ClickException):
    """The choice was not made: the message says why. Exit status 2, as for a usage error."""

    exit_code = 2


@click.command()
@business_option
@click.option("--fund", "scope_code", required=True, help="The fund's scope code.")
@click.option("--client", "client_uuid", default=None, help="Link the fund to this XPM client (its UUID).")
@click.option("--create", is_flag=True, help="Have the next run create a new client for the fund.")
@click.option("--unlink", is_flag=True, help="Forget the fund's link and choice: the next run matches it.")
@state_db_option
def link(
    *,
    business: str | None,
    scope_code: str,
    client_uuid: str | None,
    create: bool,
    unlink: bool,
    state_db: str | None,
) -> None:
    """List a fund's candidate XPM clients, or link it to one, create a new one, or unlink it."""
    from classxpm.sync import choices

    if sum((bool(client_uuid), create, unlink)) > 1:
        raise click.UsageError("choose one of --client, --create and --unlink")
    with _state(state_db) as engine:
        try:
            fund = choices.find_fund(engine, _business(business), scope_code)
            _act(engine, fund, client_uuid or "", create=create, unlink=unlink)
        except choices.ChoiceError as exc:
            raise Refused(str(exc)) from exc


def _act(engine, fund, client_uuid: str, *, create: bool, unlink: bool) -> None:
    from classxpm.sync import choices
    from classxpm.xpm.auth import utcnow

    choice = choices.LINK if client_uuid else choices.CREATE if create else choices.UNLINK if unlink else ""
    if choice:
        click.echo(choices.answer(engine, fund, choice, utcnow(), client_uuid))
    else:
        _list(fund, _candidates(engine, fund))


def _candidates(engine, fund):
    from classxpm.sync.candidates import review_candidates

    return review_candidates(
        engine, {"scope_code": fund.scope_code, "fund_name": fund.fund_name, "tenant_id": fund.tenant_id}
    )


def _list(fund, candidates) -> None:
    linked = f"linked to {fund.client_uuid}" if fund.client_uuid else "not linked"
    click.echo(f"Fund {fund.scope_code} ({fund.fund_name}): {linked}; last status {fund.last_status or '-'}")
    if fund.last_error:
        click.echo(f"  {fund.last_error}")
    if not candidates:
        click.echo("No XPM client holds its code or name, as the sync last read XPM.")
        return
    click.echo("Candidate XPM clients (UUID, name, ExportCode, ABN, archived?, launch link):")
    for c in candidates:
        state = c.retired or "live"
        click.echo(
            f"  {c.uuid}  {c.name}  {c.export_code or '-'}  {c.business_number or '-'}  {state}  "
            f"{c.web_url or '-'}"
        )
