"""Per-tenant rate governor: the budget's rules (``Budget``) and the one shared by every thread of a process.

XPM allows 5 concurrent calls, 60 a minute and 5,000 a day per tenant. The governor keeps at most 5 calls in
flight, spends a per-minute budget that the X-MinLimit-Remaining header corrects, and remembers
X-DayLimit-Remaining so a sync can plan. ``TenantGovernor`` keeps the budget in this process;
``classxpm.state.rate_budget`` keeps the same budget in the state database, shared by every process and
worker that calls XPM for the tenant (the composition root wires that one into tasks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

from classxpm.xpm.config import DEFAULT_MINUTE_LIMIT
from classxpm.xpm.errors import Deferred

MAX_IN_FLIGHT = 5
MINUTE_LIMIT = DEFAULT_MINUTE_LIMIT
WINDOW_SECONDS = 60.0
WINDOW_MARGIN = 0.01


class RateGovernor(Protocol):
    """What the transport needs of a tenant's call budget, wherever the budget is held."""

    def slot(self, hold: float | None = None) -> AbstractContextManager[None]:
        """Hold an in-flight slot and a unit of this minute's budget for one call of at most ``hold`` s."""
        ...

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the budget from a response's headers."""
        ...

    def remaining_daily(self) -> int | None:
        """Calls left today as XPM last reported it; None when not known."""
        ...


class Governors(Protocol):
    """Hands out the one governor of each tenant (this process's, or the one every process shares)."""

    def for_tenant(
        self,
        tenant_id: str,
        minute_limit: int = MINUTE_LIMIT,
        max_in_flight: int = MAX_IN_FLIGHT,
        window_seconds: float = WINDOW_SECONDS,
    ) -> RateGovernor:
        """Return the governor of ``tenant_id`` with the given limits."""
        ...


@dataclass
class Budget:
    """The arithmetic of one tenant's budget: the same rules wherever the numbers are kept.

    Times are seconds on the governor's clock. ``window`` is XPM's minute plus our margin.
    """

    minute_limit: int
    window: float
    window_start: float
    minute_budget: int
    day_remaining: int | None = None
    deferred_until: float | None = None

    @classmethod
    def fresh(cls, minute_limit: int, window_seconds: float, now: float) -> Budget:
        """A full minute's budget whose window opens ``now``."""
        # XPM opens its window when our first call arrives, a moment after we sent it: our window runs a
        # little longer, so its next call never lands in XPM's old, spent window.
        return cls(minute_limit, window_seconds * (1 + WINDOW_MARGIN), now, minute_limit)

    def deferral(self, now: float) -> float | None:
        """Seconds until the spent day is over, or None when calls may go."""
        wait = None if self.deferred_until is None else self.deferred_until - now
        return wait if wait is not None and wait > 0 else None

    def take_or_wait(self, now: float) -> float:
        """Spend one unit of this minute's budget (returns 0), or say how long until the next window."""
        elapsed = now - self.window_start
        if elapsed >= self.window:
            self.window_start, self.minute_budget, elapsed = now, self.minute_limit, 0.0
        if self.minute_budget > 0:
            self.minute_budget -= 1
            return 0.0
        return self.window - elapsed

    def observe(self, headers: Mapping[str, str], unseen: int, now: float) -> None:
        """Correct the budget from one answer's headers.

        Args:
            headers: The answer's headers.
            unseen: Our other calls XPM may have counted after this one (its figure misses them).
            now: When the answer is read.
        """
        minute, day = _count(headers, "X-MinLimit-Remaining"), _count(headers, "X-DayLimit-Remaining")
        if minute is not None:
            self._follow_minute_window(minute, unseen, now)
        if day is not None:
            self.day_remaining = day
        self._note_limit_problem(headers, now)

    def _follow_minute_window(self, remaining: int, others: int, now: float) -> None:
        if remaining > self.minute_budget + others:
            # XPM counts fixed windows of its own: more left than we thought means its window turned over.
            self.window_start = now
            self.minute_budget = max(0, min(remaining, self.minute_limit) - others)
        else:
            self.minute_budget = min(self.minute_budget, remaining)
        if remaining == self.minute_limit - 1:
            # XPM opened its window on this call's arrival, which may be well after we sent it when a machine
            # is busy: ours starts no earlier than the answer, so it never ends before XPM's does.
            self.window_start = max(self.window_start, now)

    def _note_limit_problem(self, headers: Mapping[str, str], now: float) -> None:
        problem = headers.get("X-Rate-Limit-Problem", "").lower()
        retry_after = float(headers.get("Retry-After") or self.window)
        if problem == "day":
            self.day_remaining = 0
            self.deferred_until = now + retry_after
        elif problem == "minute":
            # XPM's fixed window ends when Retry-After says; start the next one then.
            self.window_start = now + retry_after - self.window
            self.minute_budget = 0


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
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._budget = Budget.fresh(minute_limit, window_seconds, clock())
        self._in_flight = 0

    @contextmanager
    def slot(self, hold: float | None = None) -> Iterator[None]:
        """Hold one of the in-flight slots and one unit of this minute's budget for a call.

        ``hold`` (how long the call may take) matters only to a shared budget: a thread gives its slot back
        even when the call fails.

        Raises:
            Deferred: The daily quota is known to be spent.
        """
        with self._lock:
            wait = self._budget.deferral(self._clock())
        if wait is not None:
            raise Deferred(wait)
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
        with self._lock:
            # the other calls in flight were sent before this answer, perhaps not yet counted by XPM
            self._budget.observe(headers, self._in_flight - 1, self._clock())

    def remaining_daily(self) -> int | None:
        """Calls left today for this tenant as XPM last reported it; None before the first response."""
        with self._lock:
            return self._budget.day_remaining

    def _spend_minute_budget(self) -> None:
        while True:
            with self._lock:
                wait = self._budget.take_or_wait(self._clock())
            if wait <= 0:
                return
            self._sleep(wait)


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
