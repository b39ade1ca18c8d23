"""Provider metadata that registers the ``xpm`` connection type with Airflow (entry point)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads."""
    return {
        "package-name": "classxpm",
        "name": "classxpm",
        "description": "Class Super to Xero Practice Manager sync: XPM connection type, hook and lineage.",
        "connection-types": [
            {"connection-type": "xpm", "hook-class-name": "classxpm.airflow.hooks.xpm.XpmHook"},
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
