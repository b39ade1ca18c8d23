"""forget_other_tenants: a business's links and watermark from another XPM account go, and only those."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from classxpm.sync.links import forget_other_tenants, linked_to
from classxpm.sync.tables import contact_links, fund_links, sync_runs, watermarks

AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
OLD, NEW = "tenant-old", "tenant-new"


def _fund(business: str, fund_id: str, tenant: str) -> dict:
    return {
        "business_id": business,
        "fund_id": fund_id,
        "tenant_id": tenant,
        "scope_code": fund_id.upper(),
        "client_uuid": f"c-{fund_id}",
    }


def _contact(business: str, fund_id: str, member_id: str) -> dict:
    return {
        "business_id": business,
        "member_id": member_id,
        "fund_id": fund_id,
        "contact_uuid": f"k-{member_id}",
    }


def _run(run_id: str, business: str, tenant: str, started: datetime = AT) -> dict:
    return {
        "run_id": run_id,
        "dag_id": "class_xpm_sync",
        "business_id": business,
        "tenant_id": tenant,
        "mode": "full",
        "sync_mode": "full",
        "dry_run": False,
        "started_at": started,
        "status": "success",
        "summary": {},
    }


def _world(state) -> None:
    with state.begin() as conn:
        conn.execute(
            sa.insert(fund_links),
            [_fund("b1", "f1", OLD), _fund("b1", "f2", OLD), _fund("b2", "f3", OLD)],
        )
        conn.execute(
            sa.insert(contact_links),
            [_contact("b1", "f1", "m1"), _contact("b1", "f2", "m2"), _contact("b2", "f3", "m3")],
        )
        conn.execute(sa.insert(sync_runs), [_run("r1", "b1", OLD), _run("r2", "b2", OLD)])
        conn.execute(
            sa.insert(watermarks),
            [
                {"business_id": b, "source_watermark": AT.replace(tzinfo=None), "run_id": r, "updated_at": AT}
                for b, r in (("b1", "r1"), ("b2", "r2"))
            ],
        )


def _count(state, table: sa.Table, business: str) -> int:
    with state.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.business_id == business)
        ).scalar_one()


def test_a_business_moved_to_another_account_loses_its_old_links_and_watermark(state):
    _world(state)
    with state.begin() as conn:
        change = forget_other_tenants(conn, "b1", NEW, "r3")
    assert (change.previous_tenants, change.funds, change.contacts) == ((OLD,), 2, 2)
    assert [_count(state, t, "b1") for t in (fund_links, contact_links, watermarks)] == [0, 0, 0]
    assert [_count(state, t, "b2") for t in (fund_links, contact_links, watermarks)] == [1, 1, 1]
    assert "The links of 2 funds and 2 members" in change.notice("Second Practice")


def test_the_same_account_keeps_everything(state):
    _world(state)
    with state.begin() as conn:
        assert forget_other_tenants(conn, "b1", OLD, "r3") is None
    assert linked_to(state, "b1", OLD) == 2
    assert _count(state, watermarks, "b1") == 1


def test_a_business_whose_last_run_was_elsewhere_loses_its_watermark_even_with_no_link(state):
    with state.begin() as conn:
        conn.execute(sa.insert(sync_runs), [_run("r1", "b1", OLD)])
        conn.execute(
            sa.insert(watermarks),
            {
                "business_id": "b1",
                "source_watermark": AT.replace(tzinfo=None),
                "run_id": "r1",
                "updated_at": AT,
            },
        )
        change = forget_other_tenants(conn, "b1", NEW, "r2")
    assert (change.previous_tenants, change.funds, change.contacts) == ((OLD,), 0, 0)
    assert _count(state, watermarks, "b1") == 0


def test_the_run_itself_does_not_count_as_an_earlier_run(state):
    with state.begin() as conn:
        conn.execute(sa.insert(sync_runs), [_run("r1", "b1", OLD)])
        assert forget_other_tenants(conn, "b1", NEW, "r1") is None
