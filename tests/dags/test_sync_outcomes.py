"""How a sync DAG run ends when a task cannot finish: Airflow's outcome and the run's row in ``sync_runs``.

Real parts throughout: ``dag.test()``, PostgreSQL state, the demo Class database and the XPM simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from classxpm.sync.tables import sync_runs, tenant_leases

pytestmark = pytest.mark.postgres


def _runs(world) -> list[dict]:
    engine = sa.create_engine(world.state_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(sync_runs).order_by(sync_runs.c.started_at)).mappings().all()
    engine.dispose()
    return [dict(row) for row in rows]


def test_a_fatal_error_fails_the_run_at_once_and_ends_it_failed_with_the_reason(sync_world):
    sync_world.source("ALTER TABLE members RENAME TO members_gone")

    state, report = sync_world.run()

    [run] = _runs(sync_world)
    assert state == "failed"
    assert report is None
    assert run["status"] == "failed"
    assert run["finished_at"] is not None
    assert "members" in run["summary"]["reason"], "the reason names what to fix"


def test_a_spent_daily_quota_skips_the_run_saying_when_it_resets(sync_world):
    sync_world.sim.patch_config(day_limit=1)
    with sync_world.sim.api_client() as xpm:
        xpm.get("client.api/list")  # the tenant's one call of the day is spent before the sync starts

    state, report = sync_world.run()

    [run] = _runs(sync_world)
    assert state == "success", "a skip is not a failure: the next run goes on once the quota resets"
    assert report is None
    assert run["status"] == "skipped"
    assert "resets at" in run["summary"]["reason"]
    assert sync_world.writes() == 0


def test_a_run_whose_task_gave_up_on_retries_is_ended_failed_by_the_finish_task(sync_world):
    engine = sa.create_engine(sync_world.state_url)
    tenant = sync_world.sim.tenant_id
    until = datetime.now(UTC) + timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(tenant_leases).values(tenant_id=tenant, holder="another-run", expires_at=until)
        )
    engine.dispose()

    state, _ = sync_world.run()

    [run] = _runs(sync_world)
    assert state == "failed", "the lease is held: upsert is retried by Airflow, then fails"
    assert run["status"] == "failed"
    assert "failed before the report" in run["summary"]["reason"]


def test_not_authorised_skips_the_whole_run(sync_world):
    from classxpm.state.tables import xpm_grants

    engine = sa.create_engine(sync_world.state_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(xpm_grants))
    engine.dispose()

    state, report = sync_world.run()

    assert state == "success"
    assert report is None
    assert _runs(sync_world) == []
    assert sync_world.calls() == {}
