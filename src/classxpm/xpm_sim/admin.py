"""The admin and inspection API under ``/_sim/`` (JSON): reset, seed, state, calls, clock, faults, config."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from classxpm.errors import Fatal
from classxpm.xpm_sim.dates import stamp
from classxpm.xpm_sim.runtime import Simulator
from classxpm.xpm_sim.seeding import seed

REDACTED = "***"
AdminHandler = Callable[[Simulator, dict[str, Any]], Any]


class AdminInputError(Fatal, ValueError):
    """An admin request body that cannot be used."""


def _admin(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler of (simulator, JSON body); bad input (config, fault and seed errors) is a 400."""

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise AdminInputError("the body must be a JSON object")
            with request.app.state.sim.store.lock:
                result = handler(request.app.state.sim, body)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(result)

    return endpoint


def health(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Readiness: answers as soon as the simulator serves."""
    return {"ok": True}


def reset(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Back to the default state; the start-up config too with ``{"config": "default"}``."""
    sim.reset(default_config=body.get("config") == "default")
    return {"ok": True}


def seed_records(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Add tenants, users, clients and jobs; returns the ids created."""
    return seed(sim.store, body, sim.now())


def state(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Everything the simulator holds (client TaxNumbers in clear: it stands for XPM itself)."""
    dump = sim.store.dump()
    for app in dump["apps"].values():
        app["client_secret"] = REDACTED
    return {
        "now": stamp(sim.now()),
        "config": config(sim, {}),
        "faults": sim.faults.to_dict(),
        **_listed(dump),
    }


def _listed(dump: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    return {kind: list(records.values()) for kind, records in dump.items()}


def calls(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """The call log with counts by endpoint, tenant and status."""
    return sim.store.call_summary()


def clear_calls(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Empty the call log."""
    sim.store.clear_calls()
    return {"ok": True}


def clock(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """The simulated time and scale."""
    return {"now": stamp(sim.now()), "time_scale": sim.clock.time_scale}


def move_clock(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Advance the clock by ``advance_seconds`` or set it to ``set`` (ISO 8601)."""
    if "advance_seconds" in body:
        sim.move_clock(sim.now() + _seconds(body["advance_seconds"]))
    elif "set" in body:
        sim.move_clock(datetime.fromisoformat(str(body["set"])))
    else:
        raise AdminInputError('give "advance_seconds" or "set"')
    return clock(sim, body)


def _seconds(value: Any) -> timedelta:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise AdminInputError("advance_seconds must be a number")
    return timedelta(seconds=value)


def faults(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """The fault seed and rules."""
    return sim.faults.to_dict()


def set_faults(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the fault rules (``{"seed": int, "rules": [...]}``)."""
    sim.faults.set(body)
    return sim.faults.to_dict()


def clear_faults(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Remove every fault rule."""
    sim.faults.clear()
    return sim.faults.to_dict()


def config(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Every config field (the client secret redacted)."""
    return {**sim.config.to_dict(), "client_secret": REDACTED}


def patch_config(sim: Simulator, body: dict[str, Any]) -> dict[str, Any]:
    """Change some config fields while running."""
    sim.apply_config(sim.config.patched(body))
    return config(sim, body)


ROUTES: list[Route] = [
    Route("/_sim/health", _admin(health), methods=["GET"]),
    Route("/_sim/reset", _admin(reset), methods=["POST"]),
    Route("/_sim/seed", _admin(seed_records), methods=["POST"]),
    Route("/_sim/state", _admin(state), methods=["GET"]),
    Route("/_sim/calls", _admin(calls), methods=["GET"]),
    Route("/_sim/calls", _admin(clear_calls), methods=["DELETE"]),
    Route("/_sim/clock", _admin(clock), methods=["GET"]),
    Route("/_sim/clock", _admin(move_clock), methods=["POST"]),
    Route("/_sim/faults", _admin(faults), methods=["GET"]),
    Route("/_sim/faults", _admin(set_faults), methods=["PUT"]),
    Route("/_sim/faults", _admin(clear_faults), methods=["DELETE"]),
    Route("/_sim/config", _admin(config), methods=["GET"]),
    Route("/_sim/config", _admin(patch_config), methods=["PATCH"]),
]
