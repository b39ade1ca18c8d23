"""The ASGI app: identity, connections, XPM API and admin routes behind the simulator's middleware."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import ASGIApp

from classxpm.xpm_sim import admin, clients, connections, contacts, jobs, oauth
from classxpm.xpm_sim.config import SimConfig
from classxpm.xpm_sim.middleware import SimMiddleware
from classxpm.xpm_sim.runtime import Simulator
from classxpm.xpm_sim.store import Store


class SimulatorApp(Starlette):
    """Starlette with :class:`SimMiddleware` outside even its error middleware.

    It must be outermost: it sees uvicorn's own ``send`` (whose transport a lost response closes) and
    decorates and logs the 500s Starlette's error middleware produces.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack wrapped in the simulator's middleware."""
        return SimMiddleware(super().build_middleware_stack(), self.state.sim)


def create_app(config: SimConfig, store: Store | None = None) -> SimulatorApp:
    """Build the simulator's app.

    Args:
        config: Its start-up settings.
        store: Its records; a fresh in-memory store when omitted (pass one over a SqliteState to persist).

    Returns:
        A Starlette app whose ``state.sim`` is the running :class:`Simulator`.
    """
    app = SimulatorApp(
        routes=[
            *oauth.ROUTES,
            *connections.ROUTES,
            *clients.ROUTES,
            *contacts.ROUTES,
            *jobs.ROUTES,
            *admin.ROUTES,
        ],
    )
    app.state.sim = Simulator(config, store)
    return app
