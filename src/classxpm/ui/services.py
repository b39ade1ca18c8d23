"""What the pages work with: the state database, the token cipher, XPM settings, reports, Airflow's API.

Built from the Airflow connections on the first request (never when the plugin is imported), then kept
for the life of the API server process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine

from classxpm.state.crypto import TokenCipher
from classxpm.state.tokens import TokenStore
from classxpm.xpm.auth import Clock, utcnow
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.session import XpmSession


@dataclass(frozen=True)
class UiServices:
    """The pages' resources; ``airflow`` is an HTTP client for Airflow's own REST API."""

    state: Engine
    cipher: TokenCipher
    xpm_config: Callable[[], XpmConfig]
    reports_dir: Path
    airflow: httpx.Client
    clock: Clock = field(default=utcnow)
    class_businesses: Callable[[], dict[str, str]] = field(default=dict)
    """The businesses of the Class database (id to name), so one never authorised yet can be chosen."""

    def store(self) -> TokenStore:
        """The grants of every business."""
        return TokenStore(self.state, self.cipher, self.clock)

    def session(self, redirect_uri: str) -> XpmSession:
        """An XPM session whose logins come back to ``redirect_uri``; the caller closes it."""
        from dataclasses import replace

        return XpmSession(replace(self.xpm_config(), redirect_uri=redirect_uri), clock=self.clock)


@cache
def airflow_services() -> UiServices:
    """The services of the running API server, from the ``classxpm_state`` and ``xpm_default`` connections."""
    from functools import partial

    from classxpm.airflow import resources
    from classxpm.airflow.connections import STATE_CONN_ID
    from classxpm.state.crypto import load_cipher
    from classxpm.validation.report import reports_root

    return UiServices(
        state=resources.open_engine(STATE_CONN_ID),
        cipher=load_cipher(),
        xpm_config=resources.xpm_config,
        reports_dir=reports_root(),
        airflow=httpx.Client(timeout=10.0),
        class_businesses=partial(resources.class_businesses, optional=True),
    )
