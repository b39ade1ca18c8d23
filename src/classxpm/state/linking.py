"""Linking a Class business to one XPM tenant: finish a login, unlink, report status, keep grants alive.

One XPM account per Class business: authorising a second tenant for the same business deletes the first
tenant's connection and discards its grant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from classxpm import errors
from classxpm.state.tokens import Grant, StoredTokenSource, TokenStore
from classxpm.xpm.api import PRACTICE_MANAGER, XeroConnection, XpmApi
from classxpm.xpm.auth import TokenSet
from classxpm.xpm.errors import (
    NOT_AUTHORISED_MESSAGE,
    REAUTHORISE_MESSAGE,
    ConfigurationError,
    NotAuthorised,
    Reauthorise,
    Retriable,
)
from classxpm.xpm.session import XpmSession

AUTHORISED_MESSAGE = "Xero Integration Authorised"
WARN_DAYS = 7

Chooser = Callable[[Sequence[XeroConnection]], XeroConnection]
Confirmer = Callable[[Grant, XeroConnection], bool]
"""Asked before a login replaces the business's XPM account with another: True goes ahead."""


@dataclass(frozen=True)
class LinkResult:
    """What a login linked, and what it replaced; ``declined`` when the user kept the account it had."""

    tenant: XeroConnection
    replaced_tenant: str | None = None
    replaced_connection_deleted: bool = False
    declined: bool = False


def _go_ahead(_previous: Grant, _chosen: XeroConnection) -> bool:
    return True


def pick_tenant(connections: Sequence[XeroConnection], wanted: str | None, ask: Chooser) -> XeroConnection:
    """Pick the Practice Manager tenant: by name or id when ``wanted``, the only one, or by asking.

    Raises:
        ConfigurationError: No Practice Manager tenant, or none matching ``wanted``.
    """
    practices = [item for item in connections if item.tenant_type == PRACTICE_MANAGER]
    if not practices:
        raise ConfigurationError("the authorisation connected no Practice Manager (PRACTICEMANAGER) tenant")
    if wanted:
        matches = [item for item in practices if _matches(wanted, item)]
        if len(matches) != 1:
            names = ", ".join(item.label for item in practices)
            raise ConfigurationError(f"no single Practice Manager tenant matches {wanted!r} (found: {names})")
        return matches[0]
    return practices[0] if len(practices) == 1 else ask(practices)


def _matches(wanted: str, connection: XeroConnection) -> bool:
    return wanted == connection.tenant_id or wanted.casefold() == connection.label.casefold()


def complete_login(
    session: XpmSession,
    store: TokenStore,
    business_id: str,
    tokens: TokenSet,
    choose: Chooser,
    *,
    confirm: Confirmer = _go_ahead,
) -> LinkResult:
    """Bind the new tokens to the chosen tenant and store them, replacing another tenant's grant.

    Replacing the business's XPM account needs ``confirm``: the business's next sync resets its links to
    the previous account's clients. When it says no, nothing is stored or changed: the new tokens are
    dropped and the business stays on the account it had.
    """
    api = session.api_for_tokens(tokens)
    connections = api.connections()
    chosen = choose(connections)
    previous = store.get(business_id)
    result = LinkResult(chosen)
    if previous is not None and previous.tenant_id != chosen.tenant_id:
        if not confirm(previous, chosen):
            return LinkResult(chosen, previous.tenant_name or previous.tenant_id, declined=True)
        deleted = _delete_previous_connection(session, store, api, previous, connections)
        result = LinkResult(chosen, previous.tenant_name or previous.tenant_id, deleted)
    store.save(business_id, tokens.for_tenant(chosen.tenant_id), chosen.tenant_name, chosen.id)
    return result


