"""The pipeline every XPM API call runs through: bearer token, tenant, scope, limits, faults, handler.

Handlers are plain functions of a :class:`Call` that return a response or raise :class:`ApiError`;
they never see auth, limits or faults.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from classxpm.errors import Fatal
from classxpm.xpm_sim import responses
from classxpm.xpm_sim.grants import Bearer, BearerError, authenticate_bearer, connections_of
from classxpm.xpm_sim.middleware import LostResponse, RequestInfo, request_info
from classxpm.xpm_sim.runtime import Simulator
from classxpm.xpm_sim.xml import XmlInputError, envelope, error_document, parse_document

API_ROOT = "/practicemanager/3.1/"
FORBIDDEN = "AuthenticationUnsuccessful"


BAD_REQUEST = 400
NOT_FOUND = 404
CONFLICT = 409


class ApiError(Fatal):
    """A failure XPM reports with an ``ErrorDescription``: as 200 + ERROR or as its own status, by config.

    Attributes:
        description: The ErrorDescription text.
        status: The HTTP status Xero's description lists for it: 400 (validation, bad paging), 404 (no such
            record) or 409 (a conflict with the record's state, such as writing to an archived client).
    """

    def __init__(self, description: str, status: int = BAD_REQUEST) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


@dataclass
class Call:
    """One authenticated, admitted XPM call as its handler sees it."""

    sim: Simulator
    request: Request
    tenant: str
    api_method: str | None
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        """A query parameter, matched case-insensitively as XPM does."""
        wanted = name.lower()
        return next((v for k, v in self.request.query_params.multi_items() if k.lower() == wanted), default)

    def flag(self, name: str) -> bool:
        """True when a query parameter says ``true``."""
        return (self.param(name) or "").lower() == "true"

    def path(self, name: str) -> str:
        """A path parameter."""
        return self.request.path_params[name]

    def document(self, root: str) -> ET.Element:
        """The request body parsed as a ``<root>`` document."""
        return parse_document(self.body, root)

    def ok(self, *items: ET.Element) -> Response:
        """An OK envelope around ``items``."""
        return responses.xml(envelope(self._method_attribute(), *items))

    def error(self, error: ApiError) -> Response:
        """An ERROR envelope, sent with the error's own status when ``error_form`` is ``status``.

        In the ``envelope`` form every error is a 200, except that ``unknown_uuid_status`` may make a
        not-found one a 404.
        """
        config = self.sim.config
        if config.error_form == "status":
            status = error.status
        else:
            status = config.unknown_uuid_status if error.status == NOT_FOUND else 200
        return responses.xml(error_document(self._method_attribute(), error.description), status)

    def _method_attribute(self) -> str | None:
        return self.api_method if self.sim.config.api_method_attribute else None


Handler = Callable[[Call], Response]


def xpm_route(method: str, template: str, area: str, api_method: str | None, handler: Handler) -> Route:
    """A route for ``METHOD template`` under the API root, logged as that endpoint key.

    Args:
        method: The HTTP method.
        template: The path relative to ``/practicemanager/3.1/``, with ``{name}`` parameters.
        area: The scope area it needs (``client`` or ``job``).
        api_method: The ``api-method`` attribute of its responses.
        handler: The function that does the work.
    """
    endpoint_key = f"{method} {template}"

    async def endpoint(request: Request) -> Response:
        return await _run(request, endpoint_key, area, api_method, handler)

    return Route(API_ROOT + template, endpoint, methods=[method], name=endpoint_key)


async def _run(
    request: Request, endpoint: str, area: str, api_method: str | None, handler: Handler
) -> Response:
    sim: Simulator = request.app.state.sim
    info = request_info(request.scope)
    info.endpoint = endpoint
    denied = _authorise(sim, request, info, area)
    if denied is not None:
        return denied
    admission = sim.limiter.admit(info.tenant)
    info.headers.update(admission.headers)
    if admission.problem is not None:
        return responses.rate_limited()
    try:
        return await _admitted(request, info, endpoint, api_method, handler)
    finally:
        sim.limiter.release(info.tenant)


def _authorise(sim: Simulator, request: Request, info: RequestInfo, area: str) -> Response | None:
    """A 401/403 problem (counted against the app minute only) when the call may not proceed."""
    try:
        bearer = authenticate_bearer(sim, request.headers.get("authorization"))
    except BearerError as exc:
        return _denied(sim, info, 401, exc.detail, responses.INVALID_TOKEN_CHALLENGE)
    if not info.tenant:
        return _denied(sim, info, sim.config.missing_tenant_status, FORBIDDEN)
    if info.tenant not in {c["tenantId"] for c in connections_of(sim, bearer.grant["id"])}:
        return _denied(sim, info, 403, FORBIDDEN)
    if not scope_allows(bearer, area, request.method):
        return _denied(sim, info, 401, "AuthorizationUnsuccessful")
    return None


def _denied(
    sim: Simulator, info: RequestInfo, status: int, detail: str, headers: dict | None = None
) -> Response:
    admission = sim.limiter.admit_app()
    info.headers.update(admission.headers)
    if admission.problem is not None:
        return responses.rate_limited()
    return responses.problem(info, status, detail, headers)


def scope_allows(bearer: Bearer, area: str, method: str) -> bool:
    """True when the token's scopes cover ``area``: the broad or granular scope, or its ``.read`` for GET."""
    wanted = {"practicemanager", f"practicemanager.{area}"}
    if method == "GET":
        wanted |= {"practicemanager.read", f"practicemanager.{area}.read"}
    return bool(wanted & set(bearer.claims.get("scope", [])))


async def _admitted(
    request: Request, info: RequestInfo, endpoint: str, api_method: str | None, handler: Handler
) -> Response:
    sim: Simulator = request.app.state.sim
    plan = sim.faults.plan(endpoint)
    if plan.latency_seconds:
        await asyncio.sleep(plan.latency_seconds)
    if plan.force_429:
        info.headers.update(
            {"X-Rate-Limit-Problem": "minute", "Retry-After": "1", "X-MinLimit-Remaining": "0"}
        )
        return responses.rate_limited()
    if plan.status is not None:
        return responses.fault(info, plan.status)
    body = await request.body()
    if len(body) > sim.config.max_body_bytes:
        return Response(b"", status_code=413)
    response = _handle(Call(sim, request, info.tenant or "", api_method, body), handler)
    return LostResponse() if plan.lose_response else response


def _handle(call: Call, handler: Handler) -> Response:
    try:
        with call.sim.store.lock:
            return handler(call)
    except XmlInputError as exc:
        return call.error(ApiError(str(exc)))
    except ApiError as exc:
        return call.error(exc)
