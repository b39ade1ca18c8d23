"""OAuth 2.0 for XPM: the token as a small state object, the PKCE authorization request and the token calls.

authlib builds the protocol messages (authorize URL, PKCE challenge, token request bodies); the HTTP goes
through one httpx client with a timeout, classified by ``errors.classify`` and retried by the RetryPolicy.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from classxpm.xpm.config import XpmConfig
from classxpm.xpm.errors import (
    ConfigurationError,
    Reauthorise,
    ResponseFormatError,
    classify,
    classify_transport_error,
)
from classxpm.xpm.retry import RetryPolicy

log = logging.getLogger(__name__)

"""Access tokens are refreshed this long before they expire, so no call races the expiry."""

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time in UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenSet:
    """One grant's tokens and what they are for. Token values never appear in repr."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    scope: str = ""
    auth_event_id: str | None = None
    tenant_id: str | None = None

    def expires_within(self, margin: timedelta, now: datetime) -> bool:
        """True when the access token expires within ``margin`` of ``now``."""
        return self.expires_at - margin <= now

    def for_tenant(self, tenant_id: str) -> TokenSet:
        """Return a copy bound to ``tenant_id``."""
        return replace(self, tenant_id=tenant_id)


def token_set_from(payload: Mapping[str, Any], now: datetime, tenant_id: str | None = None) -> TokenSet:
    """Read a token endpoint response.

    Raises:
        ResponseFormatError: The body is not a JSON object, a field is missing (no refresh token means
            offline_access was not granted) or has the wrong type.
    """
    if not isinstance(payload, Mapping):
        raise ResponseFormatError("the token response is not a JSON object")
    try:
        access, refresh, lifetime = payload["access_token"], payload["refresh_token"], payload["expires_in"]
    except KeyError as missing:
        raise ResponseFormatError(f"the token response has no {missing.args[0]}") from None
    if not (isinstance(access, str) and access and isinstance(refresh, str) and refresh):
        raise ResponseFormatError("the token response's tokens are not non-empty strings")
    if isinstance(lifetime, bool) or not str(lifetime).isdigit():
        raise ResponseFormatError("the token response's expires_in is not a whole number of seconds")
    return TokenSet(
        access_token=access,
        refresh_token=refresh,
        expires_at=now + timedelta(seconds=int(lifetime)),
        scope=str(payload.get("scope", "")),
        auth_event_id=auth_event_id(access),
        tenant_id=tenant_id,
    )


def auth_event_id(access_token: str) -> str | None:
    """Read the ``authentication_event_id`` claim of a JWT access token without verifying it."""
    parts = access_token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class AuthorizationRequest:
    """An authorize URL with its CSRF ``state`` and PKCE verifier, kept to check and finish the callback."""

    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str


