"""The scheduler's loop time, read from its own log: ``Ran scheduling loop in %.2f ms`` lines.

Airflow's ``SchedulerJobRunner`` logs that line at DEBUG after every pass of its loop (logger
``airflow.jobs.scheduler_job_runner.SchedulerJobRunner``); a scheduler run with
``AIRFLOW__LOGGING__NAMESPACE_LEVELS=airflow.jobs.scheduler_job_runner=DEBUG`` writes it, each line
stamped in UTC (``2026-11-30T23:13:16.285447Z [debug    ] Ran scheduling loop in 914.14 ms [...]``).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

SCHEDULER_LOGGER = "airflow.jobs.scheduler_job_runner"
NAMESPACE_LEVELS = (("AIRFLOW__LOGGING__NAMESPACE_LEVELS", f"{SCHEDULER_LOGGER}=DEBUG"),)
"""The setting that makes the scheduler log its loop time."""
_LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(?:Z|[+-]00:?00)?\s.*?"
    r"Ran scheduling loop in (?P<ms>\d+(?:\.\d+)?) ms"
)


@dataclass(frozen=True)
class LoopTimes:
    """Loop durations (ms) of one window: how many, mean, nearest-rank p50 and p95, max."""

    count: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, durations: list[float]) -> LoopTimes:
        """The statistics of ``durations``; all None but the count when there are none."""
        if not durations:
            return cls(0, None, None, None, None)
        mean = round(statistics.fmean(durations), 1)
        return cls(len(durations), mean, percentile(durations, 50), percentile(durations, 95), max(durations))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form for results.json."""
        return asdict(self)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def loop_durations(lines: Iterable[str], start: datetime, end: datetime) -> list[float]:
    """The loop durations (ms) logged from ``start`` to ``end`` (aware datetimes), in log order."""
    found = []
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            continue
        at = datetime.fromisoformat(match["at"]).replace(tzinfo=UTC)
        if start <= at <= end:
            found.append(float(match["ms"]))
    return found
