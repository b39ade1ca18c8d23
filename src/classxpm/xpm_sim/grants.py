"""Xero OAuth 2.0 behaviour on the store: codes, grants, rotating refresh tokens, access tokens, revocation.

A grant is one user's consent to one app; each tenant the user connects through it is a connection.
Codes and refresh tokens are stored under their SHA-256, so a state dump never shows a usable token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from classxpm.errors import Fatal
from classxpm.xpm_sim import tokens
from classxpm.xpm_sim.dates import from_stamp, stamp
from classxpm.xpm_sim.runtime import Simulator
from classxpm.xpm_sim.seeding import SIGNING_KEY

ISSUER = "https://identity.xero.com"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class OAuthError(Fatal):
    """An error the token or revocation endpoint answers with ``{"error": ...}``."""

    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON body Xero sends for this error."""
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


@dataclass(frozen=True)
class Bearer:
    """A valid access token's grant and claims."""

    grant: dict[str, Any]
    claims: dict[str, Any]


class BearerError(Fatal):
    """A bearer token that does not authenticate; ``detail`` is the Xero problem detail."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def digest(token: str) -> str:
    """The key a code or refresh token is stored under."""
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate_client(sim: Simulator, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
    """Return the app whose Basic credentials (or form client_id/client_secret) are given.

    Raises:
        OAuthError: ``invalid_client`` for missing or wrong credentials.
    """
    client_id, secret = _basic_credentials(authorization) or (
        form.get("client_id"),
        form.get("client_secret"),
    )
    app = sim.store.get("apps", client_id or "")
    if app is None or secret is None or not hmac.compare_digest(app["client_secret"], secret):
        raise OAuthError("invalid_client", status=sim.config.invalid_client_status)
    return app


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id, secret


def redirect_allowed(app: dict[str, Any], redirect_uri: str) -> bool:
    """True for a registered redirect URI; with none registered, any http loopback URI with a port."""
    if app["redirect_uris"]:
        return redirect_uri in app["redirect_uris"]
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts.port is not None


def issue_code(
    sim: Simulator, app: dict[str, Any], user: dict[str, Any], tenant_id: str, params: dict
) -> str:
    """Store a single-use authorization code for this consent and return it."""
    code = tokens.opaque_token()
    now = sim.now()
    sim.store.put(
        "codes",
        digest(code),
        {
            "client_id": app["client_id"],
            "user_id": user["id"],
            "tenant_id": tenant_id,
            "redirect_uri": params["redirect_uri"],
            "scope": params.get("scope", "").split(),
            "code_challenge": params.get("code_challenge"),
            "auth_event_id": str(uuid.uuid4()),
            "expires_at": stamp(now + timedelta(seconds=sim.config.code_lifetime_seconds)),
            "used": False,
        },
    )
    return code


def exchange_code(sim: Simulator, app: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """Redeem an authorization code for a token set, connecting the consented tenant.

    Raises:
        OAuthError: ``invalid_grant`` for an unknown, used, expired or mismatched code or PKCE verifier.
    """
    with sim.store.lock:
        record = sim.store.get("codes", digest(form.get("code", "")))
        _check_code(sim, app, record, form)
        record["used"] = True
        sim.store.put("codes", digest(form["code"]), record)
        grant = _grant_for(sim, record)
        _connect(sim, grant, record["tenant_id"])
        return _token_set(sim, grant)


def _check_code(sim: Simulator, app: dict[str, Any], record: dict[str, Any] | None, form: dict) -> None:
    if record is None or record["used"] or record["client_id"] != app["client_id"]:
        raise OAuthError("invalid_grant")
    if sim.now() > from_stamp(record["expires_at"]):
        raise OAuthError("invalid_grant", "The authorization code has expired")
    if record["redirect_uri"] != form.get("redirect_uri"):
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
    challenge = record["code_challenge"]
    if challenge and tokens.pkce_challenge(form.get("code_verifier", "")) != challenge:
        raise OAuthError("invalid_grant", "Invalid code_verifier")


def _grant_for(sim: Simulator, code: dict[str, Any]) -> dict[str, Any]:
    """The user's live grant to this app, widened by the new consent, or a new one."""
    grant = next(
        (
            g
            for g in sim.store.values("grants")
            if g["client_id"] == code["client_id"] and g["user_id"] == code["user_id"] and not g["revoked"]
        ),
        None,
    )
    if grant is None:
        grant = {"id": str(uuid.uuid4()), "client_id": code["client_id"], "user_id": code["user_id"]}
        grant.update(scopes=[], revoked=False, created=stamp(sim.now()))
    elif not sim.config.reauth_keeps_old_refresh:
        _revoke_refresh_tokens(sim, grant["id"])
    grant["scopes"] += [scope for scope in code["scope"] if scope not in grant["scopes"]]
    grant["auth_event_id"] = code["auth_event_id"]
    return sim.store.put("grants", grant["id"], grant)


def _connect(sim: Simulator, grant: dict[str, Any], tenant_id: str) -> None:
    now = stamp(sim.now())
    existing = [c for c in connections_of(sim, grant["id"]) if c["tenantId"] == tenant_id]
    connection = (
        existing[0] if existing else {"id": str(uuid.uuid4()), "grant_id": grant["id"], "created": now}
    )
    connection.update(tenantId=tenant_id, authEventId=grant["auth_event_id"], updated=now)
    sim.store.put("connections", connection["id"], connection)


