"""Item 2: kill -9 the upsert task and the token refresh at chosen moments, then run them again.

The task code runs in a child process (``task_child.py``); the kill lands at a moment the test controls
from outside: a 429 burst with latency holds the first create in flight, a SHARE lock on a state table
holds the child between XPM's answer and its own commit, the simulator's call log counts writes landed.
"""

from __future__ import annotations

import json
import time

import pytest

from reliability.world import (
    clean_source,
    finish_child,
    holding,
    holdings,
    kill_when,
    outcomes_of,
    poll_until,
    source_fund_ids,
    start_child,
    table_locked,
    wait_until,
    waiting_on,
    writes_landed,
)

pytestmark = pytest.mark.postgres

FUNDS = 40


@pytest.fixture
def world(world_factory):
    world = world_factory(FUNDS)
    clean_source(world)
    return world


def upsert_child(world, ref):
    return start_child(world, "upsert", json.dumps(ref.to_xcom()))


def link_statuses(world) -> dict[str, int]:
    return dict(world.query("SELECT last_status, count(*) FROM fund_links GROUP BY last_status"))


def finish_and_check(world, ref, label: str) -> None:
    """Finish the run; every fund synced once, XPM holding each exactly once; a new run writes nothing."""
    from classxpm.sync import steps

    with world.env() as env:
        report = steps.finish(env, ref)
    logged = outcomes_of(world, ref.run_id)
    held = holdings(world, world.desired())
    world.sim.admin.delete("/_sim/calls")
    again = world.sync()
    writes = sum(
        n for key, n in world.sim.calls()["by_endpoint"].items() if key.split()[0] in {"POST", "PUT"}
    )
    counts = {k: n for k, n in report.counts.items() if n}
    print(
        f"{label}: {FUNDS} funds, {held.clients} clients in XPM, {len(held.duplicates)} duplicates, "
        f"{len(held.missing)} missing, outcomes {counts}, next full run made {writes} writes"
    )
    assert report.failed == 0
    assert set(logged) == source_fund_ids(world)
    assert set(logged.values()) == {1}, "one outcome per fund, re-run or not"
    assert held.duplicates == {}
    assert held.clients == held.expected, "one live client per fund"
    assert held.missing == set()
    assert held.orphan_contacts == 0
    assert held.wrong_contacts == set()
    assert again.counts["unchanged"] == FUNDS
    assert writes == 0


def test_killed_while_the_first_create_is_in_flight(world):
    ref = world.sync(upto="plan")
    world.sim.set_faults([{"endpoint": "POST client.api/add", "burst_429": 1, "latency_ms": 1500}])
    child = upsert_child(world, ref)
    burst_left = lambda: world.sim.admin.get("/_sim/faults").json()["rules"][0]["burst_429"]  # noqa: E731
    kill_when(child, lambda: burst_left() == 0)
    world.sim.set_faults([])
    assert world.clients() == [], "killed before XPM wrote anything"
    assert link_statuses(world) == {"creating": 1}, "the create was announced"
    finish_child(upsert_child(world, ref))
    finish_and_check(world, ref, "killed before a write")


def test_killed_after_the_write_before_its_link_is_recorded(world):
    ref = world.sync(upto="plan")
    with table_locked(world, "sync_outcomes"):
        child = upsert_child(world, ref)
        kill_when(child, lambda: waiting_on(world, "sync_outcomes") > 0 and writes_landed(world.sim) == 1)
    assert len(world.clients()) == 1, "XPM holds the client"
    assert link_statuses(world) == {"creating": 1}, "but the state only knows it was announced"
    finish_child(upsert_child(world, ref))
    finish_and_check(world, ref, "killed after a write, before its link")


def test_killed_twice_mid_batch(world):
    ref = world.sync(upto="plan")
    kill_when(upsert_child(world, ref), lambda: writes_landed(world.sim) >= 10)
    first = writes_landed(world.sim)
    kill_when(upsert_child(world, ref), lambda: writes_landed(world.sim) >= first + 12)
    second = writes_landed(world.sim)
    print(f"mid-batch: killed after {first} creates, then again after {second} creates")
    finish_child(upsert_child(world, ref))
    finish_and_check(world, ref, "killed twice mid-batch")


def test_a_killed_runs_lease_lapses_and_the_next_run_proceeds(world, monkeypatch):
    from classxpm.db import make_engine
    from classxpm.sync import steps
    from classxpm.sync.lease import HEARTBEAT_VARIABLE, TTL_VARIABLE, lease_state
    from classxpm.xpm.auth import utcnow

    monkeypatch.setenv(TTL_VARIABLE, "5")
    monkeypatch.setenv(HEARTBEAT_VARIABLE, "0.5")
    dead = world.sync(upto="plan")
    kill_when(upsert_child(world, dead), lambda: writes_landed(world.sim) >= 10)
    killed = time.monotonic()
    engine = make_engine(world.state_url)
    assert lease_state(engine, dead.tenant_id).holder == dead.run_id, "the killed run still holds the lease"
    ref = world.sync(upto="plan")
    lapsed = lambda: not lease_state(engine, ref.tenant_id).alive(utcnow())  # noqa: E731
    poll_until(lapsed, "the killed run's lease lapsing", timeout=60)
    waited = time.monotonic() - killed
    with world.env() as env:
        counts = steps.upsert_funds(env, ref)
    held = lease_state(engine, ref.tenant_id)
    engine.dispose()
    print(f"killed run's 5 s lease lapsed {waited:.1f} s after the kill; the next run wrote {counts}")
    assert held.holder == ref.run_id
    finish_and_check(world, ref, "after a killed run's lease lapsed")


def token_calls(world) -> list:
    return [e["status"] for e in world.sim.calls()["entries"] if e["endpoint"] == "POST /connect/token"]


def test_refresh_killed_between_xero_rotating_the_token_and_storing_it(world):
    from classxpm.db import make_engine
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tokens import TokenStore

    engine = make_engine(world.state_url)
    store = TokenStore(engine, load_cipher())
    stored = store.require(world.business_id).tokens.refresh_token
    world.sim.set_faults([{"endpoint": "POST /connect/token", "latency_ms": 1000}])
    world.sim.admin.delete("/_sim/calls")
    child = start_child(world, "refresh")
    wait_until(child, lambda: holding(world, "xpm_grants", "RowShareLock") > 0)
    with table_locked(world, "xpm_grants"):
        kill_when(child, lambda: waiting_on(world, "xpm_grants") > 0 and token_calls(world) == [200])
    world.sim.set_faults([])
    assert store.require(world.business_id).tokens.refresh_token == stored, "the rotation was never stored"
    world.sim.advance_clock(25 * 60)
    refreshed = finish_child(start_child(world, "refresh"))
    grant = store.require(world.business_id)
    print(
        f"refresh killed after Xero rotated the token: token calls {token_calls(world)}; 25 min later "
        f"the stored (rotated-out) token still refreshed {refreshed.strip()}; "
        f"grant valid: {not grant.invalid_reason}"
    )
    assert grant.tokens.refresh_token != stored
    assert grant.invalid_reason is None
    with world.env() as env:
        assert env.open_api(world.business_id).list_clients() == [], "the new token works"
    engine.dispose()
