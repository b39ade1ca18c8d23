"""Provider metadata that registers the ``xpm`` connection type with Airflow (entry point).

The connection form's typed settings (``conn-fields``) are declared here, so Airflow draws them without
importing the hook; the hook reads them back from the connection's extras.
"""

from __future__ import annotations

from typing import Any


def _field(label: str, kind: str, description: str = "", **bounds: float) -> dict[str, Any]:
    """One form field: its label, its description and a JSON schema of its type (blank allowed)."""
    return {"label": label, "description": description, "schema": {"type": [kind, "null"], **bounds}}


CONN_FIELDS: dict[str, dict[str, Any]] = {
    "day_limit": _field(
        "Daily call limit per tenant",
        "integer",
        "The tenant's daily XPM quota: 5000 on Xero's standard tiers, 1000 on Starter.",
        minimum=1,
    ),
    "reserve_share": _field(
        "Share of the daily limit kept for people",
        "number",
        "The pipeline never spends this share of the daily limit (0.1 = 10 %).",
        minimum=0,
        exclusiveMaximum=1,
    ),
    "minute_limit": _field(
        "Calls a minute per tenant", "integer", "At most Xero's 60; lower leaves room for people.", minimum=1
    ),
    "max_in_flight": _field("Concurrent calls per tenant", "integer", "At most Xero's 5.", minimum=1),
    "redirect_uri": _field(
        "Redirect URI", "string", "Where Xero sends the browser back after authorising (the app's)."
    ),
    "timeout_seconds": _field("Request timeout (seconds)", "number", exclusiveMinimum=0),
    "attempts": _field(
        "Attempts per request",
        "integer",
        "In-request retries, seconds apart; Airflow's task retries come on top.",
        minimum=1,
    ),
}
"""The ``xpm`` connection form's settings, each an extra of the same name."""


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads."""
    return {
        "package-name": "classxpm",
        "name": "classxpm",
        "description": "Class Super to Xero Practice Manager sync: XPM connection type, hook and lineage.",
        "connection-types": [
            {
                "connection-type": "xpm",
                "hook-class-name": "classxpm.airflow.hooks.xpm.XpmHook",
                "hook-name": "Xero Practice Manager",
                "conn-fields": CONN_FIELDS,
            },
        ],
        "asset-uris": [
            {
                "schemes": ["class", "xpm"],
                "handler": None,
                "to_openlineage_converter": "classxpm.airflow.lineage.to_openlineage",
            }
        ],
        "versions": ["0.1.0"],
    }