def _delete_previous_connection(
    session: XpmSession,
    store: TokenStore,
    api: XpmApi,
    previous: Grant,
    connections: Sequence[XeroConnection],
) -> bool:
    if not previous.connection_id:
        return False
    if previous.connection_id in {item.id for item in connections}:
        return api.delete_connection(previous.connection_id)
    try:
        return _stored_api(session, store, previous.business_id).delete_connection(previous.connection_id)
    except (Reauthorise, NotAuthorised):
        return False


def _stored_api(session: XpmSession, store: TokenStore, business_id: str) -> XpmApi:
    return session.api(StoredTokenSource(store, business_id, session.identity, session.clock))


def unlink(session: XpmSession, store: TokenStore, business_id: str) -> Grant:
    """Delete the tenant connection, revoke the grant and forget it; return the grant that was removed.

    A grant Xero already refused is only forgotten (there is nothing left to delete or revoke).

    Raises:
        NotAuthorised: The business has no grant.
    """
    grant = store.require_any(business_id)
    if grant.invalid_reason is None:
        if grant.connection_id:
            _stored_api(session, store, business_id).delete_connection(grant.connection_id)
        session.identity.revoke(store.require(business_id).tokens.refresh_token)
    store.discard(business_id)
    return grant


def status_lines(store: TokenStore, business_id: str, now: datetime) -> list[str]:
    """Return the status report: the headline, then tenant, access-token expiry and days left."""
    grant = store.get(business_id)
    if grant is None:
        return [NOT_AUTHORISED_MESSAGE]
    expired = grant.invalid_reason is not None or grant.days_left(now) == 0
    headline = REAUTHORISE_MESSAGE if expired else AUTHORISED_MESSAGE
    return [
        headline,
        f"Tenant: {grant.tenant_name or '-'} ({grant.tenant_id})",
        f"Access token expires: {grant.tokens.expires_at.isoformat(timespec='seconds')}",
        f"Days left before the 60-day idle expiry: {grant.days_left(now)}",
    ]


@dataclass(frozen=True)
class GrantProblem:
    """A grant that needs attention: refused by Xero, or close to the idle expiry."""

    business_id: str
    days_left: int
    reason: str

    def __str__(self) -> str:
        days = f"{self.days_left} days left before the 60-day expiry"
        return f"business {self.business_id}: {self.reason} ({days})"


class GrantsNeedAttention(errors.Retriable):
    """At least one linked grant is invalid or within a week of expiring."""

    def __init__(self, problems: Sequence[GrantProblem]) -> None:
        super().__init__(f"{len(problems)} XPM grant(s) need attention: " + "; ".join(map(str, problems)))
        self.problems = tuple(problems)

    @property
    def needs_person(self) -> bool:
        """True when every problem is a refused grant (retrying cannot help)."""
        return all(problem.days_left == 0 for problem in self.problems)


def refresh_grants(session: XpmSession, store: TokenStore, now: Callable[[], datetime]) -> list[str]:
    """Refresh every linked grant so none idles to expiry; return the refreshed business ids.

    Raises:
        GrantsNeedAttention: A grant is invalid, or could not be refreshed and expires within 7 days.
    """
    refreshed, problems = [], []
    for business_id in store.business_ids():
        problem = _refresh_one(session, store, business_id, now)
        if problem is None:
            refreshed.append(business_id)
        else:
            problems.append(problem)
    if problems:
        raise GrantsNeedAttention(problems)
    return refreshed


def _refresh_one(
    session: XpmSession, store: TokenStore, business_id: str, now: Callable[[], datetime]
) -> GrantProblem | None:
    try:
        store.refresh(business_id, session.identity)
    except Reauthorise:
        return GrantProblem(business_id, 0, REAUTHORISE_MESSAGE)
    except Retriable as exc:
        days = store.require_any(business_id).days_left(now())
        return GrantProblem(business_id, days, f"refresh failed ({exc})") if days <= WARN_DAYS else None
    days = store.require(business_id).days_left(now())
    return GrantProblem(business_id, days, "expires soon") if days <= WARN_DAYS else None
