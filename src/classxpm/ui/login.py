"""The browser side of an authorisation: what must survive from Authorise to the callback, sealed.

The authorize request (CSRF state, PKCE verifier) and, when the user must pick a tenant, the new token
set travel in short-lived HttpOnly cookies encrypted with the state database's Fernet key, so any API
server worker can finish the login and nothing readable is left in the browser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from classxpm.state.crypto import TokenCipher
from classxpm.xpm.api import PRACTICE_MANAGER, XeroConnection
from classxpm.xpm.auth import AuthorizationRequest, TokenSet
from classxpm.xpm.errors import ConfigurationError

LOGIN_COOKIE = "classxpm_login"
CHOICE_COOKIE = "classxpm_choice"
LIFETIME = timedelta(minutes=10)
_EXPIRED = "this authorisation was started more than 10 minutes ago or in another browser: start again"


@dataclass(frozen=True)
class PendingLogin:
    """An authorisation on its way to Xero and back."""

    business_id: str
    request: AuthorizationRequest
    started_at: datetime


@dataclass(frozen=True)
class PendingChoice:
    """A finished code exchange waiting for the user to pick the XPM account."""

    business_id: str
    tokens: TokenSet
    started_at: datetime


def seal_login(cipher: TokenCipher, login: PendingLogin) -> str:
    """The cookie value of a pending login."""
    request = login.request
    fields = {"state": request.state, "verifier": request.code_verifier, "redirect_uri": request.redirect_uri}
    return _seal(cipher, login.business_id, login.started_at, fields)


def open_login(cipher: TokenCipher, sealed: str | None, now: datetime) -> PendingLogin:
    """Read a pending login back.

    Raises:
        ConfigurationError: No cookie, not ours, or older than ten minutes.
    """
    business_id, started_at, fields = _open(cipher, sealed, now)
    request = AuthorizationRequest("", fields["state"], fields["verifier"], fields["redirect_uri"])
    return PendingLogin(business_id, request, started_at)


def seal_choice(cipher: TokenCipher, choice: PendingChoice) -> str:
    """The cookie value of a token set waiting for the tenant choice."""
    tokens = choice.tokens
    fields = {
        "access": tokens.access_token,
        "refresh": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat(),
        "scope": tokens.scope,
        "auth_event_id": tokens.auth_event_id,
    }
    return _seal(cipher, choice.business_id, choice.started_at, fields)


def open_choice(cipher: TokenCipher, sealed: str | None, now: datetime) -> PendingChoice:
    """Read a pending tenant choice back.

    Raises:
        ConfigurationError: No cookie, not ours, or older than ten minutes.
    """
    business_id, started_at, fields = _open(cipher, sealed, now)
    tokens = TokenSet(
        access_token=fields["access"],
        refresh_token=fields["refresh"],
        expires_at=datetime.fromisoformat(fields["expires_at"]),
        scope=fields["scope"],
        auth_event_id=fields["auth_event_id"],
    )
    return PendingChoice(business_id, tokens, started_at)


def _seal(cipher: TokenCipher, business_id: str, started_at: datetime, fields: dict) -> str:
    return cipher.encrypt(json.dumps({"business": business_id, "at": started_at.isoformat(), **fields}))


def _open(cipher: TokenCipher, sealed: str | None, now: datetime) -> tuple[str, datetime, dict]:
    if not sealed:
        raise ConfigurationError(_EXPIRED)
    try:
        fields = json.loads(cipher.decrypt(sealed))
    except (ConfigurationError, ValueError):
        raise ConfigurationError(_EXPIRED) from None
    started_at = datetime.fromisoformat(fields.pop("at"))
    if now - started_at > LIFETIME:
        raise ConfigurationError(_EXPIRED)
    return fields.pop("business"), started_at, fields


def candidates(connections: Sequence[XeroConnection], tokens: TokenSet) -> list[XeroConnection]:
    """The Practice Manager accounts this login may link: those it just connected, else every one.

    Xero lists every tenant the user ever connected to the app; the ones connected by this very login
    carry its authentication event id, so a user who picked one account on Xero's screen is not asked again.
    """
    practices = [item for item in connections if item.tenant_type == PRACTICE_MANAGER]
    fresh = [
        item for item in practices if tokens.auth_event_id and item.auth_event_id == tokens.auth_event_id
    ]
    return fresh or practices
