"""Xero's API limits: per tenant 5 concurrent, 60 a minute, 5,000 a day; 10,000 a minute per app.

Windows are fixed: each starts at the first call after the previous one ended, so every tenant has
its own reset time, as Xero describes. Rejected calls do not count. One lock makes each admission
check-and-count atomic, so many concurrent clients never lose an update.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from classxpm.xpm_sim.clock import SimClock
from classxpm.xpm_sim.config import DAY_SECONDS, SimConfig

MINUTE = timedelta(seconds=60)
DAY = timedelta(seconds=DAY_SECONDS)


@dataclass
class _Window:
    length: timedelta
    start: datetime | None = None
    count: int = 0

    def roll(self, now: datetime) -> None:
        if self.start is None or now >= self.start + self.length:
            self.start, self.count = now, 0

    def seconds_left(self, now: datetime) -> float:
        return 0.0 if self.start is None else max(0.0, (self.start + self.length - now).total_seconds())


@dataclass
class _TenantCounters:
    minute: _Window = field(default_factory=lambda: _Window(MINUTE))
    day: _Window = field(default_factory=lambda: _Window(DAY))
    in_flight: int = 0


@dataclass(frozen=True)
class Admission:
    """The outcome of one admission: ``problem`` is None when admitted, else the breached limit."""

    problem: str | None
    headers: dict[str, str]


class RateLimiter:
    """Counts calls per tenant and per app, and admits or rejects each one.

    Args:
        config: Returns the current settings (they can change while the simulator runs).
        clock: The simulator's clock.
    """

    def __init__(self, config: Callable[[], SimConfig], clock: SimClock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._tenants: dict[str, _TenantCounters] = {}
        self._app = _Window(MINUTE)

    def reset(self) -> None:
        """Forget every count (admin reset)."""
        with self._lock:
            self._tenants.clear()
            self._app = _Window(MINUTE)

    def admit_app(self) -> Admission:
        """Admit a call that names no tenant (auth errors, /connections): only the app minute counts."""
        config, now = self._config(), self._clock.now()
        with self._lock:
            self._app.roll(now)
            if self._app.count >= config.app_minute_limit:
                return self._rejected("appminute", self._app.seconds_left(now), {})
            self._app.count += 1
            return Admission(None, self._app_headers(config))

    def admit(self, tenant: str) -> Admission:
        """Admit one call for ``tenant``, counting it everywhere, or say which limit it breaches.

        An admitted call holds a concurrency slot until :meth:`release`.
        """
        config, now = self._config(), self._clock.now()
        with self._lock:
            counters = self._tenants.setdefault(tenant, _TenantCounters())
            for window in (counters.minute, counters.day, self._app):
                window.roll(now)
            problem = self._breach(config, counters, now)
            if problem is not None:
                return problem
            counters.minute.count += 1
            counters.day.count += 1
            self._app.count += 1
            counters.in_flight += 1
            return Admission(None, self._tenant_headers(config, counters))

    def release(self, tenant: str) -> None:
        """Give back the concurrency slot an admitted call held."""
        with self._lock:
            self._tenants[tenant].in_flight -= 1

    def _breach(self, config: SimConfig, counters: _TenantCounters, now: datetime) -> Admission | None:
        headers = self._tenant_headers(config, counters)
        if counters.day.count >= config.day_limit:
            return self._rejected("day", counters.day.seconds_left(now), headers)
        if counters.minute.count >= config.minute_limit:
            return self._rejected("minute", counters.minute.seconds_left(now), headers)
        if self._app.count >= config.app_minute_limit:
            return self._rejected("appminute", self._app.seconds_left(now), headers)
        if counters.in_flight >= config.concurrent_limit:
            wait = 1.0 if config.concurrent_retry_after else None
            return self._rejected("concurrent", wait, headers)
        return None

    def _rejected(self, problem: str, sim_wait: float | None, headers: dict[str, str]) -> Admission:
        headers = {**headers, "X-Rate-Limit-Problem": problem}
        if sim_wait is not None:
            headers["Retry-After"] = str(max(1, self._clock.real_seconds(sim_wait)))
        return Admission(problem, headers)

    def _app_headers(self, config: SimConfig) -> dict[str, str]:
        return {"X-AppMinLimit-Remaining": str(max(0, config.app_minute_limit - self._app.count))}

    def _tenant_headers(self, config: SimConfig, counters: _TenantCounters) -> dict[str, str]:
        return {
            "X-DayLimit-Remaining": str(max(0, config.day_limit - counters.day.count)),
            "X-MinLimit-Remaining": str(max(0, config.minute_limit - counters.minute.count)),
            **self._app_headers(config),
        }
