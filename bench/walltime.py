"""Scenario 2: wall time of a first sync against the floor that XPM's per-minute limit sets.

The simulator runs with production limits (60 a minute, 5 at once) under ``--time-scale F``, and the
client's rate window follows it (60/F real seconds), so simulated minutes pass F times faster than real
ones. The floor is the calls the run made divided by 60: no client can be faster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.world import CallLog, world

MINUTE_LIMIT = 60
CONCURRENT = 5


@dataclass
class WallTimeRow:
    """One first sync against production limits, in simulated minutes."""

    funds: int
    time_scale: float
    calls: int
    """Calls XPM counted (a refused call is not counted, as XPM does not count it)."""
    writes: int
    rejected: int
    real_seconds: float
    run_minutes: float
    api_minutes: float
    floor_minutes: float
    counts: dict[str, int]

    @property
    def ratio(self) -> float:
        """The whole run's simulated time over the floor."""
        return self.run_minutes / self.floor_minutes if self.floor_minutes else 0.0

    @property
    def met(self) -> bool:
        """At most 1.10 times the floor and no 429 at all."""
        return within_floor(self.ratio, self.rejected)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the ratio."""
        return {**asdict(self), "ratio": round(self.ratio, 3), "met": self.met}


def within_floor(ratio: float, rejected: int) -> bool:
    """The rate-limit target: at most 1.10 times the floor and no 429 at all."""
    return ratio <= 1.10 and rejected == 0


def minutes(start: datetime, end: datetime) -> float:
    """Minutes from ``start`` to ``end``."""
    return (end - start).total_seconds() / 60


def api_span_minutes(log: CallLog) -> float:
    """Minutes from the first to the last XPM API call in ``log``."""
    stamps = [datetime.fromisoformat(e["at"]) for e in log.entries if ".api/" in e["endpoint"]]
    return round(minutes(min(stamps), max(stamps)), 2) if stamps else 0.0


def run_walltime(funds: int, seed: int, time_scale: float, reports: Path) -> WallTimeRow:
    """A first sync of ``funds`` funds at production limits, the simulator ``time_scale`` times faster."""
    limits = {"minute_limit": MINUTE_LIMIT, "day_limit": 5_000, "concurrent": CONCURRENT}
    with world(funds, seed=seed, time_scale=time_scale, reports=reports, **limits) as bench:
        began = bench.sim_now()
        run = bench.sync("full")
        ended = bench.sim_now()
        log = bench.calls()
    return WallTimeRow(
        funds=funds,
        time_scale=time_scale,
        calls=log.spent,
        writes=log.writes,
        rejected=log.rejected,
        real_seconds=round(sum(run.seconds.values()), 1),
        run_minutes=round(minutes(began, ended), 2),
        api_minutes=api_span_minutes(log),
        floor_minutes=round(log.spent / MINUTE_LIMIT, 2),
        counts=run.counts,
    )
