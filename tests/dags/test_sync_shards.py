"""Many businesses in one run: shards of businesses per task, one business's failure holding back no other.

Five businesses, each its own XPM tenant, two a shard (three shards): one business's grant is refused by
Xero during the run, one has a fund the gate holds back. The others sync; XPM holds each fund once; the
reports and the sync runs say per business what happened; the shard with the refused grant fails its
report task, the others succeed; a re-run, and the compact incremental DAG, write nothing (``start``
leaves the refused grant out from then on, as it always did). On SQLite and
PostgreSQL state databases, with ``dag.test()``, the demo Class database and the XPM simulator.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from fixtures.sync_world import authorise, make_sync_world

EXTRA = ("b-shard-1", "b-shard-2", "b-shard-3", "b-shard-4")
FUNDS_EACH = 4
QUARANTINED, REFUSED = "b-shard-2", "b-shard-3"
BAD_TFN = "123456789"  # fails the TFN check digit: the gate holds the fund back


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shard_world(request, tmp_path, xpm_sim, fernet_key, monkeypatch):
    """The demo business and four more, each with its own tenant and grant; two businesses a shard."""
    state_url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    world = make_sync_world(tmp_path, state_url, xpm_sim, monkeypatch)
    monkeypatch.setenv("CLASSXPM_SHARD_BUSINESSES", "2")
    world.sim.patch_config(reauth_keeps_old_refresh=True)
    tenants = [f"Practice {business}" for business in EXTRA]
    world.sim.seed(
        {
            "tenants": [{"name": name} for name in tenants],
            "users": [{"email": "demo@practice.example", "tenants": tenants}],
        }
    )
    for business, tenant in zip(EXTRA, tenants, strict=True):
        world.source("INSERT INTO businesses (business_id, name) VALUES (:b, :name)", b=business, name=tenant)
        for n in range(FUNDS_EACH):
            world.source(
                "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, tfn, created_at, "
                "updated_at) VALUES (:f, :b, :c, :name, :tfn, '2026-01-01', '2026-01-01')",
                f=f"{business}-{n}",
                b=business,
                c=f"{business.upper().replace('-', '')}F{n}",
                name=f"{tenant} Fund {n}",
                tfn=BAD_TFN if business == QUARANTINED and n == 0 else None,
            )
        authorise(state_url, world.sim, business, tenant=tenant)
    world.clear_calls()
    return world


def _refuse_grant(world, business: str) -> None:
    """Xero refuses the business's grant at its next refresh: its access token is spent, its refresh token
    one Xero never issued."""
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tables import xpm_grants

    engine = sa.create_engine(world.state_url)
    with engine.begin() as conn:
        conn.execute(
            sa.update(xpm_grants)
            .where(xpm_grants.c.business_id == business)
            .values(
                access_expires_at=datetime.now(UTC) - timedelta(hours=1),
                refresh_token=load_cipher().encrypt("a-refresh-token-xero-never-issued"),
                previous_refresh_token=None,
            )
        )
    engine.dispose()


def _runs(world, dag_id: str) -> dict[str, tuple[str, str]]:
    rows = world.state_rows(
        "SELECT business_id, status, summary FROM sync_runs WHERE dag_id = :d ORDER BY started_at", d=dag_id
    )
    return {business: (status, _reason(summary)) for business, status, summary in rows}


def _reason(summary) -> str:
    import json

    summary = json.loads(summary) if isinstance(summary, str) else summary or {}
    return summary.get("reason", "")


def _task_states(run, task_id: str) -> dict[int, str]:
    return {ti.map_index: str(ti.state) for ti in run.get_task_instances() if ti.task_id == task_id}


def _clients_by_tenant(world) -> Counter:
    return Counter((client["_tenant"], client["ExportCode"]) for client in world.clients())


def test_a_refused_grant_and_a_held_back_fund_hold_back_no_other_business_of_the_run(shard_world):
    world = shard_world
    _refuse_grant(world, REFUSED)
    businesses = sorted([world.business_id, *EXTRA])
    refused_shard = businesses.index(REFUSED) // 2

    run, reports = world.dag_run()

    assert str(run.state) == "failed", "a business whose grant Xero refused fails the run"
    assert _task_states(run, "extract") == {0: "success", 1: "success", 2: "success"}, "three shards"
    assert _task_states(run, "report") == {
        i: "failed" if i == refused_shard else "success" for i in range(3)
    }, "only the refused business's shard fails"
    by_business = {report["business_id"]: report for report in reports}
    assert sorted(by_business) == [b for b in businesses if b != REFUSED]
    runs = _runs(world, "class_xpm_sync")
    assert runs[REFUSED][0] == "failed"
    assert "authoris" in runs[REFUSED][1].lower(), "the run says the grant must be authorised again"
    assert {b: status for b, (status, _) in runs.items() if b != REFUSED} == dict.fromkeys(
        by_business, "success"
    )
    held = by_business[QUARANTINED]
    assert held["counts"]["quarantined"] == 1
    assert held["counts"]["created"] == FUNDS_EACH - 1
    assert [p["status"] for p in held["problems"]] == ["quarantined"]
    assert "TFN fails its check digit" in held["problems"][0]["detail"]
    assert BAD_TFN not in str(reports), "no TFN in any report"
    assert by_business[world.business_id]["counts"]["created"] == 30
    clients = _clients_by_tenant(world)
    assert set(clients.values()) == {1}, "XPM holds each fund once"
    assert len(clients) == 30 + 2 * FUNDS_EACH + (FUNDS_EACH - 1)

    world.clear_calls()
    again, _ = world.dag_run()
    assert str(again.state) == "success", "start now leaves the refused grant out, as it always did"
    assert world.writes() == 0, "a re-run writes nothing"
    assert _clients_by_tenant(world) == clients

    incremental, reports = world.dag_run("class_xpm_incremental")
    assert str(incremental.state) == "success"
    assert world.writes() == 0
    assert _task_states(incremental, "sync") == {0: "success", 1: "success"}, "one task a shard of two"
    assert {r["business_id"] for r in reports} == set(by_business)
    assert REFUSED not in _runs(world, "class_xpm_incremental")
