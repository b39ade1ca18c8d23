"""``/connections``: the tenants a token's grant is connected to, and disconnecting one of them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from classxpm.xpm_sim import grants, responses
from classxpm.xpm_sim.dates import connection_datetime, from_stamp
from classxpm.xpm_sim.identity_routes import identity_route
from classxpm.xpm_sim.middleware import request_info
from classxpm.xpm_sim.runtime import Simulator


def _bearer(request: Request, sim: Simulator) -> grants.Bearer | Response:
    info = request_info(request.scope)
    admission = sim.limiter.admit_app()
    info.headers.update(admission.headers)
    if admission.problem is not None:
        return responses.rate_limited()
    try:
        return grants.authenticate_bearer(sim, request.headers.get("authorization"))
    except grants.BearerError as exc:
        return responses.problem(info, 401, exc.detail, responses.INVALID_TOKEN_CHALLENGE)


def _shape(sim: Simulator, connection: dict[str, Any]) -> dict[str, Any]:
    tenant = sim.store.get("tenants", connection["tenantId"]) or {"name": None}
    return {
        "id": connection["id"],
        "authEventId": connection["authEventId"],
        "tenantId": connection["tenantId"],
        "tenantType": "PRACTICEMANAGER",
        "tenantName": tenant["name"] if sim.config.connection_tenant_name else None,
        "createdDateUtc": connection_datetime(from_stamp(connection["created"])),
        "updatedDateUtc": connection_datetime(from_stamp(connection["updated"])),
    }


async def list_connections(request: Request, sim: Simulator) -> Response:
    """The grant's connections as a JSON array, optionally only those of one ``authEventId``."""
    bearer = _bearer(request, sim)
    if isinstance(bearer, Response):
        return bearer
    event = request.query_params.get("authEventId")
    found = [
        _shape(sim, c)
        for c in grants.connections_of(sim, bearer.grant["id"])
        if not event or c["authEventId"] == event
    ]
    return JSONResponse(found)


async def delete_connection(request: Request, sim: Simulator) -> Response:
    """Disconnect one tenant: 204, or 404 when the grant has no such connection."""
    bearer = _bearer(request, sim)
    if isinstance(bearer, Response):
        return bearer
    connection = sim.store.get("connections", request.path_params["id"])
    if connection is None or connection["grant_id"] != bearer.grant["id"]:
        return Response(b"", status_code=404)
    sim.store.delete("connections", connection["id"])
    return Response(b"", status_code=204)


ROUTES: list[Route] = [
    identity_route("GET", "/connections", list_connections),
    identity_route("DELETE", "/connections/{id}", delete_connection),
]
