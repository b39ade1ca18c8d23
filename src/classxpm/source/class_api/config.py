"""Settings of the Class API client as one frozen value, from the ``class_api`` connection's parts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from classxpm.xpm.config import RetrySettings
from classxpm.xpm.errors import ConfigurationError

DEFAULT_API_BASE_URL = "https://api.class.com.au/api/1.0"
"""The draft guide's host; the OpenAPI says ``apigateway.class.com.au``: a setting (reference §5, §8.2)."""
DEFAULT_IDENTITY_URL = "https://app.class.com.au"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8766/callback"
EXPORT_SCOPES = "target:b offline_access business.fund.list fund.read"
DETAIL_SCOPES = "target:b offline_access business.fund.list fund.details.read fund.member.read"

Flow = Literal["authorization_code", "password"]
Plan = Literal["export", "detail"]
TfnForm = Literal["clear", "masked"]
_CHOICES: dict[str, tuple[str, ...]] = {
    "flow": ("authorization_code", "password"),
    "plan": ("export", "detail"),
    "tfns": ("clear", "masked"),
}
_NUMBERS = {"minute_limit": int, "concurrency": int, "timeout_seconds": float, "rate_window_seconds": float}
_TEXTS = ("identity_url", "redirect_uri", "scopes", "username", "user_password", "business_code")


@dataclass(frozen=True)
class ClassApiConfig:
    """Everything needed to reach Class for one OAuth client. Secrets never show in repr.

    Attributes:
        client_id: Issued by Class (partners@class.com.au, or self-service where offered).
        client_secret: Its secret, sent as HTTP Basic to the token endpoint.
        api_base_url: ``https://<host>/api/1.0``; the host is open (``api.`` or ``apigateway.``).
        identity_url: Where ``/connect/authorize`` and ``/connect/token`` live.
        flow: ``authorization_code`` (partners, MFA at consent) or ``password`` (a customer reading its
            own data; one business code per credential).
        plan: ``export`` reads one reference-data export per fund (scope ``fund.read``); ``detail`` reads
            fund-detail, member-list and each member-detail (narrower scopes, more calls, fewer fields).
        tfns: ``clear`` when Class returns TFNs in full; ``masked`` when it masks them: then no TFN is
            read and XPM's TFNs stay as they are.
        scopes: Asked for at login; by default the minimum for ``plan``.
        username: The Class user of the password flow.
        user_password: That user's password (needed again when the flow gives no refresh token).
        business_code: The business the password flow asks for (``target:b/<code>``).
        minute_limit: Calls a window this client allows itself (Class: 500 a minute per OAuth client).
        concurrency: Funds read at once (Class asks for no more than about 10 queues).
        rate_window_seconds: Class's window: a minute; shorter only against a time-scaled simulator.
    """

    client_id: str
    client_secret: str = field(repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    identity_url: str = DEFAULT_IDENTITY_URL
    redirect_uri: str = DEFAULT_REDIRECT_URI
    flow: Flow = "authorization_code"
    plan: Plan = "export"
    tfns: TfnForm = "clear"
    scopes: str = ""
    username: str = ""
    user_password: str = field(default="", repr=False)
    business_code: str = ""
    minute_limit: int = 500
    concurrency: int = 4
    timeout_seconds: float = 30.0
    rate_window_seconds: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigurationError(
                "the class_api connection needs a client id (login) and secret (password)"
            )
        for name in ("api_base_url", "identity_url", "redirect_uri"):
            parts = urlsplit(getattr(self, name))
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ConfigurationError(
                    f"class_api {name} must be an http(s) URL, got {getattr(self, name)!r}"
                )
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigurationError(f"class_api {name} must be one of {', '.join(allowed)}")
        if self.flow == "password" and not (self.username and self.business_code):
            raise ConfigurationError("the class_api password flow needs username and business_code extras")
        if not 1 <= self.concurrency <= 10 or self.minute_limit < 1 or self.rate_window_seconds <= 0:
            raise ConfigurationError("class_api concurrency must be 1-10, minute_limit at least 1")
        if self.timeout_seconds <= 0:
            raise ConfigurationError("class_api timeout_seconds must be positive")

    @classmethod
    def from_settings(
        cls, client_id: str, client_secret: str, host: str | None, extras: Mapping[str, Any]
    ) -> ClassApiConfig:
        """Build a config from a connection's parts; unset extras take Class's production values.

        Raises:
            ConfigurationError: A value is missing, unknown or invalid.
        """
        unknown = sorted(set(extras) - {*_CHOICES, *_NUMBERS, *_TEXTS, "attempts", "source"})
        if unknown:
            raise ConfigurationError(f"unknown class_api connection extras: {', '.join(unknown)}")
        values: dict[str, Any] = {key: str(extras[key]) for key in (*_CHOICES, *_TEXTS) if extras.get(key)}
        try:
            values.update({key: kind(extras[key]) for key, kind in _NUMBERS.items() if extras.get(key)})
        except (TypeError, ValueError):
            raise ConfigurationError(f"class_api extras {', '.join(_NUMBERS)} must be numbers") from None
        if extras.get("attempts"):
            values["retry"] = RetrySettings(attempts=int(extras["attempts"]))
        return cls(client_id or "", client_secret or "", api_base_url=host or DEFAULT_API_BASE_URL, **values)

    @property
    def token_url(self) -> str:
        """Class's token endpoint."""
        return f"{self.identity_url.rstrip('/')}/connect/token"

    @property
    def authorize_url(self) -> str:
        """Class's authorize endpoint."""
        return f"{self.identity_url.rstrip('/')}/connect/authorize"

    @property
    def requested_scopes(self) -> str:
        """The scopes asked for: as set, else the plan's minimum (with the business for the password flow)."""
        scopes = self.scopes or (EXPORT_SCOPES if self.plan == "export" else DETAIL_SCOPES)
        if self.flow == "password":
            scopes = " ".join(
                f"target:b/{self.business_code}" if s == "target:b" else s for s in scopes.split()
            )
        return scopes

    @property
    def redirect_port(self) -> int:
        """The redirect URI's port (the local callback server listens on it)."""
        return urlsplit(self.redirect_uri).port or 80

    def with_redirect_port(self, port: int) -> ClassApiConfig:
        """A copy whose redirect URI uses ``port``."""
        parts = urlsplit(self.redirect_uri)
        return replace(self, redirect_uri=parts._replace(netloc=f"{parts.hostname}:{port}").geturl())
