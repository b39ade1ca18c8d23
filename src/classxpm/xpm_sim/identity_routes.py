"""Routing for the identity and connection paths: endpoint keys for the call log, and injected faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from classxpm.xpm_sim import responses
from classxpm.xpm_sim.middleware import LostResponse, request_info
from classxpm.xpm_sim.runtime import Simulator

AsyncHandler = Callable[[Request, Simulator], Awaitable[Response]]


def identity_route(method: str, path: str, handler: AsyncHandler) -> Route:
    """A route logged as ``"METHOD path"`` whose calls are subject to fault rules naming that key."""
    endpoint_key = f"{method} {path}"

    async def endpoint(request: Request) -> Response:
        sim: Simulator = request.app.state.sim
        info = request_info(request.scope)
        info.endpoint = endpoint_key
        plan = sim.faults.plan(endpoint_key)
        if plan.latency_seconds:
            await asyncio.sleep(plan.latency_seconds)
        if plan.force_429:
            info.headers.update({"X-Rate-Limit-Problem": "minute", "Retry-After": "1"})
            return responses.rate_limited()
        if plan.status is not None:
            return responses.fault(info, plan.status)
        response = await handler(request, sim)
        return LostResponse() if plan.lose_response else response

    return Route(path, endpoint, methods=[method], name=endpoint_key)
