"""The sync's scale path: upsert mapped over batches, and several businesses each with its own tenant."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fixtures.sync_world import authorise, connection_env

pytestmark = pytest.mark.postgres

SECOND_BUSINESS, SECOND_TENANT = "b-second", "Second Practice"


def _xpm_state(world, tenant_id: str) -> dict[str, tuple]:
    """What XPM holds for a tenant, without the ids and times that differ between two runs."""
    state = world.sim.state()
    contacts = {c["UUID"]: c for c in state["contacts"]}
    skip = {"UUID", "_tenant", "_contacts", "_created", "_modified"}
    return {
        client["ExportCode"]: (
            tuple(sorted((k, v) for k, v in client.items() if k not in skip)),
            tuple(sorted(contacts[link["UUID"]]["Name"] for link in client["_contacts"])),
        )
        for client in state["clients"]
        if client["_tenant"] == tenant_id
    }


def _start_afresh(world) -> None:
    from classxpm.state.migrations import upgrade
    from classxpm.xpm.governor import PROCESS_GOVERNORS

    world.sim.reset()
    world.sim.patch_config(minute_limit=100_000)
    engine = sa.create_engine(world.state_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    upgrade(world.state_url)
    PROCESS_GOVERNORS.forget()
    authorise(world.state_url, world.sim, world.business_id)


def test_a_run_mapped_over_several_batches_leaves_xpm_as_one_batch_does(sync_world):
    state, report = sync_world.run(batch_size=4)
    assert state == "success"
    assert sync_world.calls()["POST client.api/add"] == report["counts"]["created"] == 30
    batched = _xpm_state(sync_world, sync_world.sim.tenant_id)
    _start_afresh(sync_world)
    assert sync_world.run()[0] == "success"
    assert _xpm_state(sync_world, sync_world.sim.tenant_id) == batched


def _add_second_business(world) -> str:
    world.sim.patch_config(reauth_keeps_old_refresh=True)
    created = world.sim.seed(
        {
            "tenants": [{"name": SECOND_TENANT}],
            "users": [{"email": "demo@practice.example", "tenants": [SECOND_TENANT]}],
        }
    )
    world.source("INSERT INTO businesses (business_id, name) VALUES (:b, 'Second & Co')", b=SECOND_BUSINESS)
    for n in range(5):
        world.source(
            "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
            "VALUES (:f, :b, :c, :name, '2026-01-01', '2026-01-01')",
            f=f"second-{n}",
            b=SECOND_BUSINESS,
            c=f"SECOND{n:02d}",
            name=f"Second Practice Fund {n}",
        )
    authorise(world.state_url, world.sim, SECOND_BUSINESS, tenant=SECOND_TENANT)
    return created["tenants"][0]["id"]


def test_each_business_syncs_into_its_own_tenant_in_one_run(sync_world):
    second_tenant = _add_second_business(sync_world)
    state, _ = sync_world.run()
    assert state == "success"
    first = _xpm_state(sync_world, sync_world.sim.tenant_id)
    second = _xpm_state(sync_world, second_tenant)
    assert len(first) == 30
    assert sorted(second) == [f"SECOND{n:02d}" for n in range(5)]
    by_tenant = sync_world.sim.calls()["by_tenant"]
    assert by_tenant[second_tenant] >= 6, "the second tenant's calls count against its own budget"
    assert by_tenant[sync_world.sim.tenant_id] >= 31


def test_upsert_batches_of_one_tenant_spend_one_shared_budget_and_meet_no_429(sync_world, monkeypatch):
    sync_world.sim.patch_config(minute_limit=12, time_scale=30)  # a minute is 2 real seconds
    limits = {"minute_limit": 12, "rate_window_seconds": 2.0}
    for name, value in connection_env(
        sync_world.class_url, sync_world.state_url, sync_world.sim, **limits
    ).items():
        monkeypatch.setenv(name, value)
    state, report = sync_world.run(batch_size=4)
    assert state == "success"
    assert report["counts"]["created"] == 30
    tenant = sync_world.sim.tenant_id
    entries = [
        e for e in sync_world.sim.calls()["entries"] if e["tenant"] == tenant and ".api/" in e["endpoint"]
    ]
    assert [e["status"] for e in entries].count(429) == 0, "no rate-limit retry"
    assert len(entries) > 2 * 12, "the run spanned several of XPM's minutes"
    taken = sync_world.state_rows("SELECT taken FROM xpm_rate_budgets WHERE tenant_id = :t", t=tenant)
    assert taken == [(len(entries),)], "every call of every batch went through the tenant's one shared budget"
