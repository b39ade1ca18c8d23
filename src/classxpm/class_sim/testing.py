"""Run the Class simulator inside a test process: uvicorn on a free loopback port, in a background thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from classxpm.class_sim.config import ClassSimConfig
from classxpm.xpm_sim.testing import serving


@dataclass
class ClassSimulatorHandle:
    """A running Class simulator: where it is, its credentials and business, and an admin client."""

    base_url: str
    config: ClassSimConfig
    admin: httpx.Client

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self.admin.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    @property
    def business_code(self) -> str:
        """The demo business's code."""
        return self.config.business_code

    def seed(self, funds: int, seed: int | None = None) -> dict[str, Any]:
        """Replace the demo business's funds with the demo data's first ``funds``."""
        return self._json(
            "POST", "/_sim/seed", {"funds": funds, **({"seed": seed} if seed is not None else {})}
        )

    def change_fund(self, fund_code: str, fund: dict[str, Any], members: list[dict[str, Any]] = ()) -> None:
        """Change a fund's (and its members') values, as someone editing Class would."""
        body = {"fund": fund, "members": list(members)}
        self._json("PATCH", f"/_sim/funds/{self.business_code}/{fund_code}", body)

    def patch_config(self, **fields: Any) -> dict[str, Any]:
        """Switch settings while it runs."""
        return self._json("PATCH", "/_sim/config", fields)

    def calls(self) -> dict[str, int]:
        """Calls by endpoint since the last ``clear_calls``."""
        return self._json("GET", "/_sim/calls")["by_endpoint"]

    def statuses(self) -> dict[str, int]:
        """Calls by the HTTP status they were answered with, since the last ``clear_calls``."""
        return self._json("GET", "/_sim/calls")["by_status"]

    def clear_calls(self) -> None:
        """Empty the call log."""
        self._json("DELETE", "/_sim/calls")

    def expire_tokens(self) -> None:
        """Expire every access token issued so far."""
        self._json("POST", "/_sim/expire-tokens")


@contextmanager
def running_class_simulator(
    funds: int = 0, seed: int | None = None, **config: Any
) -> Iterator[ClassSimulatorHandle]:
    """Start the Class simulator on a free loopback port for the duration of the block.

    Args:
        funds: How many demo funds its business holds.
        seed: The demo data's seed (the demo's default when None).
        **config: ClassSimConfig fields to start with.

    Raises:
        SimulatorStartError: When it does not answer within ten seconds.
    """
    from classxpm.class_sim.app import create_app

    settings = ClassSimConfig().patched(config)
    with serving(create_app(settings, funds, seed), "class-sim") as base_url:
        admin = httpx.Client(base_url=base_url, timeout=10.0)
        try:
            yield ClassSimulatorHandle(base_url, settings, admin)
        finally:
            admin.close()
