"""One HTTP session to XPM with the bearer token, tenant header, timeout, rate governor and retry policy.

A 401 is answered by one refresh and one more try. Nothing secret is logged: only method, path, status and
Xero's correlation id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from classxpm.xpm.auth import TokenSource
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.errors import AccessTokenRejected, Reauthorise, classify, classify_transport_error
from classxpm.xpm.governor import PROCESS_GOVERNORS, Governors, RateGovernor, TenantGovernor
from classxpm.xpm.retry import RetryPolicy

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE", "HEAD"})
XML_HEADERS = {"Accept": "application/xml", "Content-Type": "application/xml"}


class Transport:
    """Sends authorised requests to XPM and returns successful responses, raising classified errors."""

    def __init__(
        self,
        config: XpmConfig,
        tokens: TokenSource,
        http: httpx.Client,
        *,
        policy: RetryPolicy | None = None,
        governors: Governors = PROCESS_GOVERNORS,
    ) -> None:
        self._config = config
        self._tokens = tokens
        self._http = http
        self._policy = policy or RetryPolicy(config.retry)
        tenant = tokens.tenant_id
        limits = {
            "minute_limit": config.minute_limit,
            "max_in_flight": config.max_in_flight,
            "window_seconds": config.rate_window_seconds,
        }
        self._governor: RateGovernor = (
            governors.for_tenant(tenant, **limits) if tenant else TenantGovernor(**limits)
        )

    @property
    def governor(self) -> RateGovernor:
        """The rate governor of this transport's tenant."""
        return self._governor

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        tenant: bool = True,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send ``method url`` (a path under the API base URL, or an absolute URL) with retries.

        ``timeout`` lengthens the configured timeout for a call known to be slow (the whole-practice list).

        Raises:
            XpmError: The classified failure once retries are spent or when it is not retriable.
        """
        target = url if "://" in url else f"{self._config.api_base_url.rstrip('/')}/{url.lstrip('/')}"
        wait = max(self._config.timeout_seconds, timeout or 0.0)
        call = _Call(method, target, params, body, tenant, wait)
        what = f"{method} {urlsplit(target).path}"
        return self._policy.run(
            lambda: self._send_authorised(call), idempotent=method in IDEMPOTENT_METHODS, what=what
        )

    def _send_authorised(self, call: _Call) -> httpx.Response:
        token = self._tokens.access_token()
        try:
            return self._send(call, token)
        except AccessTokenRejected:
            token = self._tokens.refreshed_after_rejection(token)
        try:
            return self._send(call, token)
        except AccessTokenRejected as exc:
            raise Reauthorise(f"a fresh access token was rejected too ({exc})") from None

    def _send(self, call: _Call, token: str) -> httpx.Response:
        headers = {**XML_HEADERS, "Authorization": f"Bearer {token}"}
        if call.tenant and self._tokens.tenant_id:
            headers["xero-tenant-id"] = self._tokens.tenant_id
        with self._governor.slot(call.timeout):
            response = self._exchange(call, headers)
            self._governor.observe(response.headers)
        log.debug(
            "%s %s -> HTTP %d (correlation %s)",
            call.method,
            urlsplit(call.url).path,
            response.status_code,
            response.headers.get("xero-correlation-id", "-"),
        )
        if error := classify(response):
            raise error
        return response

    def _exchange(self, call: _Call, headers: dict[str, str]) -> httpx.Response:
        try:
            return self._http.request(
                call.method,
                call.url,
                params=call.params,
                content=call.body,
                headers=headers,
                timeout=call.timeout,
            )
        except httpx.TransportError as exc:
            raise classify_transport_error(exc) from None


@dataclass(frozen=True)
class _Call:
    method: str
    url: str
    params: Mapping[str, str] | None
    body: bytes | None = field(repr=False)
    tenant: bool
    timeout: float
