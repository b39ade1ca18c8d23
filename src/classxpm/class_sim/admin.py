"""The simulator's own routes under ``/_sim/``: seed, change a fund, switches, calls, token expiry, reset."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from classxpm.class_sim.runtime import Simulator
from classxpm.source.demo_data import DEFAULT_SEED
from classxpm.xpm_sim.config import ConfigError


def _sim(request: Request) -> Simulator:
    return request.app.state.sim


async def seed(request: Request) -> Response:
    """POST /_sim/seed ``{"funds": N, "seed": S}``: the demo data's first N funds, in the demo business."""
    sim, body = _sim(request), await request.json()
    funds, rng_seed = body.get("funds"), body.get("seed", DEFAULT_SEED)
    if not isinstance(funds, int) or isinstance(funds, bool) or funds < 0 or not isinstance(rng_seed, int):
        return JSONResponse({"error": "funds must be a whole number >= 0 and seed a whole number"}, 400)
    business = sim.data.seed_demo(sim.config.business_code, funds, rng_seed)
    return JSONResponse({"business_code": business.code, "funds": len(business.funds)})


async def change_fund(request: Request) -> Response:
    """PATCH /_sim/funds/{business}/{fund} ``{"fund": {...}, "members": [{"member_id": ..., ...}]}``."""
    body = await request.json()
    try:
        _sim(request).data.update_fund(
            request.path_params["business"],
            request.path_params["fund"],
            body.get("fund", {}),
            body.get("members", []),
        )
    except KeyError as missing:
        return JSONResponse({"error": f"no such business, fund or member: {missing.args[0]}"}, 404)
    return JSONResponse({"changed": request.path_params["fund"]})


async def config(request: Request) -> Response:
    """GET or PATCH /_sim/config: the switches."""
    sim = _sim(request)
    if request.method == "PATCH":
        try:
            sim.config = sim.config.patched(await request.json())
        except ConfigError as exc:
            return JSONResponse({"error": str(exc)}, 400)
    shown = {**sim.config.__dict__, "client_secret": "(set)", "password": "(set)"}
    return JSONResponse(shown)


async def calls(request: Request) -> Response:
    """GET /_sim/calls: calls by endpoint; DELETE empties the log."""
    sim = _sim(request)
    if request.method == "DELETE":
        sim.calls.clear()
        sim.statuses.clear()
    by_status = {str(status): count for status, count in sim.statuses.items()}
    return JSONResponse(
        {"by_endpoint": dict(sim.calls), "by_status": by_status, "total": sum(sim.calls.values())}
    )


async def expire_tokens(request: Request) -> Response:
    """POST /_sim/expire-tokens: every access token issued so far is expired."""
    _sim(request).expire_access_tokens()
    return JSONResponse({"expired": True})


async def reset(request: Request) -> Response:
    """POST /_sim/reset: tokens, limits, calls and config back to the start (the data stays)."""
    _sim(request).reset()
    return JSONResponse({"reset": True})


ROUTES = [
    Route("/_sim/seed", seed, methods=["POST"]),
    Route("/_sim/funds/{business}/{fund}", change_fund, methods=["PATCH"]),
    Route("/_sim/config", config, methods=["GET", "PATCH"]),
    Route("/_sim/calls", calls, methods=["GET", "DELETE"]),
    Route("/_sim/expire-tokens", expire_tokens, methods=["POST"]),
    Route("/_sim/reset", reset, methods=["POST"]),
]
