"""Instant sync for real: scheduler, dag-processor, triggerer and LocalExecutor workers of their own.

Nobody triggers anything: a fund added in Class must reach the XPM simulator through the watcher's asset
event alone. The wait is on the condition, with a generous bound for a busy 2-core machine.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from bench.live import live_airflow
from bench.world import scratch_databases

from fixtures.sync_world import SyncWorld, authorise, connection_env

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(1800)]

START_BOUND, SYNC_BOUND = 600.0, 600.0


@pytest.fixture
def world(tmp_path, pg_url, xpm_sim, fernet_key) -> SyncWorld:
    from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
    from classxpm.state.migrations import upgrade

    class_url = f"sqlite:///{tmp_path / 'class.db'}"
    write_demo_data(class_url, 5, 11)
    upgrade(pg_url)
    xpm_sim.patch_config(minute_limit=100_000)
    authorise(pg_url, xpm_sim, DEMO_BUSINESS_ID)
    world = SyncWorld(class_url, pg_url, xpm_sim, tmp_path / "reports", DEMO_BUSINESS_ID)
    world.clear_planted_faults()
    return world


def _add_fund(world: SyncWorld, code: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    world.source(
        "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, updated_at) "
        "VALUES (:code, :b, :code, 'Instant Super Fund', :t, :t)",
        code=code,
        b=world.business_id,
        t=now,
    )


def test_a_fund_added_in_class_reaches_xpm_with_nobody_triggering_anything(world, tmp_path, fernet_key):
    env = {
        **connection_env(world.class_url, world.state_url, world.sim, minute_limit=100_000),
        "CLASSXPM_FERNET_KEY": fernet_key,
        "CLASSXPM_REPORTS_DIR": str(world.reports),
        "CLASSXPM_INSTANT_SYNC": "on",
    }
    with (
        scratch_databases("airflow") as urls,
        live_airflow(tmp_path / "airflow", urls["airflow"], env) as airflow,
    ):
        airflow.wait_for(airflow.watching, START_BOUND, "the watcher's first read of Class")
        airflow.wait_for(airflow.settled, START_BOUND, "the start-up run of the latest cron tick")
        _add_fund(world, "INSTANTFUND")
        airflow.wait_for(
            lambda: airflow.succeeded("asset_triggered"), SYNC_BOUND, "a run on the watcher's event"
        )
        run_types = {run.run_type for run in airflow.runs()}
    assert any(c["ExportCode"] == "INSTANTFUND" for c in world.clients()), "the new fund reached XPM"
    assert run_types <= {"asset_triggered", "scheduled"}, "no run was started by hand"
