"""The tenant lease on SQLite and PostgreSQL: a heartbeat keeps it, stopping lets it lapse, loss is seen.

Time that decides expiry is injected (a clock each holder reads); the heartbeat thread beats on a short
real interval, and the tests wait for what it did (a renewed expiry, a detected loss) with a deadline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from classxpm.sync.lease import TenantBusy, TenantLease, force_release, lease_state

TENANT = "tenant-1"
TTL = timedelta(seconds=60)
BEAT = timedelta(milliseconds=20)
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.005)


def test_a_heartbeat_renews_the_lease_while_its_holder_lives(state):
    clock = Clock()
    lease = TenantLease(state, TENANT, "run-a", TTL, clock=clock)
    with lease.hold(BEAT) as heartbeat:
        first = lease_state(state, TENANT)
        clock.now += timedelta(seconds=45)
        wait_for(lambda: lease_state(state, TENANT).expires_at == clock.now + TTL, "a renewal")
        heartbeat.check()
    held = lease_state(state, TENANT)
    assert held.holder == "run-a"
    assert held.acquired_at == first.acquired_at == START, "renewing keeps the time it was taken"
    assert held.alive(clock.now)


def test_a_stopped_heartbeat_renews_no_more_and_the_lease_lapses_for_the_next_holder(state):
    clock = Clock()
    lease = TenantLease(state, TENANT, "run-a", TTL, clock=clock)
    heartbeat = lease.hold(BEAT)
    heartbeat.stop()
    assert not heartbeat.running
    stopped_at = lease_state(state, TENANT).expires_at
    other = TenantLease(state, TENANT, "run-b", TTL, clock=clock)
    with pytest.raises(TenantBusy, match="being synced by run-a"):
        other.acquire()
    clock.now = stopped_at + timedelta(seconds=1)
    assert not lease_state(state, TENANT).alive(clock.now)
    other.acquire()
    held = lease_state(state, TENANT)
    assert (held.holder, held.acquired_at) == ("run-b", clock.now)


def test_release_gives_the_lease_up_and_stops_nothing_else(state):
    clock = Clock()
    lease = TenantLease(state, TENANT, "run-a", TTL, clock=clock)
    with lease.hold(BEAT):
        pass
    lease.release()
    assert lease_state(state, TENANT) is None
    TenantLease(state, TENANT, "run-b", TTL, clock=clock).acquire()
    assert lease_state(state, TENANT).holder == "run-b"


def test_the_heartbeat_finds_its_lease_taken_and_the_writer_is_told_before_its_next_write(state):
    clock = Clock()
    lease = TenantLease(state, TENANT, "run-a", TTL, clock=Clock())
    with lease.hold(BEAT) as heartbeat:
        clock.now = START + TTL + timedelta(seconds=1)
        taker = TenantLease(state, TENANT, "run-b", TTL, clock=clock)
        taker.acquire()
        wait_for(lambda: heartbeat.lost is not None, "the loss")
        wait_for(lambda: not heartbeat.running, "the heartbeat's end: a lost lease is not renewed again")
        with pytest.raises(TenantBusy, match="lost the lease on tenant tenant-1 to run-b"):
            heartbeat.check()
    assert lease_state(state, TENANT).holder == "run-b"


def test_a_lease_released_by_an_operator_is_lost_to_its_holder(state):
    lease = TenantLease(state, TENANT, "run-a", TTL, clock=Clock())
    with lease.hold(BEAT) as heartbeat:
        assert force_release(state, TENANT, "run-a")
        wait_for(lambda: heartbeat.lost is not None, "the loss")
        with pytest.raises(TenantBusy, match="nobody"):
            heartbeat.check()


def test_a_writer_whose_heartbeat_stalled_past_the_expiry_renews_before_writing(state):
    clock = Clock()
    lease = TenantLease(state, TENANT, "run-a", TTL, clock=clock)
    heartbeat = lease.hold(timedelta(hours=1))
    clock.now += TTL
    heartbeat.check()
    assert lease_state(state, TENANT).expires_at == clock.now + TTL
    clock.now += TTL + timedelta(seconds=1)
    TenantLease(state, TENANT, "run-b", TTL, clock=clock).acquire()
    with pytest.raises(TenantBusy):
        heartbeat.check()
    heartbeat.stop()


def test_force_release_leaves_a_lease_another_holder_took_meanwhile(state):
    TenantLease(state, TENANT, "run-b", TTL, clock=Clock()).acquire()
    assert not force_release(state, TENANT, "run-a")
    assert lease_state(state, TENANT).holder == "run-b"
