"""The simulator's settings: every limit, lifetime and switch for a point the reference marks [U]."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from classxpm.errors import Fatal

DEFAULT_TENANT_ID = "6f1c2a4e-3b5d-4e7f-8a9b-0c1d2e3f4a5b"
DEFAULT_TENANT_NAME = "Demo Practice"
DEFAULT_USER_EMAIL = "demo@practice.example"
DEFAULT_CLIENT_ID = "classxpm-demo"
DEFAULT_CLIENT_SECRET = "classxpm-demo-secret"  # noqa: S105 - the documented demo secret of a local simulator

DAY_SECONDS = 86_400

_CHOICES: dict[str, tuple[Any, ...]] = {
    "unknown_uuid_status": (200, 404),
    "invalid_client_status": (400, 401),
    "missing_tenant_status": (400, 403),
    "client_delete_mode": ("soft", "hard"),
    "date_of_birth_form": ("datetime", "date"),
    "error_form": ("envelope", "status"),
}

DEFAULT_BUSINESS_STRUCTURES = (
    "Individual",
    "Sole Trader",
    "Partnership",
    "Trust",
    "Company",
    "Self Managed Superannuation Fund",
)
"""XPM Admin's usual structures (BGL's supported list); an SMSF is "Self Managed Superannuation Fund"."""


class ConfigError(Fatal, ValueError):
    """A config patch names an unknown field or gives a value of the wrong type or range."""


@dataclass
class SimConfig:
    """Everything a run of the simulator can be told; PATCH /_sim/config changes it while it runs.

    Durations are in simulated seconds; ``time_scale`` says how many simulated seconds pass per real one.
    """

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=list)
    auto_approve: bool = False
    time_scale: float = 1.0
    minute_limit: int = 60
    day_limit: int = 5_000
    concurrent_limit: int = 5
    app_minute_limit: int = 10_000
    concurrent_retry_after: bool = True
    code_lifetime_seconds: int = 300
    access_token_lifetime_seconds: int = 1_800
    refresh_idle_seconds: int = 60 * DAY_SECONDS
    refresh_grace_seconds: int = 1_800
    reauth_keeps_old_refresh: bool = False
    invalid_client_status: int = 400
    missing_tenant_status: int = 403
    unknown_uuid_status: int = 200
    error_form: str = "envelope"
    tfn_check_digit: bool = True
    abn_check: bool = False
    update_accepts_export_code: bool = True
    client_delete_mode: str = "soft"
    search_fields: list[str] = field(default_factory=lambda: ["Name"])
    max_link_contacts: int = 10
    default_page_size: int = 50
    max_page_size: int = 500
    max_body_bytes: int = 3_500_000
    api_method_attribute: bool = True
    list_detailed_by_default: bool = False
    date_of_birth_form: str = "datetime"
    business_structures: list[str] = field(default_factory=lambda: list(DEFAULT_BUSINESS_STRUCTURES))
    connection_tenant_name: bool = True
    web_url_base: str = "https://practicemanager.xero.com"

    def to_dict(self) -> dict[str, Any]:
        """Return every field as JSON-ready data."""
        return dataclasses.asdict(self)

    def patched(self, patch: dict[str, Any]) -> SimConfig:
        """Return a copy with ``patch`` applied, after checking each key, type and allowed value.

        Raises:
            ConfigError: On an unknown field, a value of the wrong type, or a value out of range.
        """
        current = self.to_dict()
        for key, value in patch.items():
            current[key] = checked_setting(key, value, current, _CHOICES)
        return SimConfig(**current)


def checked_setting(
    key: str, value: Any, current: dict[str, Any], choices: dict[str, tuple[Any, ...]]
) -> Any:
    """``value`` for setting ``key`` of a simulator's ``current`` settings, checked (both simulators).

    Raises:
        ConfigError: An unknown key, a value of another type, not one of its ``choices``, or not positive.
    """
    if key not in current:
        raise ConfigError(f"unknown config field {key!r}")
    expected = type(current[key])
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise ConfigError(f"{key} must be {expected.__name__}, got {type(value).__name__}")
    if key in choices and value not in choices[key]:
        raise ConfigError(f"{key} must be one of {choices[key]}")
    if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
        raise ConfigError(f"{key} must be positive")
    return value


def client_urls(base_url: str) -> dict[str, str]:
    """The XPM connection settings that point a client at a simulator on ``base_url``.

    The simulator serves Xero's production paths on one host, so only scheme and host change.
    """
    return {
        "api_base_url": f"{base_url}/practicemanager/3.1",
        "authorize_url": f"{base_url}/identity/connect/authorize",
        "token_url": f"{base_url}/connect/token",
        "revocation_url": f"{base_url}/connect/revocation",
        "connections_url": f"{base_url}/connections",
    }
