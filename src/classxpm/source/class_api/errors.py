"""The Class API client's errors, and the one place that classifies Class's responses.

They take their places under the XPM client's classes (so the one in-request ``RetryPolicy`` serves both
sources) and, through them, under the roots of ``classxpm.errors``. Messages name the status and Class's
error code, never a body: a Class body can hold TFNs.
"""

from __future__ import annotations

import json

import httpx

from classxpm import errors as roots
from classxpm.xpm.errors import ConfigurationError, NotFound, RateLimited, Reauthorise, Retriable, XpmError
from classxpm.xpm.errors import Fatal as XpmFatal

RESET_AFTER = "X-RateLimit-ResetAfter"
REMAINING = "X-RateLimit-1Min-Remaining"


class ClassTokenRejected(XpmError, roots.Retriable):
    """401 on an API call: the token expired (refresh and send again) or lacks the scope."""


class ClassNotFound(NotFound):
    """404: an unknown business or fund, a token for another business, or a wrong action."""


class ClassResponseError(XpmFatal):
    """A Class answer that is not the documented envelope."""


def classify(response: httpx.Response) -> XpmError | None:
    """Return the error a Class response stands for, or None when it is a success.

    The only function that reads Class's statuses, headers and error codes (API and token endpoint).
    """
    status = response.status_code
    if status < 400:
        return None
    code = _error_code(response)
    path = response.request.url.path
    if status == 429:
        return RateLimited(
            f"Class rate limit hit ({code or 'no code'})", 429, reset_after(response), request_sent=True
        )
    if status >= 500:
        return Retriable(f"Class answered HTTP {status} ({code or 'no code'})", status, request_sent=True)
    if token_error := _token_endpoint_error(code):
        return token_error
    return _client_error(status, path, code or "no code")


def _client_error(status: int, path: str, code: str) -> XpmError:
    if status == 401:
        return ClassTokenRejected(f"Class refused the access token for {path} ({code})")
    if status == 404:
        return ClassNotFound(f"Class has no {path} ({code})")
    return ConfigurationError(f"Class answered HTTP {status} to {path} ({code})")


def _token_endpoint_error(code: str) -> XpmError | None:
    if code == "invalid_grant":
        return Reauthorise("Class refused the refresh token or password (invalid_grant)")
    if code in {"invalid_client", "unauthorized_client"}:
        return ConfigurationError(f"Class refused the client id or secret ({code})")
    return None


def reset_after(response: httpx.Response) -> float | None:
    """Seconds until Class's rate window resets, when it said."""
    try:
        return max(0.0, float(response.headers[RESET_AFTER]))
    except (KeyError, ValueError):
        return None


def remaining(response: httpx.Response) -> int | None:
    """Calls left in Class's rate window, when it said."""
    try:
        return int(response.headers[REMAINING])
    except (KeyError, ValueError):
        return None


def _error_code(response: httpx.Response) -> str:
    """The token endpoint's ``error``, or the first ``Errors[].Code`` (``code`` in the spec's 400 bodies)."""
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("error"), str):
        return body["error"]
    errors = body.get("Errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("Code", first.get("code"))
    return code if isinstance(code, str) else ""
