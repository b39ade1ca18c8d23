"""The daily keep-alive DAG end to end with ``dag.test()`` against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def _run_refresh() -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "xpm_token_refresh.py")).dags["xpm_token_refresh"]
    for task in dag.tasks:
        task.retries = 0  # dag.test() waits out real retry delays
    return str(dag.test().state)


def _grant(world):
    from classxpm.db import make_engine
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tokens import TokenStore

    engine = make_engine(world.state_url)
    grant = TokenStore(engine, load_cipher()).get(world.business_id)
    engine.dispose()
    return grant


def test_a_daily_refresh_restarts_the_60_day_clock(sync_world):
    before = _grant(sync_world)
    sync_world.sim.advance_clock(20 * 86400)
    assert _run_refresh() == "success"
    after = _grant(sync_world)
    assert after.refresh_issued_at > before.refresh_issued_at
    assert "POST /connect/token" in sync_world.calls()


def test_a_grant_xero_no_longer_honours_fails_the_dag(sync_world):
    sync_world.sim.advance_clock(61 * 86400)
    assert _run_refresh() == "failed"
    assert _grant(sync_world).invalid_reason


def test_with_no_grant_the_refresh_is_skipped_not_failed(sync_world):
    import sqlalchemy as sa
    from airflow.dag_processing.dagbag import DagBag

    from classxpm.state.tables import xpm_grants

    engine = sa.create_engine(sync_world.state_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(xpm_grants))
    engine.dispose()
    dag = DagBag(dag_folder=str(ROOT / "dags" / "xpm_token_refresh.py")).dags["xpm_token_refresh"]

    run = dag.test()

    assert str(run.state) == "success"
    assert {ti.task_id: str(ti.state) for ti in run.get_task_instances()} == {"refresh_grants": "skipped"}
    assert "POST /connect/token" not in sync_world.calls()
