"""Scenario 4: a backfill larger than a day's quota, one nightly full sync a simulated day.

Each day runs the same scheduled full sync, with no parameter and no manual step; the simulator's clock
then moves on a day, which opens a new daily window. The per-minute limit is lifted here (scenario 2
measures it), so every 429 would be the daily limit's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.world import world
from classxpm.sync.run import SyncEnv

DAY_SECONDS = 86_400
MAX_DAYS = 30


@dataclass
class QuotaDay:
    """One day's run."""

    day: int
    calls: int
    """Calls XPM counted against the day (a 401 for the token that expired overnight is not counted)."""
    writes: int
    rejected: int
    counts: dict[str, int]


@dataclass
class QuotaRow:
    """The whole backfill."""

    funds: int
    day_limit: int
    reserve: int
    sendable: int
    days: list[QuotaDay] = field(default_factory=list)
    clients_in_xpm: int = 0

    @property
    def writing_days(self) -> int:
        """Days whose run wrote anything."""
        return sum(1 for day in self.days if day.writes)

    @property
    def fewest_days(self) -> int:
        """The fewest days the quota allows: every call the backfill needed, at the limit less the reserve."""
        needed = sum(day.calls for day in self.days if day.writes)
        return math.ceil(needed / (self.day_limit - self.reserve))

    @property
    def met(self) -> bool:
        """Everything sent in the fewest days, no 429, no day past the limit less the reserve."""
        within = all(day.calls <= self.day_limit - self.reserve for day in self.days)
        rejected = sum(day.rejected for day in self.days)
        failed = sum(day.counts.get("failed", 0) for day in self.days)
        complete = self.clients_in_xpm == self.sendable - failed and not self.days[-1].counts.get("deferred")
        return within and rejected == 0 and complete and self.writing_days == self.fewest_days

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived figures."""
        return {
            **asdict(self),
            "writing_days": self.writing_days,
            "fewest_days": self.fewest_days,
            "met": self.met,
        }


def run_quota(funds: int, seed: int, day_limit: int, reports: Path) -> QuotaRow:
    """Backfill ``funds`` funds against ``day_limit`` calls a day until a day's run defers nothing."""
    limits = {"minute_limit": 10_000_000, "day_limit": day_limit, "concurrent": 5}
    with world(funds, seed=seed, reports=reports, **limits) as bench:
        row: QuotaRow | None = None
        for day in range(1, MAX_DAYS + 1):
            bench.clear_calls()
            run = bench.sync("full")
            log = bench.calls()
            if row is None:
                row = QuotaRow(
                    funds, day_limit, int(day_limit * SyncEnv.reserve_fraction), _sendable(run.counts)
                )
            row.days.append(QuotaDay(day, log.spent, log.writes, log.rejected, run.counts))
            if not run.counts.get("deferred"):
                break
            bench.sim.advance_clock(DAY_SECONDS)
        row.clients_in_xpm = len(bench.sim.state()["clients"])
        return row


def _sendable(counts: dict[str, int]) -> int:
    return sum(
        n for status, n in counts.items() if status in ("created", "deferred", "linked", "updated", "failed")
    )
