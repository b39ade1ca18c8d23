"""The Class simulator's ASGI app: identity, API and admin routes over one :class:`Simulator`."""

from __future__ import annotations

from starlette.applications import Starlette

from classxpm.class_sim import admin, api, oauth
from classxpm.class_sim.config import ClassSimConfig
from classxpm.class_sim.runtime import Simulator


def create_app(config: ClassSimConfig, funds: int = 0, seed: int | None = None) -> Starlette:
    """Build the app, its business seeded with the demo data's first ``funds`` funds.

    Returns:
        A Starlette app whose ``state.sim`` is the running :class:`Simulator`.
    """
    from classxpm.source.demo_data import DEFAULT_SEED

    app = Starlette(routes=[*oauth.ROUTES, *api.ROUTES, *admin.ROUTES])
    app.state.sim = Simulator(config)
    app.state.sim.data.seed_demo(config.business_code, funds, DEFAULT_SEED if seed is None else seed)
    return app
