from __future__ import annotations

from datetime import UTC, datetime

from classxpm.xpm_sim.clock import SimClock
from classxpm.xpm_sim.config import SimConfig
from classxpm.xpm_sim.limits import RateLimiter


def _limiter(**fields):
    clock = SimClock(start=datetime(2030, 1, 1, tzinfo=UTC), monotonic=lambda: 0.0)
    config = SimConfig().patched(fields)
    return RateLimiter(lambda: config, clock), clock


def test_fixed_minute_window_starts_at_the_first_call():
    limiter, clock = _limiter(minute_limit=2)
    clock.advance(30)
    for _ in range(2):
        assert limiter.admit("t").problem is None
        limiter.release("t")
    clock.advance(59)
    refused = limiter.admit("t")
    assert refused.problem == "minute"
    assert refused.headers["Retry-After"] == "1"
    clock.advance(1)
    assert limiter.admit("t").problem is None


def test_concurrency_slots_are_held_until_released():
    limiter, _ = _limiter(concurrent_limit=2)
    assert [limiter.admit("t").problem for _ in range(3)] == [None, None, "concurrent"]
    limiter.release("t")
    assert limiter.admit("t").problem is None


def test_concurrent_retry_after_can_be_left_out():
    limiter, _ = _limiter(concurrent_limit=1, concurrent_retry_after=False)
    limiter.admit("t")
    assert "Retry-After" not in limiter.admit("t").headers


def test_refused_calls_do_not_count():
    limiter, _ = _limiter(minute_limit=1, day_limit=10)
    limiter.admit("t")
    limiter.release("t")
    limiter.admit("t")
    assert limiter.admit("u").headers["X-AppMinLimit-Remaining"] == "9998"
