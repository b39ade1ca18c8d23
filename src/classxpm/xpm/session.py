"""XpmSession: one httpx client and one retry policy for an app registration, handing out API clients."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from classxpm.xpm.api import XpmApi
from classxpm.xpm.auth import Clock, IdentityClient, MemoryTokenSource, TokenSet, TokenSource, utcnow
from classxpm.xpm.config import XpmConfig
from classxpm.xpm.governor import PROCESS_GOVERNORS, Governors
from classxpm.xpm.retry import RetryPolicy
from classxpm.xpm.transport import Transport


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings httpx would make for a client (certifi's CAs, ``SSL_CERT_FILE``), made once a process.

    Loading the CA bundle costs about 45 ms of CPU: a task working 50 businesses opens a client per business
    per step, which made this the largest cost of a no-change run. An ``SSLContext`` is safe to share.
    """
    return httpx.create_ssl_context()


def http_client(
    timeout: float, event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None = None
) -> httpx.Client:
    """An httpx client on the process's shared TLS context, following no redirect (OAuth answers them)."""
    hooks = {name: list(hooks) for name, hooks in (event_hooks or {}).items()}
    return httpx.Client(timeout=timeout, verify=tls_context(), follow_redirects=False, event_hooks=hooks)


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
        self.http = http or http_client(config.timeout_seconds)
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
