"""Response bodies Xero sends outside the XPM XML: JSON problems for auth errors and server faults."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from classxpm.xpm_sim.middleware import RequestInfo
from classxpm.xpm_sim.xml import XML_MEDIA_TYPE

INVALID_TOKEN_CHALLENGE = {"WWW-Authenticate": "Bearer error=invalid_token"}
_TITLES = {401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error", 503: "Unavailable"}
_FAULT_DETAILS = {503: "ServiceNotAvailable"}


def problem(info: RequestInfo, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """Xero's JSON problem body; its ``Instance`` is the response's ``xero-correlation-id``."""
    body = {
        "Type": None,
        "Title": _TITLES.get(status, "Error"),
        "Status": status,
        "Detail": detail,
        "Instance": info.correlation_id,
        "Extensions": {},
    }
    return JSONResponse(body, status_code=status, headers=headers)


def fault(info: RequestInfo, status: int) -> Response:
    """An injected server fault: a 503 as Xero's ServiceNotAvailable problem, others a generic problem."""
    return problem(info, status, _FAULT_DETAILS.get(status, "An unexpected error occurred"))


def xml(body: bytes, status: int = 200) -> Response:
    """An XPM XML response, ``text/xml; charset=utf-8`` whatever the request asked for."""
    return Response(body, status_code=status, media_type=XML_MEDIA_TYPE)


def rate_limited() -> Response:
    """A 429 with an empty body; the limit headers ride on the request's info."""
    return Response(b"", status_code=429)
