"""Re-authorising a business to another XPM account: its next run links or creates every fund there.

The seed: a Class business is connected to one XPM account; re-authorising for a second account revokes the
first. Links to the first account's clients mean nothing in the second, so the runs after a re-authorisation
reset them (and the incremental watermark) and never write to the first account again.
"""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from fixtures.sync_world import authorise

pytestmark = pytest.mark.postgres

SECOND = "Second Practice"


def _second_tenant(world) -> str:
    world.sim.seed(
        {
            "tenants": [{"name": SECOND}],
            "users": [{"email": "demo@practice.example", "tenants": [SECOND]}],
        }
    )
    return next(t["id"] for t in world.sim.state()["tenants"] if t["name"] == SECOND)


def _codes_in(world, tenant_id: str) -> Counter:
    return Counter(c["ExportCode"] for c in world.clients() if c["_tenant"] == tenant_id)


def _link_tenants(world) -> set[str]:
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        tenants = set(conn.execute(sa.text("SELECT DISTINCT tenant_id FROM fund_links")).scalars())
    engine.dispose()
    return tenants


@pytest.mark.parametrize("dag_id", ["class_xpm_incremental", "class_xpm_sync"])
def test_the_next_run_after_a_reauthorisation_creates_every_fund_in_the_new_account_only(sync_world, dag_id):
    first_tenant = sync_world.sim.tenant_id
    state, before = sync_world.run()
    assert state == "success"
    in_first = _codes_in(sync_world, first_tenant)
    assert sum(in_first.values()) == before["counts"]["created"] > 0
    second_tenant = _second_tenant(sync_world)

    authorise(sync_world.state_url, sync_world.sim, sync_world.business_id, tenant=SECOND)
    sync_world.clear_calls()
    state, after = sync_world.run(dag_id)

    assert state == "success"
    assert after["tenant_id"] == second_tenant
    assert after["counts"]["created"] == before["counts"]["created"]
    assert _codes_in(sync_world, second_tenant) == in_first, "every fund once in the new account"
    assert _codes_in(sync_world, first_tenant) == in_first, "the previous account is left as it was"
    by_tenant = sync_world.sim.admin.get("/_sim/calls").json()["by_tenant"]
    assert first_tenant not in by_tenant, "no call reaches the previous account"
    assert _link_tenants(sync_world) == {second_tenant}
    [notice] = after["notices"]
    assert notice.startswith(f"Re-authorised to another XPM account ({SECOND}; before: {first_tenant})")
    assert f"The links of {before['counts']['created']} funds" in notice


def test_a_run_on_the_same_account_resets_nothing(sync_world):
    assert sync_world.run()[0] == "success"
    sync_world.clear_calls()
    state, again = sync_world.run()
    assert state == "success"
    assert again["notices"] == []
    assert sync_world.writes() == 0
