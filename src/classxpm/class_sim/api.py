"""Class's fund and member endpoints under ``/api/1.0``, in Class's JSON envelope, behind its limits.

Every answer carries ``X-RateLimit-1Min-Remaining`` and ``X-RateLimit-ResetAfter``. The order of checks
follows Class's codes: 401 for a missing, unknown or expired token or a scope not granted; 429 past the
client's calls a minute; 404 for a business other than the token's, an unknown fund or member; 400 for a
filter Class does not know.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from classxpm.class_sim import data
from classxpm.class_sim.runtime import Grant, Simulator, reset_after_header
from classxpm.errors import Fatal

PREFIX = "/api/1.0"
FUND_LIST_FILTERS = frozenset(
    {"statusCode", "legalEntityType", "fundTags", "brandCode", "ABN", "search", "showAll"}
)
_ANY_FUND_READ = frozenset({"fund.read", "fund.maintain"})
DETAIL_SCOPES = _ANY_FUND_READ | {"fund.details.read", "fund.details.maintain"}
MEMBER_SCOPES = _ANY_FUND_READ | {"fund.member.read", "fund.member.maintain"}

Handler = Callable[[Request, Simulator, data.Business], Response]


class ApiRefusal(Fatal):
    """An answer other than 200, in Class's envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def envelope(payload: Any, status: int = 200, errors: list[dict[str, str]] | None = None) -> JSONResponse:
    """Class's JSON envelope: ``Errors`` empty and ``Data`` set, or ``Errors`` set and ``Data`` empty."""
    return JSONResponse({"Errors": errors or [], "Data": payload if not errors else {}}, status)


def _bearer(request: Request, sim: Simulator) -> Grant:
    header = request.headers.get("Authorization", "")
    grant = sim.grant_of(header[7:]) if header.startswith("Bearer ") else None
    if grant is None:
        raise ApiRefusal(401, "API_NOT_AUTHORISED", "The access token is missing, invalid or expired")
    return grant


def endpoint(
    name: str, scopes: frozenset[str]
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler in the checks every call passes: token, limit, business, scope, Accept."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            sim: Simulator = request.app.state.sim
            headers: dict[str, str] = {}
            try:
                grant = _bearer(request, sim)
                allowed, remaining, reset_after = sim.take_call(grant.client_id)
                headers = {
                    "X-RateLimit-1Min-Remaining": str(remaining),
                    "X-RateLimit-ResetAfter": reset_after_header(reset_after),
                }
                if not allowed:
                    raise ApiRefusal(429, "API_RATE_LIMITED", "Too many requests")
                response = handler(request, sim, _checked_business(request, sim, grant, scopes))
            except ApiRefusal as refusal:
                response = envelope({}, refusal.status, [{"Code": refusal.code, "Message": refusal.message}])
            response.headers.update(headers)
            sim.log_call(f"GET {name}", response.status_code)
            return response

        return route

    return wrap


def _checked_business(
    request: Request, sim: Simulator, grant: Grant, scopes: frozenset[str]
) -> data.Business:
    if "json" not in request.headers.get("Accept", ""):
        raise ApiRefusal(406, "API_NOT_ACCEPTABLE", "This simulator answers JSON only")
    code = request.path_params["business"]
    business = sim.data.business(code)
    if business is None or business.code != grant.business_code:
        raise ApiRefusal(404, "API_NOT_FOUND", f"Business {code} not found")
    if not scopes & grant.scopes:
        raise ApiRefusal(401, "API_NOT_AUTHORISED", "The token's scopes do not allow this action")
    return business


def _fund(request: Request, business: data.Business) -> data.Fund:
    code = request.path_params["fund"]
    fund = next((f for key, f in business.funds.items() if key.casefold() == code.casefold()), None)
    if fund is None:
        raise ApiRefusal(404, "API_NOT_FOUND", f"Fund {code} not found")
    return fund


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@endpoint("fund-list", frozenset({"business.fund.list"}))
def fund_list(request: Request, sim: Simulator, business: data.Business) -> Response:
    """Every fund's summary; no paging, as Class documents."""
    unknown = sorted(set(request.query_params) - FUND_LIST_FILTERS)
    if unknown:
        raise ApiRefusal(400, "API_INVALID_REQUEST", f"Unknown filter {unknown[0]}")
    summaries = [data.fund_summary(business, fund, _base(request)) for fund in business.funds.values()]
    payload = {"FundSummaries": summaries, "TotalCount": len(summaries)}
    return envelope([payload] if sim.config.fund_list_shape == "array" else payload)


async def fund_export(request: Request) -> Response:
    """The fund reference-data export: the scope it needs is a setting of the simulator."""
    sim: Simulator = request.app.state.sim
    return await _export_route(frozenset({sim.config.export_scope, "fund.maintain"}))(request)


def _export_route(scopes: frozenset[str]) -> Callable[[Request], Awaitable[Response]]:
    @endpoint("fund-reference-data-export", scopes)
    def export(request: Request, sim: Simulator, business: data.Business) -> Response:
        return envelope(data.fund_export(_fund(request, business), sim.config.mask_tfns))

    return export


@endpoint("fund-detail", DETAIL_SCOPES)
def fund_detail(request: Request, sim: Simulator, business: data.Business) -> Response:
    """The narrower fund detail."""
    fund = _fund(request, business)
    config = sim.config
    return envelope(
        data.fund_detail(
            business, fund, _base(request), mask_tfns=config.mask_tfns, addresses=config.fund_detail_addresses
        )
    )


@endpoint("member-list", MEMBER_SCOPES)
def member_list(request: Request, sim: Simulator, business: data.Business) -> Response:
    """The fund's member summaries."""
    return envelope(data.member_summaries(business, _fund(request, business), _base(request)))


@endpoint("member-detail", MEMBER_SCOPES)
def member_detail(request: Request, sim: Simulator, business: data.Business) -> Response:
    """One member's detail, by the member's id."""
    fund = _fund(request, business)
    wanted = request.path_params["member"]
    for number, member in enumerate(fund.members, start=1):
        if member["member_id"] == wanted:
            return envelope(data.member_detail(member, number, email=sim.config.member_detail_email))
    raise ApiRefusal(404, "API_NOT_FOUND", f"Member {wanted} not found")


_FUND = PREFIX + "/f/{business}/{fund}"
ROUTES = [
    Route(PREFIX + "/b/{business}/fund-data/fund-list", fund_list, methods=["GET"]),
    Route(_FUND + "/fund-data/fund-detail", fund_detail, methods=["GET"]),
    Route(_FUND + "/fund-data/fund-reference-data-export", fund_export, methods=["GET"]),
    Route(_FUND + "/member-data/member-list", member_list, methods=["GET"]),
    Route(_FUND + "/member-data/member-detail/{member}", member_detail, methods=["GET"]),
]