def authorization_request(config: XpmConfig) -> AuthorizationRequest:
    """Build the authorize URL with PKCE (S256) and a fresh random ``state``."""
    state, verifier = generate_token(32), generate_token(64)
    url = prepare_grant_uri(
        config.authorize_url,
        client_id=config.client_id,
        response_type="code",
        redirect_uri=config.redirect_uri,
        scope=config.scopes,
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return AuthorizationRequest(url, state, verifier, config.redirect_uri)


class _WithState(Protocol):
    @property
    def state(self) -> str: ...


def code_from_callback(request: _WithState, callback_url: str) -> str:
    """Check the callback's ``state`` against the request's and return its authorization code.

    Serves both OAuth clients (Xero's and Class's): only the request's ``state`` is read.

    Raises:
        ConfigurationError: The user declined, the state does not match, or no code came back.
    """
    query = {key: values[0] for key, values in parse_qs(urlsplit(callback_url).query).items()}
    if "error" in query:
        raise ConfigurationError(f"authorisation was not granted ({query['error']})")
    if query.get("state") != request.state:
        raise ConfigurationError("the callback's state does not match this login: start again")
    if not query.get("code"):
        raise ConfigurationError("the callback carries no authorization code")
    return query["code"]


class TokenSource(Protocol):
    """Where the transport gets a valid access token (a stored grant, or one held in memory)."""

    @property
    def tenant_id(self) -> str | None:
        """The tenant calls act on (the ``xero-tenant-id`` header)."""

    def access_token(self) -> str:
        """Return an access token that is valid for a few more minutes, refreshing it first if needed."""

    def refreshed_after_rejection(self, rejected: str) -> str:
        """Return a new access token after XPM answered 401 to ``rejected``."""


class IdentityClient:
    """The token endpoint calls of Xero Identity: code exchange, refresh and revocation."""

    def __init__(
        self, config: XpmConfig, http: httpx.Client, policy: RetryPolicy, clock: Clock = utcnow
    ) -> None:
        self._config = config
        self._http = http
        self._policy = policy
        self._clock = clock

    @property
    def refresh_margin(self) -> timedelta:
        """How long before expiry an access token is refreshed."""
        return timedelta(seconds=self._config.refresh_margin_seconds)

    def exchange_code(self, request: AuthorizationRequest, code: str) -> TokenSet:
        """Exchange an authorization code (with the PKCE verifier) for a token set."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": request.redirect_uri,
            "code_verifier": request.code_verifier,
        }
        return token_set_from(self._post_token(form, idempotent=False), self._clock())

    def refresh(self, refresh_token: str, tenant_id: str | None = None) -> TokenSet:
        """Trade a refresh token for a new token set (the refresh token rotates).

        Raises:
            Reauthorise: The refresh token is expired, revoked or already rotated (invalid_grant).
        """
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return token_set_from(self._post_token(form, idempotent=True), self._clock(), tenant_id)

    def check_client_credentials(self) -> None:
        """Prove the client id and secret by offering a dummy refresh token: Xero must refuse the grant.

        Raises:
            ConfigurationError: Xero refused the client credentials (invalid_client).
        """
        form = {"grant_type": "refresh_token", "refresh_token": "classxpm-connection-test"}
        try:
            self._post_token(form, idempotent=True)
        except Reauthorise:
            return
        raise ConfigurationError("the token endpoint accepted a dummy refresh token: is token_url right?")

    def revoke(self, refresh_token: str) -> None:
        """Revoke the grant: Xero removes every tenant connection it holds."""
        send = lambda: self._send(self._config.revocation_url, {"token": refresh_token})  # noqa: E731
        self._policy.run(send, idempotent=True, what="token revocation")

    def _post_token(self, form: dict[str, str], *, idempotent: bool) -> dict[str, Any]:
        send = lambda: self._send(self._config.token_url, form)  # noqa: E731
        response = self._policy.run(send, idempotent=idempotent, what=f"token request ({form['grant_type']})")
        try:
            return response.json()
        except ValueError:
            raise ResponseFormatError("the token endpoint answered with something other than JSON") from None

    def _send(self, url: str, form: dict[str, str]) -> httpx.Response:
        auth = httpx.BasicAuth(self._config.client_id, self._config.client_secret)
        try:
            response = self._http.post(url, data=form, auth=auth, timeout=self._config.timeout_seconds)
        except httpx.TransportError as exc:
            raise classify_transport_error(exc) from None
        log.debug("POST %s -> HTTP %d", urlsplit(url).path, response.status_code)
        if error := classify(response):
            raise error
        return response


class MemoryTokenSource:
    """A token set held in memory and refreshed in place: for the login flow and one-off scripts."""

    def __init__(self, identity: IdentityClient, tokens: TokenSet, clock: Clock = utcnow) -> None:
        self._identity = identity
        self.tokens = tokens
        self._clock = clock

    @property
    def tenant_id(self) -> str | None:
        """The tenant bound to the token set, if any."""
        return self.tokens.tenant_id

    def access_token(self) -> str:
        """Return the access token, refreshing it when it is about to expire."""
        if self.tokens.expires_within(self._identity.refresh_margin, self._clock()):
            self.tokens = self._identity.refresh(self.tokens.refresh_token, self.tokens.tenant_id)
        return self.tokens.access_token

    def refreshed_after_rejection(self, rejected: str) -> str:
        """Refresh once after a 401 (unless a refresh already replaced the rejected token)."""
        if self.tokens.access_token == rejected:
            self.tokens = self._identity.refresh(self.tokens.refresh_token, self.tokens.tenant_id)
        return self.tokens.access_token
