"""Per-tenant rate governor shared by every thread of a process.

XPM allows 5 concurrent calls, 60 a minute and 5,000 a day per tenant. The governor keeps at most 5 calls in
flight, spends a per-minute budget that the X-MinLimit-Remaining header corrects, and remembers
X-DayLimit-Remaining so a sync can plan. Across Airflow workers the ``xpm_api`` pool caps concurrency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from classxpm.xpm.config import DEFAULT_MINUTE_LIMIT
from classxpm.xpm.errors import Deferred

MAX_IN_FLIGHT = 5
MINUTE_LIMIT = DEFAULT_MINUTE_LIMIT
WINDOW_SECONDS = 60.0
WINDOW_MARGIN = 0.01


class TenantGovernor:
    """The call budget of one tenant in this process."""

    def __init__(
        self,
        max_in_flight: int = MAX_IN_FLIGHT,
        minute_limit: int = MINUTE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        # XPM opens its window when our first call arrives, a moment after we sent it: our window runs a
        # little longer, so its next call never lands in XPM's old, spent window.
        self._window = window_seconds * (1 + WINDOW_MARGIN)
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._minute_limit = minute_limit
        self._clock = clock
        self._sleep = sleep
        self._window_start = clock()
        self._minute_budget = minute_limit
        self._day_remaining: int | None = None
        self._deferred_until: float | None = None
        self._in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the in-flight slots and one unit of this minute's budget for a call.

        Raises:
            Deferred: The daily quota is known to be spent.
        """
        self._raise_if_deferred()
        with self._slots:
            self._spend_minute_budget()
            with self._lock:
                self._in_flight += 1
            try:
                yield
            finally:
                with self._lock:
                    self._in_flight -= 1

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the budgets from a response's X-MinLimit-Remaining and X-DayLimit-Remaining."""
        minute, day = _count(headers, "X-MinLimit-Remaining"), _count(headers, "X-DayLimit-Remaining")
        with self._lock:
            if minute is not None:
                self._follow_minute_window(minute)
            if day is not None:
                self._day_remaining = day
            self._note_limit_problem(headers)

    def _follow_minute_window(self, remaining: int) -> None:
        others = self._in_flight - 1  # sent before this answer, perhaps not yet counted by XPM
        if remaining > self._minute_budget + others:
            # XPM counts fixed windows of its own: more left than we thought means its window turned over.
            self._window_start = self._clock()
            self._minute_budget = max(0, min(remaining, self._minute_limit) - others)
        else:
            self._minute_budget = min(self._minute_budget, remaining)

    def _note_limit_problem(self, headers: Mapping[str, str]) -> None:
        problem = headers.get("X-Rate-Limit-Problem", "").lower()
        retry_after = float(headers.get("Retry-After") or self._window)
        if problem == "day":
            self._day_remaining = 0
            self._deferred_until = self._clock() + retry_after
        elif problem == "minute":
            # XPM's fixed window ends when Retry-After says; start the next one then.
            self._window_start = self._clock() + retry_after - self._window
            self._minute_budget = 0

    def remaining_daily(self) -> int | None:
        """Calls left today for this tenant as XPM last reported it; None before the first response."""
        with self._lock:
            return self._day_remaining

    def _raise_if_deferred(self) -> None:
        with self._lock:
            wait = None if self._deferred_until is None else self._deferred_until - self._clock()
        if wait is not None and wait > 0:
            raise Deferred(wait)

    def _spend_minute_budget(self) -> None:
        while True:
            with self._lock:
                wait = self._take_or_wait()
            if wait <= 0:
                return
            self._sleep(wait)

    def _take_or_wait(self) -> float:
        elapsed = self._clock() - self._window_start
        if elapsed >= self._window:
            self._window_start, self._minute_budget, elapsed = self._clock(), self._minute_limit, 0.0
        if self._minute_budget > 0:
            self._minute_budget -= 1
            return 0.0
        return self._window - elapsed


def _count(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value is not None and value.strip().isdigit() else None


class GovernorRegistry:
    """One governor per tenant; the module's ``PROCESS_GOVERNORS`` is shared by every thread of a process."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._governors: dict[str, TenantGovernor] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def for_tenant(
        self,
        tenant_id: str,
        minute_limit: int = MINUTE_LIMIT,
        max_in_flight: int = MAX_IN_FLIGHT,
        window_seconds: float = WINDOW_SECONDS,
    ) -> TenantGovernor:
        """Return the governor of ``tenant_id``, created on first use with the given limits."""
        with self._lock:
            if tenant_id not in self._governors:
                self._governors[tenant_id] = TenantGovernor(
                    max_in_flight,
                    minute_limit,
                    clock=self._clock,
                    sleep=self._sleep,
                    window_seconds=window_seconds,
                )
            return self._governors[tenant_id]

    def forget(self) -> None:
        """Drop every governor, so the next call starts from fresh budgets (a new process does the same)."""
        with self._lock:
            self._governors.clear()


PROCESS_GOVERNORS = GovernorRegistry()


def governor_for(tenant_id: str) -> TenantGovernor:
    """Return this process's one governor for ``tenant_id``."""
    return PROCESS_GOVERNORS.for_tenant(tenant_id)


def remaining_daily_quota(tenant_id: str) -> int | None:
    """Calls left today for ``tenant_id`` as last reported to this process; None when not yet known."""
    return governor_for(tenant_id).remaining_daily()
