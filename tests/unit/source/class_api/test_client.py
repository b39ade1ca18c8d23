"""The rate window keeps Class's limit with injected time: nothing sleeps."""

from __future__ import annotations

import httpx

from classxpm.source.class_api.client import RateWindow


class Clock:
    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def headers(remaining: int, reset_after: str) -> httpx.Response:
    values = {"X-RateLimit-1Min-Remaining": str(remaining), "X-RateLimit-ResetAfter": reset_after}
    return httpx.Response(200, headers=values)


def test_calls_past_the_limit_wait_for_the_next_window():
    clock = Clock()
    window = RateWindow(3, 60.0, clock, clock.sleep)
    for _ in range(3):
        window.acquire()
    assert clock.sleeps == []
    window.acquire()
    assert clock.sleeps == [60.0]


def test_class_headers_tighten_the_window():
    clock = Clock()
    window = RateWindow(500, 60.0, clock, clock.sleep)
    number = window.acquire()
    window.observe(headers(0, "7"), number)
    window.acquire()
    assert clock.sleeps == [7.0]


def test_an_answer_from_an_earlier_window_is_ignored():
    clock = Clock()
    window = RateWindow(1, 10.0, clock, clock.sleep)
    earlier = window.acquire()
    clock.now = 10.0
    window.acquire()  # a new window
    window.observe(headers(0, "9"), earlier)
    clock.now = 20.0
    window.acquire()
    assert clock.sleeps == []
