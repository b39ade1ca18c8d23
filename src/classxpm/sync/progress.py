"""Progress of the upsert step, logged every 5% with an ETA from the tenant's rate budget."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Progress:
    """Counts funds done and write calls spent, and logs each 5% step once."""

    def __init__(
        self,
        funds: int,
        calls: int,
        calls_per_minute: int = 60,
        clock: Callable[[], float] = time.monotonic,
        *,
        step_name: str = "upsert",
        call_name: str = "write calls",
    ) -> None:
        self.funds, self.calls, self.calls_per_minute, self.clock = funds, calls, calls_per_minute, clock
        self.step_name, self.call_name = step_name, call_name
        self.done = self.spent = self._last_step = 0
        self._started = clock()

    def step(self, calls: int) -> None:
        """Record one fund done with ``calls`` write calls; log when a new 5% step is reached."""
        self.done += 1
        self.spent += calls
        percent = 100 * self.done // max(self.funds, 1)
        if percent // 5 > self._last_step // 5 or self.done == self.funds:
            self._last_step = percent
            log.info(
                "%s %d%%: %d of %d funds, %d of %d %s, ETA %s",
                self.step_name,
                percent,
                self.done,
                self.funds,
                self.spent,
                self.calls,
                self.call_name,
                self.eta(),
            )

    def eta(self) -> str:
        """Time left, at the slower of the pace so far and the per-minute budget."""
        left = max(self.calls - self.spent, 0)
        elapsed = max(self.clock() - self._started, 1e-6)
        pace = min(self.spent / elapsed if self.spent else float("inf"), self.calls_per_minute / 60)
        seconds = left / pace if pace else 0
        minutes, secs = divmod(round(seconds), 60)
        return f"{minutes}m{secs:02d}s"
