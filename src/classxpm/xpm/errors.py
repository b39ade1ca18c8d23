"""The XPM client's errors, and the one place that classifies responses.

Each error takes its place under a root of ``classxpm.errors``: Retriable errors may succeed when repeated
in-request (seconds); Deferred (quota spent) ends a run until the daily quota resets; Reauthorise and
NotAuthorised need a person; Fatal errors are configuration or entitlement problems; RecordError belongs to
one record and the run goes on.

XPM reports a refused record either as HTTP 200 with ``<Status>ERROR</Status>`` or as HTTP 400, 404 or 409
with the same ``<Response>`` body (reference §12), so the body is read at every status: an XPM error body
on one of those statuses is the record's problem, never the run's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx

from classxpm import errors as roots
from classxpm.errors import NOT_AUTHORISED_MESSAGE, REAUTHORISE_MESSAGE  # noqa: F401 (callers read them here)

if TYPE_CHECKING:
    from collections.abc import Mapping

DAILY_LIMIT_PROBLEM = "day"
RECORD_STATUSES = frozenset({200, 400, 404, 409})
"""Statuses at which an XPM error body refuses one record (validation, unknown record, conflicting state)."""


class XpmError(roots.ClassXpmError):
    """Base of every error the XPM client raises."""


class Retriable(XpmError, roots.Retriable):
    """A failure that may pass when the same request is sent again (429, 5xx, connection errors).

    Attributes:
        status: The HTTP status, or None when no response arrived.
        retry_after: Seconds the server asked us to wait, when it said.
        request_sent: False only when the request certainly never reached the server.
    """

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None, *, request_sent: bool
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.request_sent = request_sent


class RateLimited(Retriable):
    """A per-minute or concurrency 429: wait Retry-After and send again."""


class Deferred(XpmError, roots.QuotaSpent):
    """The tenant's daily quota is spent: end the run and resume after ``retry_after`` seconds."""


class AccessTokenRejected(XpmError, roots.Retriable):
    """A 401 on an API call: refresh the access token once and send again."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"XPM rejected the access token ({detail})")
        self.expired = detail.startswith("TokenExpired")


class Reauthorise(XpmError, roots.Reauthorise):
    """The grant is expired or revoked: a person must authorise the integration again."""


class NotAuthorised(XpmError, roots.NotAuthorised):
    """No grant is stored for the business."""


class Fatal(XpmError, roots.Fatal):
    """A failure that repeating cannot fix: stop the run."""


class TenantForbidden(Fatal):
    """403: the tenant is unknown or was disconnected from the app."""


class ConfigurationError(Fatal):
    """Bad client credentials, a missing scope or entitlement, or an invalid setting."""


class ResponseFormatError(Fatal):
    """A response body that is malformed or unsafe to parse (DTDs, entities)."""


class NotFound(XpmError, roots.Fatal):
    """404: the resource (or path) does not exist."""


class RecordError(XpmError, roots.RecordRefused):
    """XPM refused one record (an ERROR body at 200, 400, 404 or 409): report the record and go on.

    Attributes:
        description: XPM's ErrorDescription text.
        status: The HTTP status it came with (200 when XPM used the envelope form).
    """

    def __init__(self, description: str, status: int = 200) -> None:
        super().__init__(f"XPM refused the record: {description}")
        self.description = description
        self.status = status


def classify(response: httpx.Response) -> XpmError | None:
    """Return the error a response stands for, or None when it is a success.

    This is the only function that reads statuses and error bodies; every caller raises what it returns.
    """
    if response.status_code < 400:
        return _envelope_error(response)
    if response.status_code == 429:
        return _rate_limit_error(response.headers)
    if response.status_code >= 500:
        return Retriable(f"XPM answered HTTP {response.status_code}", response.status_code, request_sent=True)
    if code := _json_field(response, "error"):
        return _token_endpoint_error(code)
    return _client_error(response)


def classify_transport_error(exc: httpx.TransportError, service: str = "XPM") -> Retriable:
    """Classify a failure to get any response (refused connection, timeout, dropped connection)."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return Retriable(f"no response from {service} ({type(exc).__name__})", request_sent=not never_sent)


def _rate_limit_error(headers: Mapping[str, str]) -> XpmError:
    retry_after = _seconds(headers.get("Retry-After"))
    if headers.get("X-Rate-Limit-Problem", "").lower() == DAILY_LIMIT_PROBLEM:
        return Deferred(retry_after)
    problem = headers.get("X-Rate-Limit-Problem", "unknown")
    return RateLimited(f"XPM rate limit hit ({problem})", 429, retry_after, request_sent=True)


def _client_error(response: httpx.Response) -> XpmError:
    status = response.status_code
    if status == 401:
        return _unauthorised_error(_json_field(response, "Detail"))
    refused = _envelope_error(response)
    if refused is not None and status in RECORD_STATUSES:
        return refused
    if status == 403:
        detail = refused.description if refused is not None else _json_field(response, "Detail")
        return TenantForbidden(f"XPM refused the tenant (HTTP 403, {detail})")
    if status == 404:
        return NotFound(f"XPM has no {response.request.url.path}")
    return ConfigurationError(f"XPM answered HTTP {status} to {response.request.url.path}")


def _unauthorised_error(detail: str) -> XpmError:
    if detail.startswith("AuthorizationUnsuccessful"):
        return ConfigurationError("XPM refused the call: a scope or entitlement is missing")
    return AccessTokenRejected(detail or "no detail")


def _token_endpoint_error(code: str) -> XpmError:
    if code == "invalid_grant":
        return Reauthorise("the refresh token was refused (invalid_grant)")
    if code in {"invalid_client", "unauthorized_client"}:
        return ConfigurationError(f"Xero refused the client id or secret ({code})")
    return ConfigurationError(f"Xero refused the token request ({code})")


def _envelope_error(response: httpx.Response) -> RecordError | None:
    """The refusal an XPM ``<Response>`` body states, at whatever status it came; None for none."""
    if "xml" not in response.headers.get("Content-Type", "") or not response.content:
        return None
    from classxpm.xpm import xml

    envelope = xml.envelope_of(response)  # the caller reads the same parse: the list is 100 KB at 50 funds
    if envelope.ok:
        return None
    return RecordError(envelope.error_description, response.status_code)


def _json_field(response: httpx.Response, name: str) -> str:
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return ""
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