def connections_of(sim: Simulator, grant_id: str) -> list[dict[str, Any]]:
    """The grant's tenant connections, oldest first."""
    return [c for c in sim.store.values("connections") if c["grant_id"] == grant_id]


def refresh(sim: Simulator, app: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """Rotate a refresh token: a new token set, the old token kept usable for the grace period.

    Raises:
        OAuthError: ``invalid_grant`` for an unknown, revoked, idle-expired or long-rotated token.
    """
    with sim.store.lock:
        key = digest(form.get("refresh_token", ""))
        record = sim.store.get("refresh_tokens", key)
        grant = sim.store.get("grants", record["grant_id"]) if record else None
        if record is None or grant is None or grant["revoked"] or record["revoked"]:
            raise OAuthError("invalid_grant")
        if grant["client_id"] != app["client_id"]:
            raise OAuthError("invalid_grant")
        _check_refresh_age(sim, record)
        record["rotated_at"] = record["rotated_at"] or stamp(sim.now())
        sim.store.put("refresh_tokens", key, record)
        return _token_set(sim, grant)


def _check_refresh_age(sim: Simulator, record: dict[str, Any]) -> None:
    now = sim.now()
    if now - from_stamp(record["issued_at"]) > timedelta(seconds=sim.config.refresh_idle_seconds):
        raise OAuthError("invalid_grant", "The refresh token has expired")
    rotated = record["rotated_at"]
    if rotated and now - from_stamp(rotated) > timedelta(seconds=sim.config.refresh_grace_seconds):
        raise OAuthError("invalid_grant", "The refresh token has already been used")


def revoke(sim: Simulator, app: dict[str, Any], token: str) -> None:
    """Revoke the grant behind a refresh token: every connection and token of it goes."""
    with sim.store.lock:
        record = sim.store.get("refresh_tokens", digest(token))
        grant = sim.store.get("grants", record["grant_id"]) if record else None
        if grant is None or grant["client_id"] != app["client_id"]:
            return
        grant["revoked"] = True
        sim.store.put("grants", grant["id"], grant)
        _revoke_refresh_tokens(sim, grant["id"])
        for connection in connections_of(sim, grant["id"]):
            sim.store.delete("connections", connection["id"])


def _revoke_refresh_tokens(sim: Simulator, grant_id: str) -> None:
    for key, record in list(_refresh_records(sim, grant_id)):
        record["revoked"] = True
        sim.store.put("refresh_tokens", key, record)


def _refresh_records(sim: Simulator, grant_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(r["key"], r) for r in sim.store.values("refresh_tokens") if r["grant_id"] == grant_id]


def _token_set(sim: Simulator, grant: dict[str, Any]) -> dict[str, Any]:
    now = sim.now()
    lifetime = sim.config.access_token_lifetime_seconds
    body: dict[str, Any] = {
        "access_token": _access_token(sim, grant, now, lifetime),
        "expires_in": sim.clock.real_seconds(lifetime),
        "token_type": "Bearer",
        "scope": " ".join(grant["scopes"]),
    }
    if "offline_access" in grant["scopes"]:
        token = tokens.opaque_token()
        record = {"key": digest(token), "grant_id": grant["id"], "issued_at": stamp(now), "rotated_at": None}
        sim.store.put("refresh_tokens", record["key"], {**record, "revoked": False})
        body["refresh_token"] = token
    if "openid" in grant["scopes"]:
        body["id_token"] = _id_token(sim, grant, now)
    return body


def _access_token(sim: Simulator, grant: dict[str, Any], now: datetime, lifetime: int) -> str:
    claims = {
        "iss": ISSUER,
        "nbf": int(now.timestamp()),
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
        "client_id": grant["client_id"],
        "sub": grant["user_id"],
        "xero_userid": grant["user_id"],
        "grant_id": grant["id"],
        "authentication_event_id": grant["auth_event_id"],
        "jti": uuid.uuid4().hex,
        "scope": grant["scopes"],
    }
    return tokens.encode_jwt(claims, sim.store.meta(SIGNING_KEY))


def _id_token(sim: Simulator, grant: dict[str, Any], now: datetime) -> str:
    user = sim.store.get("users", grant["user_id"]) or {"email": ""}
    claims = {"iss": ISSUER, "aud": grant["client_id"], "sub": grant["user_id"], "email": user["email"]}
    claims.update(iat=int(now.timestamp()), exp=int(now.timestamp()) + 300)
    return tokens.encode_jwt(claims, sim.store.meta(SIGNING_KEY))


def authenticate_bearer(sim: Simulator, authorization: str | None) -> Bearer:
    """Return the grant and claims of a valid ``Authorization: Bearer`` access token.

    Raises:
        BearerError: ``TokenExpired: ...`` for an expired token, ``AuthenticationUnsuccessful`` for a
            missing, garbled, foreign or revoked one.
    """
    scheme, _, token = (authorization or "").partition(" ")
    claims = (
        tokens.decode_jwt(token.strip(), sim.store.meta(SIGNING_KEY)) if scheme.lower() == "bearer" else None
    )
    grant = sim.store.get("grants", claims.get("grant_id", "")) if claims else None
    if claims is None or grant is None or grant["revoked"]:
        raise BearerError("AuthenticationUnsuccessful")
    if sim.now().timestamp() >= claims["exp"]:
        expired = datetime.fromtimestamp(claims["exp"], tz=sim.now().tzinfo)
        raise BearerError(f"TokenExpired: token expired at {expired.strftime('%m/%d/%Y %H:%M:%S')}")
    return Bearer(grant, claims)
