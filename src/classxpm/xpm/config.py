"""Settings of the XPM client as one frozen value, independent of Airflow (the hook builds it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from classxpm.xpm.errors import ConfigurationError

DEFAULT_API_BASE_URL = "https://api.xero.com/practicemanager/3.1"
DEFAULT_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
DEFAULT_TOKEN_URL = "https://identity.xero.com/connect/token"  # noqa: S105 (a URL, not a secret)
DEFAULT_REVOCATION_URL = "https://identity.xero.com/connect/revocation"
DEFAULT_CONNECTIONS_URL = "https://api.xero.com/connections"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEFAULT_SCOPES = "offline_access practicemanager.client practicemanager.job.read"

URL_SETTINGS = ("authorize_url", "token_url", "revocation_url", "connections_url", "redirect_uri")


DEFAULT_MINUTE_LIMIT = 60
DEFAULT_DAY_LIMIT = 5_000
DEFAULT_RESERVE_SHARE = 0.10

TUNING = {
    "minute_limit": int,
    "max_in_flight": int,
    "day_limit": int,
    "reserve_share": float,
    "refresh_margin_seconds": float,
    "rate_window_seconds": float,
}
"""Connection extras that tune the client's own limits, and their types."""
POLICIES = ("gone_from_class", "rolled_out_members")
"""Connection extras that choose what full runs do about what Class no longer holds (``sync/gone.py``)."""


@dataclass(frozen=True)
class RetrySettings:
    """In-request retries (seconds apart), kept apart from Airflow task retries (minutes apart)."""

    attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_base < 0 or self.backoff_cap < 0 or self.retry_after_cap < 0:
            raise ConfigurationError("retry settings must be positive (attempts at least 1)")


@dataclass(frozen=True)
class XpmConfig:
    """Everything needed to reach XPM for one app registration. The secret never shows in repr."""

    client_id: str
    client_secret: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    revocation_url: str = DEFAULT_REVOCATION_URL
    connections_url: str = DEFAULT_CONNECTIONS_URL
    redirect_uri: str = DEFAULT_REDIRECT_URI
    scopes: str = DEFAULT_SCOPES
    timeout_seconds: float = 30.0
    retry: RetrySettings = RetrySettings()
    minute_limit: int = DEFAULT_MINUTE_LIMIT
    """Calls a minute this client allows itself per tenant (Xero's limit; lower leaves room for people)."""
    max_in_flight: int = 5
    day_limit: int = DEFAULT_DAY_LIMIT
    """The tenant's daily call quota: 5,000 on Xero's standard tiers, 1,000 on Starter."""
    reserve_share: float = DEFAULT_RESERVE_SHARE
    """The share of ``day_limit`` the pipeline never spends: it is left for people using XPM."""
    gone_from_class: str | Mapping[str, str] | None = field(default=None, hash=False)
    """What full runs do with the XPM client of a fund gone from Class: ``report`` (default) or ``archive``,
    for every business or by business id (``"*"`` for the rest)."""
    rolled_out_members: str | Mapping[str, str] | None = field(default=None, hash=False)
    """What full runs do with the XPM contact of a member rolled out of a fund: ``report`` (default),
    ``detach`` (from the fund's client) or ``position:<text>``, for every business or by business id."""
    refresh_margin_seconds: float = 300.0
    """Refresh the access token this long before it expires (Xero's tokens last 30 minutes)."""
    rate_window_seconds: float = 60.0
    """XPM's rate window: a minute; shorter only against a simulator that runs its clock faster."""

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigurationError("the XPM connection needs a client id (login) and secret (password)")
        for name in ("api_base_url", *URL_SETTINGS):
            _require_http_url(name, getattr(self, name))
        if "offline_access" not in self.scopes.split():
            raise ConfigurationError("scopes must include offline_access, or Xero issues no refresh token")
        if self.timeout_seconds <= 0:
            raise ConfigurationError("timeout_seconds must be positive")
        if self.minute_limit < 1 or self.max_in_flight < 1 or self.rate_window_seconds <= 0:
            raise ConfigurationError("minute_limit and max_in_flight must be at least 1, the window positive")
        if self.day_limit < 1 or not 0 <= self.reserve_share < 1:
            raise ConfigurationError("day_limit must be at least 1, and reserve_share at least 0 and below 1")

    @classmethod
    def from_settings(
        cls, client_id: str, client_secret: str, host: str | None, extras: Mapping[str, Any]
    ) -> XpmConfig:
        """Build a config from connection-like parts; unset extras take Xero's production values.

        Raises:
            ConfigurationError: A value is missing or invalid, or an extra is unknown.
        """
        known = {*URL_SETTINGS, "scopes", "timeout_seconds", "attempts", *POLICIES, *TUNING}
        unknown = sorted(set(extras) - known)
        if unknown:
            raise ConfigurationError(f"unknown XPM connection extras: {', '.join(unknown)}")
        values = {key: extras[key] for key in (*URL_SETTINGS, "scopes") if extras.get(key)}
        if extras.get("timeout_seconds"):
            values["timeout_seconds"] = float(extras["timeout_seconds"])
        if extras.get("attempts"):
            values["retry"] = RetrySettings(attempts=int(extras["attempts"]))
        for name, kind in TUNING.items():
            if extras.get(name):
                values[name] = kind(extras[name])
        for name in POLICIES:
            if extras.get(name):
                values[name] = extras[name]
        return cls(client_id or "", client_secret or "", api_base_url=host or DEFAULT_API_BASE_URL, **values)

    @property
    def reserve(self) -> int:
        """Daily calls kept for people using XPM: ``reserve_share`` of the tenant's ``day_limit``."""
        return int(self.day_limit * self.reserve_share)

    @property
    def redirect_port(self) -> int:
        """The port of the redirect URI (the local callback server listens on it)."""
        return urlsplit(self.redirect_uri).port or 80

    def with_redirect_port(self, port: int) -> XpmConfig:
        """Return a copy whose redirect URI uses ``port`` on the same host and path."""
        parts = urlsplit(self.redirect_uri)
        netloc = f"{parts.hostname}:{port}"
        return replace(self, redirect_uri=parts._replace(netloc=netloc).geturl())


def _require_http_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigurationError(f"{name} must be an http(s) URL, got {value!r}")
