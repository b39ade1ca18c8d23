"""OAuth 2.0 at Class's identity service: the authorize request, and the code, refresh and password grants.

authlib builds the protocol messages; the HTTP goes through one httpx client, classified by
``errors.classify`` and retried by the shared ``RetryPolicy``. Each token is for one business, which
Class names in the non-standard ``BusinessCode`` field of the token response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request

from classxpm.source.class_api.config import ClassApiConfig
from classxpm.source.class_api.errors import classify
from classxpm.xpm.auth import Clock, utcnow
from classxpm.xpm.errors import ConfigurationError, ResponseFormatError, classify_transport_error
from classxpm.xpm.retry import RetryPolicy

REFRESH_MARGIN = timedelta(minutes=2)
"""Class's access tokens last 15 minutes: refresh this long before, so no call races the expiry."""


@dataclass(frozen=True)
class ClassTokens:
    """One business's tokens. The password flow may give no refresh token. Values never show in repr."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    scope: str
    business_code: str
    business_name: str = ""

    def expires_within(self, margin: timedelta, now: datetime) -> bool:
        """True when the access token expires within ``margin`` of ``now``."""
        return self.expires_at - margin <= now


def tokens_from(payload: Any, now: datetime) -> ClassTokens:
    """Read a Class token response (``expires_in`` is a string there; ``BusinessCode`` names the business).

    Raises:
        ResponseFormatError: A field is missing or has the wrong type (no value is shown).
    """
    if not isinstance(payload, Mapping):
        raise ResponseFormatError("Class's token response is not a JSON object")
    access, refresh, lifetime = (
        payload.get("access_token"),
        payload.get("refresh_token"),
        payload.get("expires_in"),
    )
    business = payload.get("BusinessCode")
    if not (isinstance(access, str) and access and isinstance(business, str) and business):
        raise ResponseFormatError("Class's token response lacks access_token or BusinessCode")
    if refresh is not None and not (isinstance(refresh, str) and refresh):
        raise ResponseFormatError("Class's token response has a refresh_token that is not a string")
    if isinstance(lifetime, bool) or not str(lifetime).isdigit():
        raise ResponseFormatError("Class's token response's expires_in is not a whole number of seconds")
    return ClassTokens(
        access,
        refresh,
        now + timedelta(seconds=int(lifetime)),
        str(payload.get("scope", "")),
        business,
        str(payload.get("BusinessName") or ""),
    )


@dataclass(frozen=True)
class ClassAuthorization:
    """An authorize URL and its random ``state`` (Class mandates one; no PKCE is documented)."""

    url: str
    state: str = field(repr=False)
    redirect_uri: str


def authorization_request(config: ClassApiConfig, business_code: str | None = None) -> ClassAuthorization:
    """The authorize URL; ``target:b`` lets the user pick the business unless ``business_code`` fixes it."""
    scopes = config.requested_scopes
    if business_code:
        scopes = " ".join(f"target:b/{business_code}" if s == "target:b" else s for s in scopes.split())
    state = generate_token(32)
    url = prepare_grant_uri(
        config.authorize_url,
        client_id=config.client_id,
        response_type="code",
        redirect_uri=config.redirect_uri,
        scope=scopes,
        state=state,
    )
    return ClassAuthorization(url, state, config.redirect_uri)


class ClassIdentity:
    """The token endpoint: code exchange, refresh (single-use, rotating) and the password grant."""

    def __init__(
        self, config: ClassApiConfig, http: httpx.Client, policy: RetryPolicy, clock: Clock = utcnow
    ) -> None:
        self.config = config
        self._http = http
        self._policy = policy
        self._clock = clock

    def exchange_code(self, request: ClassAuthorization, code: str) -> ClassTokens:
        """Trade an authorization code for a business's tokens."""
        body = prepare_token_request("authorization_code", code=code, redirect_uri=request.redirect_uri)
        return self._post(body, "authorization_code", idempotent=False)

    def refresh(self, refresh_token: str) -> ClassTokens:
        """Trade a refresh token (single-use) for a new pair.

        Raises:
            Reauthorise: Class refused it (used, expired or revoked: invalid_grant).
        """
        body = prepare_token_request("refresh_token", refresh_token=refresh_token)
        return self._post(body, "refresh_token", idempotent=True)

    def password_grant(self) -> ClassTokens:
        """Sign in as the configured user for the configured business (a customer reading its own data).

        Raises:
            ConfigurationError: The connection has no user password.
            Reauthorise: Class refused the user or password.
        """
        if not self.config.user_password:
            raise ConfigurationError("the class_api password flow needs the user_password extra")
        body = prepare_token_request(
            "password",
            username=self.config.username,
            password=self.config.user_password,
            scope=self.config.requested_scopes,
        )
        return self._post(body, "password", idempotent=True)

    def _post(self, body: str, grant: str, *, idempotent: bool) -> ClassTokens:
        response = self._policy.run(
            lambda: self._send(body), idempotent=idempotent, what=f"Class token ({grant})"
        )
        try:
            payload = response.json()
        except ValueError:
            raise ResponseFormatError(
                "Class's token endpoint answered with something other than JSON"
            ) from None
        return tokens_from(payload, self._clock())

    def _send(self, body: str) -> httpx.Response:
        auth = httpx.BasicAuth(self.config.client_id, self.config.client_secret)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        try:
            response = self._http.post(self.config.token_url, content=body, headers=headers, auth=auth)
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, "Class") from None
        if error := classify(response):
            raise error
        return response
