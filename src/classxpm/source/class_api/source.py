"""The Class API as the sync's source: one OAuth client's settings, HTTP pool and rate window.

Built once per task by the composition root (``classxpm.airflow.resources``); each business is read with
its own stored grant, all through the one rate window Class counts per OAuth client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from classxpm.mapping.api_source import ApiSourceMapping
from classxpm.source.class_api.auth import ClassIdentity
from classxpm.source.class_api.client import ClassApiClient, RateWindow
from classxpm.source.class_api.config import ClassApiConfig
from classxpm.source.class_api.reader import BusinessRead, BusinessReader
from classxpm.xpm.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Engine

    from classxpm.state.crypto import TokenCipher


@dataclass
class ClassApiSource:
    """Reads businesses through the Class API; close it when done (it holds an HTTP pool)."""

    config: ClassApiConfig
    mapping: ApiSourceMapping
    http: httpx.Client = field(default_factory=httpx.Client)
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    """Its ``sleep`` is the client's only way to wait (retries and the rate window): tests inject one."""
    monotonic: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        retry = self.policy
        self.policy = RetryPolicy(self.config.retry, retry.should_retry, retry.sleep, retry.jitter)
        limit, window = self.config.minute_limit, self.config.rate_window_seconds
        self.window = RateWindow(limit, window, self.monotonic, self.policy.sleep)
        self.identity = ClassIdentity(self.config, self.http, self.policy)
        self.calls = 0

    def client(self, state: Engine, cipher: TokenCipher, business_id: str) -> ClassApiClient:
        """A client for ``business_id`` on its stored grant.

        Raises:
            ClassNotAuthorised: The business has no Class grant.
            Reauthorise: Class refused its grant earlier.
        """
        from classxpm.state.class_grants import ClassGrantStore, StoredClassTokens

        tokens = StoredClassTokens(ClassGrantStore(state, cipher), business_id, self.identity)
        return ClassApiClient(self.config, tokens, self.http, self.window, self.policy)

    def read(
        self, state: Engine, cipher: TokenCipher, business_id: str, fund_codes: Sequence[str] = ()
    ) -> BusinessRead:
        """Read the business's funds (only ``fund_codes`` when given) into database-shaped chunks."""
        client = self.client(state, cipher, business_id)
        scopes = frozenset(client.tokens.scopes)  # type: ignore[attr-defined]
        read = BusinessReader(client, self.mapping, scopes=scopes).read(business_id, fund_codes)
        self.calls += client.calls
        return read

    def close(self) -> None:
        """Close the HTTP pool."""
        self.http.close()
