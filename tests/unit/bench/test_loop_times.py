"""The scheduler's loop-time lines, read from its log and summed up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bench.loop_times import LoopTimes, loop_durations, percentile

LOG = """\
2026-11-30T23:13:14.202316Z [warning  ] No visibility_timeout configured [airflow.providers.celery] loc=x:9
2026-11-30T23:13:16.285447Z [debug    ] Ran scheduling loop in 914.14 ms [airflow.jobs.scheduler_job_runner.\
SchedulerJobRunner] loc=scheduler_job_runner.py:1867
2026-11-30T23:13:17.502225Z [debug    ] Ran scheduling loop in 216.26 ms [airflow.jobs.scheduler_job_runner.\
SchedulerJobRunner] loc=scheduler_job_runner.py:1867
  ____________       _____________
2026-11-30T23:13:18.662987Z [debug    ] Ran scheduling loop in 160.39 ms [airflow.jobs.scheduler_job_runner.\
SchedulerJobRunner] loc=scheduler_job_runner.py:1867
2026-11-30T23:13:19.000001Z [debug    ] Next timed event is in 0.5 [airflow.jobs.scheduler_job_runner.\
SchedulerJobRunner] loc=scheduler_job_runner.py:1865
"""


def at(second: float) -> datetime:
    return datetime(2026, 11, 30, 23, 13, 0, tzinfo=UTC).replace(
        second=int(second), microsecond=round(second % 1 * 1e6)
    )


def test_every_loop_line_in_the_window_is_read_and_nothing_else():
    assert loop_durations(LOG.splitlines(), at(0), at(59)) == [914.14, 216.26, 160.39]


def test_lines_outside_the_window_are_left_out():
    assert loop_durations(LOG.splitlines(), at(17), at(18)) == [216.26]


def test_a_window_with_no_loop_line_gives_none():
    assert loop_durations(LOG.splitlines(), at(30), at(40)) == []


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [([5.0], 95, 5.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([float(n) for n in range(1, 101)], 95, 95.0)],
)
def test_percentiles_are_nearest_rank(values, pct, expected):
    assert percentile(values, pct) == expected


def test_loop_times_sum_up_the_durations():
    assert LoopTimes.of([100.0, 300.0, 200.0, 1000.0]) == LoopTimes(4, 400.0, 200.0, 1000.0, 1000.0)


def test_no_durations_give_a_count_of_zero_and_no_figures():
    assert LoopTimes.of([]).to_dict() == {
        "count": 0,
        "mean_ms": None,
        "p50_ms": None,
        "p95_ms": None,
        "max_ms": None,
    }
