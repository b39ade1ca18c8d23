"""HTTP to the Class API: bearer token per business, Class's rate window, retries, the JSON envelope.

One ``RateWindow`` is shared by every thread of a client: it lets at most ``minute_limit`` calls start in
a window and follows Class's own ``X-RateLimit-1Min-Remaining`` and ``X-RateLimit-ResetAfter`` headers, so
the client waits for the reset rather than meet a 429; a 429 that still comes is retried after the time
Class gave. Bodies are never logged or put in an error: they hold TFNs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from classxpm.source.class_api.config import ClassApiConfig
from classxpm.source.class_api.errors import (
    ClassResponseError,
    ClassTokenRejected,
    classify,
    remaining,
    reset_after,
)
from classxpm.xpm.errors import classify_transport_error
from classxpm.xpm.retry import RetryPolicy

log = logging.getLogger(__name__)
ACCEPT = "application/json"


class TokenSource(Protocol):
    """Where the client gets a business's access token."""

    business_code: str

    def access_token(self) -> str:
        """An access token good for a few more minutes."""

    def renewed_after_rejection(self, rejected: str) -> str:
        """A new access token after Class answered 401 to ``rejected``."""


class RateWindow:
    """Class's calls-per-window limit as this client keeps it, corrected by Class's headers."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit, self.window_seconds = limit, window_seconds
        self._monotonic, self._sleep = monotonic, sleep
        self._lock = threading.Lock()
        self._resets_at: float | None = None
        self._left = limit
        self._window = 0
        self.waited = 0.0

    def acquire(self) -> int:
        """Block until one more call may start in the current window; returns the window's number."""
        with self._lock:
            while True:
                now = self._monotonic()
                if self._resets_at is None or now >= self._resets_at:
                    self._resets_at, self._left = now + self.window_seconds, self.limit
                    self._window += 1
                if self._left > 0:
                    self._left -= 1
                    return self._window
                wait = self._resets_at - now
                self.waited += wait
                self._sleep(wait)

    def observe(self, response: httpx.Response, window: int) -> None:
        """Take Class's word for the calls left and the time to the reset.

        An answer to a call started in an earlier window says nothing of this one and is ignored.
        """
        left, after = remaining(response), reset_after(response)
        if left is None or after is None:
            return
        with self._lock:
            if window == self._window:
                self._left = min(self._left, left)
                self._resets_at = self._monotonic() + after


class ClassApiClient:
    """GETs on ``{api_base_url}/{b|f}/...`` for one business, returning the envelope's ``Data``."""

    def __init__(
        self,
        config: ClassApiConfig,
        tokens: TokenSource,
        http: httpx.Client,
        window: RateWindow,
        policy: RetryPolicy,
    ) -> None:
        self.config, self.tokens, self._http, self.window, self._policy = config, tokens, http, window, policy
        self.calls = 0

    @property
    def business_code(self) -> str:
        """The business the token is for."""
        return self.tokens.business_code

    def get(self, path: str, what: str) -> Any:
        """GET ``path`` (after ``/api/1.0/``) and return its ``Data``.

        Raises:
            ClassTokenRejected: 401 again after a renewed token: a scope is not granted.
            ClassNotFound: 404.
            Retriable: Still failing after the retries (429, 5xx, no response).
        """
        token = self.tokens.access_token()
        try:
            response = self._policy.run(lambda: self._send(path, token), idempotent=True, what=what)
        except ClassTokenRejected:
            token = self.tokens.renewed_after_rejection(token)
            response = self._policy.run(lambda: self._send(path, token), idempotent=True, what=what)
        return _data(response, what)

    def _send(self, path: str, token: str) -> httpx.Response:
        window = self.window.acquire()
        url = f"{self.config.api_base_url.rstrip('/')}/{path}"
        headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
        try:
            response = self._http.get(url, headers=headers, timeout=self.config.timeout_seconds)
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, "Class") from None
        self.calls += 1
        self.window.observe(response, window)
        log.debug("GET %s -> HTTP %d", path, response.status_code)
        if error := classify(response):
            raise error
        return response


def _data(response: httpx.Response, what: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        raise ClassResponseError(f"{what}: Class answered with something other than JSON") from None
    if not isinstance(body, dict) or "Data" not in body:
        raise ClassResponseError(f"{what}: Class's answer is not its envelope (no Data)")
    if body.get("Errors"):
        raise ClassResponseError(f"{what}: Class answered 200 with errors")
    return body["Data"]
