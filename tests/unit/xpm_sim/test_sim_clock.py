from __future__ import annotations

from datetime import UTC, datetime, timedelta

from classxpm.xpm_sim.clock import SimClock

START = datetime(2030, 1, 1, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def test_scaled_time_runs_faster_and_jumps():
    real = FakeMonotonic()
    clock = SimClock(time_scale=60, start=START, monotonic=real)
    real.value += 1
    assert clock.now() == START + timedelta(seconds=60)
    clock.advance(3600)
    assert clock.now() == START + timedelta(seconds=3660)
    clock.set_scale(1)
    real.value += 1
    assert clock.now() == START + timedelta(seconds=3661)


def test_set_takes_naive_times_as_utc_and_real_seconds_round_up():
    clock = SimClock(time_scale=60, start=START, monotonic=FakeMonotonic())
    assert clock.set(datetime(2031, 5, 6, 7, 8, 9)) == datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert (clock.real_seconds(1800), clock.real_seconds(61), clock.real_seconds(0)) == (30, 2, 0)
