"""XpmSession: one httpx client and one retry policy for an app registration, handing out API clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

import httpx

from classxpm.xpm.api import XpmApi
from classxpm.xpm.auth import Clock, IdentityClient, MemoryTokenSource, TokenSet, TokenSource, utcnow
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.governor import PROCESS_GOVERNORS, Governors
from classxpm.xpm.retry import RetryPolicy
from classxpm.xpm.transport import Transport


class XpmSession:
    """Owns the HTTP connection pool; close it (or use it as a context manager) when done."""

    def __init__(
        self,
        config: XpmConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = utcnow,
        http: httpx.Client | None = None,
        governors: Governors = PROCESS_GOVERNORS,
    ) -> None:
        self.config = config
        self.policy = RetryPolicy(config.retry, sleep=sleep)
        self.http = http or httpx.Client(timeout=config.timeout_seconds, follow_redirects=False)
        self.clock = clock
        self.governors = governors
        self.identity = IdentityClient(config, self.http, self.policy, clock)

    def api(self, tokens: TokenSource) -> XpmApi:
        """Return an API client that authorises its calls from ``tokens``."""
        transport = Transport(self.config, tokens, self.http, policy=self.policy, governors=self.governors)
        return XpmApi(transport, self.config.connections_url)

    def api_for_tokens(self, tokens: TokenSet) -> XpmApi:
        """Return an API client on a token set held in memory (the login flow, scripts)."""
        return self.api(MemoryTokenSource(self.identity, tokens, self.clock))

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.http.close()

    def __enter__(self) -> XpmSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
