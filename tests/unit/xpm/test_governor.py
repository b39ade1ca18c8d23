from __future__ import annotations

import threading

import pytest

from classxpm.xpm.errors import Deferred
from classxpm.xpm.governor import TenantGovernor, governor_for


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_minute_budget_waits_for_the_next_window():
    time = FakeTime()
    governor = TenantGovernor(minute_limit=2, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        with governor.slot():
            time.now += 1
    assert time.sleeps == [pytest.approx(58.6)], "the window runs 1% longer than XPM's minute"


def test_min_limit_header_lowers_the_budget():
    time = FakeTime()
    governor = TenantGovernor(minute_limit=60, clock=time.clock, sleep=time.sleep)
    governor.observe({"X-MinLimit-Remaining": "0", "X-DayLimit-Remaining": "4321"})
    with governor.slot():
        pass
    assert time.sleeps == [pytest.approx(60.6)]
    assert governor.remaining_daily() == 4321


def test_a_turned_over_xpm_window_restores_the_budget_at_once():
    time = FakeTime()
    governor = TenantGovernor(minute_limit=10, clock=time.clock, sleep=time.sleep)
    for remaining in ("9", "8", "7", "9"):  # XPM's fixed window turned over before the last answer
        with governor.slot():
            governor.observe({"X-MinLimit-Remaining": remaining})
    for _ in range(9):
        with governor.slot():
            pass
    assert time.sleeps == [], "13 calls in our minute: XPM's window, not ours, is the one that counts"
    with governor.slot():
        pass
    assert time.sleeps == [pytest.approx(60.6)]


def test_answers_to_calls_in_flight_do_not_restore_spent_budget():
    time = FakeTime()
    governor = TenantGovernor(minute_limit=5, clock=time.clock, sleep=time.sleep)
    with governor.slot(), governor.slot(), governor.slot():
        governor.observe({"X-MinLimit-Remaining": "4"})  # the first of three calls answered
    with governor.slot(), governor.slot():
        pass
    with governor.slot():
        pass
    assert time.sleeps == [pytest.approx(60.6)], "5 calls a minute, not 5 plus the 2 still in flight"


def test_daily_quota_spent_defers_without_a_call():
    governor = TenantGovernor()
    governor.observe({"X-Rate-Limit-Problem": "day", "Retry-After": "5000"})
    assert governor.remaining_daily() == 0
    with pytest.raises(Deferred), governor.slot():
        pass


def test_at_most_five_in_flight():
    governor = TenantGovernor(max_in_flight=5)
    release = threading.Event()
    inside = []
    peak = []
    lock = threading.Lock()

    def call():
        with governor.slot():
            with lock:
                inside.append(1)
                peak.append(len(inside))
            release.wait(5)
            with lock:
                inside.pop()

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    while len(peak) < 5:
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join()
    assert max(peak) == 5


def test_one_governor_per_tenant_per_process():
    assert governor_for("tenant-a") is governor_for("tenant-a")
    assert governor_for("tenant-a") is not governor_for("tenant-b")
