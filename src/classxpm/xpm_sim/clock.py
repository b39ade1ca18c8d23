"""The one clock every part of the simulator reads: real time, scaled, and movable by the admin API."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated UTC time: ``time_scale`` simulated seconds pass per real second, plus admin jumps.

    Args:
        time_scale: Simulated seconds per real second (60 makes a rate-limit minute last one real second).
        start: The simulated time at creation; the real current time when omitted.
        monotonic: The real clock, injectable for tests.
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        start: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._scale = time_scale
        self._anchor_real = monotonic()
        self._anchor_sim = start or datetime.now(UTC)

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second."""
        return self._scale

    def now(self) -> datetime:
        """Return the simulated current time (aware, UTC)."""
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        elapsed = (self._monotonic() - self._anchor_real) * self._scale
        return self._anchor_sim + timedelta(seconds=elapsed)

    def set_scale(self, time_scale: float) -> None:
        """Change the scale from now on without jumping the simulated time."""
        with self._lock:
            self._reanchor(self._now_locked())
            self._scale = time_scale

    def advance(self, seconds: float) -> datetime:
        """Jump the simulated time forward (or back, when negative) and return the new time."""
        with self._lock:
            self._reanchor(self._now_locked() + timedelta(seconds=seconds))
            return self._anchor_sim

    def set(self, moment: datetime) -> datetime:
        """Jump the simulated time to ``moment`` (naive values are taken as UTC) and return it."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        with self._lock:
            self._reanchor(moment.astimezone(UTC))
            return self._anchor_sim

    def _reanchor(self, sim: datetime) -> None:
        self._anchor_real = self._monotonic()
        self._anchor_sim = sim

    def real_seconds(self, sim_seconds: float) -> int:
        """Return a simulated duration as whole real seconds (rounded up), as a client should wait it."""
        return max(0, math.ceil(sim_seconds / self._scale))
