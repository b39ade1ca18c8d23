"""Item 3: the nightly and the incremental sync at once, two manual runs at once, four refreshers at once.

Each run is the sync's own steps in a thread of its own, all against one PostgreSQL state database and the
simulator. The tenant's lease lets one run write at a time; the one refused (TenantBusy) is retried once
the other has finished, as Airflow retries the task.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from reliability.world import (
    clean_source,
    finish_child,
    holdings,
    outcomes_of,
    source_fund_ids,
    start_child,
)

pytestmark = pytest.mark.postgres

FUNDS = 60


def run_with_retry(world, dag_id: str, mode: str, others_done: threading.Event, busy: list[str]):
    """One whole run; an upsert refused for the lease is tried again after the other run finished."""
    from classxpm.sync import steps
    from classxpm.sync.lease import TenantBusy

    ref = world.sync(dag_id, upto="plan", mode=mode)
    with world.env() as env:
        try:
            steps.upsert_funds(env, ref)
        except TenantBusy:
            busy.append(dag_id)
            assert others_done.wait(120), "the other run never finished"
            steps.upsert_funds(env, ref)
        return steps.finish(env, ref)


def two_at_once(world, first: tuple[str, str], second: tuple[str, str]) -> list:
    done = [threading.Event(), threading.Event()]
    busy: list[str] = []

    def run(index: int, dag_id: str, mode: str):
        try:
            return run_with_retry(world, dag_id, mode, done[1 - index], busy)
        finally:
            done[index].set()

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(run, i, dag, mode) for i, (dag, mode) in enumerate((first, second))]
        reports = [f.result(timeout=300) for f in futures]
    return reports, busy


def check(world, reports, busy, label: str) -> None:
    held = holdings(world, world.desired())
    lines = [f"{r.run_id.split('/')[0]}: { {k: n for k, n in r.counts.items() if n} }" for r in reports]
    print(
        f"{label}: {FUNDS} funds; {'; '.join(lines)}; lease refused {len(busy)} upsert(s); "
        f"{held.clients} clients in XPM, {len(held.duplicates)} duplicates, {len(held.missing)} missing"
    )
    for report in reports:
        logged = outcomes_of(world, report.run_id)
        assert set(logged) == source_fund_ids(world), "no outcome row lost"
        assert set(logged.values()) == {1}
        assert report.failed == 0
    assert sum(r.counts["created"] for r in reports) == FUNDS
    assert held.duplicates == {}
    assert held.clients == held.expected, "one live client per fund"
    assert held.missing == set()
    assert held.orphan_contacts == 0


@pytest.fixture
def world(world_factory):
    world = world_factory(FUNDS)
    clean_source(world)
    return world


def test_the_nightly_and_the_incremental_sync_at_once(world):
    reports, busy = two_at_once(world, ("class_xpm_sync", "full"), ("class_xpm_incremental", "incremental"))
    check(world, reports, busy, "nightly + incremental at once")


def test_two_manual_runs_at_once(world):
    reports, busy = two_at_once(world, ("class_xpm_sync", "full"), ("class_xpm_sync", "full"))
    check(world, reports, busy, "two manual runs at once")


def token_calls(world) -> list:
    return [e["status"] for e in world.sim.calls()["entries"] if e["endpoint"] == "POST /connect/token"]


def test_four_refresher_processes_at_once_leave_one_working_grant(world):
    from classxpm.db import make_engine
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tokens import TokenStore

    children = [start_child(world, "refresh") for _ in range(4)]
    outputs = [finish_child(child) for child in children]
    store = TokenStore(make_engine(world.state_url), load_cipher())
    grant = store.require(world.business_id)
    calls = token_calls(world)
    print(f"four refresher processes: token calls {calls}; grant valid: {grant.invalid_reason is None}")
    assert all(world.business_id in out for out in outputs)
    assert calls == [200] * 4, "each refresher waited for the row lock and rotated the latest token"
    assert store.business_ids() == [world.business_id]
    with world.env() as env:
        assert env.open_api(world.business_id).list_clients() == []


def test_four_threads_refused_the_same_token_refresh_it_once(world):
    from classxpm.db import make_engine
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tokens import StoredTokenSource, TokenStore
    from classxpm.xpm.session import XpmSession
    from fixtures.xpm_auth import sim_config

    engine = make_engine(world.state_url)
    store = TokenStore(engine, load_cipher())
    rejected = store.require(world.business_id).tokens.access_token
    with XpmSession(sim_config(world.sim)) as session:
        source = StoredTokenSource(store, world.business_id, session.identity)
        barrier = threading.Barrier(4)

        def refresher(_: int) -> str:
            barrier.wait()
            return source.refreshed_after_rejection(rejected)

        with ThreadPoolExecutor(4) as pool:
            tokens = list(pool.map(refresher, range(4)))
    calls = token_calls(world)
    print(f"four threads refused one access token: {len(set(tokens))} new token, token calls {calls}")
    assert len(set(tokens)) == 1
    assert calls == [200]
    assert store.require(world.business_id).tokens.access_token == tokens[0]
    engine.dispose()
