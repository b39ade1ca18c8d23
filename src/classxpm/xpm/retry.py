"""In-request retry policy: composed predicates decide, capped exponential backoff with jitter waits.

Retry-After is honoured up to a cap; the daily limit is never slept through (Deferred is not retriable). The
sleep is injected so tests never sleep.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from classxpm.xpm.config import RetrySettings
from classxpm.xpm.errors import Retriable, XpmError

log = logging.getLogger(__name__)

T = TypeVar("T")
Predicate = Callable[[XpmError, bool], bool]
"""Decides on an error, given whether the request is safe to send twice (idempotent)."""


def is_retriable(error: XpmError, idempotent: bool) -> bool:
    """True for 429, 5xx and connection errors."""
    return isinstance(error, Retriable)


def safe_to_repeat(error: XpmError, idempotent: bool) -> bool:
    """True unless repeating might apply a write twice: a non-idempotent request that may have been applied.

    A 429 or 503 was refused before any work, and a refused connection never arrived.
    """
    if idempotent or not isinstance(error, Retriable):
        return True
    return not error.request_sent or error.status in {429, 503}


def all_of(*predicates: Predicate) -> Predicate:
    """Compose predicates: retry only when every one of them agrees."""
    return lambda error, idempotent: all(predicate(error, idempotent) for predicate in predicates)


def full_jitter(delay: float) -> float:
    """Spread a delay over its upper half so concurrent clients do not retry in step."""
    return random.uniform(delay / 2, delay)


DEFAULT_PREDICATE: Predicate = all_of(is_retriable, safe_to_repeat)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before sending a failed request again."""

    settings: RetrySettings = field(default_factory=RetrySettings)
    should_retry: Predicate = DEFAULT_PREDICATE
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    jitter: Callable[[float], float] = field(default=full_jitter, repr=False)

    def delay(self, error: XpmError, attempt: int) -> float:
        """Seconds to wait after failed ``attempt`` (1-based): Retry-After if given, else backoff; capped."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.settings.retry_after_cap)
        backoff = self.settings.backoff_base * 2 ** (attempt - 1)
        return self.jitter(min(backoff, self.settings.backoff_cap))

    def run(self, send: Callable[[], T], *, idempotent: bool, what: str) -> T:
        """Call ``send`` until it succeeds, the error is not retriable, or the attempts are spent."""
        attempt = 1
        while True:
            try:
                return send()
            except XpmError as error:
                if attempt >= self.settings.attempts or not self.should_retry(error, idempotent):
                    raise
                wait = self.delay(error, attempt)
                log.warning("%s failed (%s); attempt %d, retrying in %.1f s", what, error, attempt, wait)
                self.sleep(wait)
                attempt += 1
