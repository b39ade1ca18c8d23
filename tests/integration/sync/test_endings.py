"""Ending sync runs that never reached their report, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from classxpm.sync.endings import UNFINISHED_REASON, end_runs, end_unfinished
from classxpm.sync.tables import sync_runs, tenant_leases

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
AIRFLOW_RUN = "manual__2026-05-01T09:00:00+00:00"


def _open(state, business: str, status: str = "running", dag_id: str = "class_xpm_sync") -> str:
    run_id = f"{dag_id}/{AIRFLOW_RUN}/{business}"
    with state.begin() as conn:
        conn.execute(
            sa.insert(sync_runs).values(
                run_id=run_id,
                dag_id=dag_id,
                business_id=business,
                tenant_id=f"tenant-{business}",
                mode="full",
                sync_mode="upsert",
                dry_run=False,
                started_at=NOW,
                status=status,
                summary={"counts": {"created": 1}} if status != "running" else {},
            )
        )
        conn.execute(
            sa.insert(tenant_leases).values(
                tenant_id=f"tenant-{business}", holder=run_id, expires_at=NOW + timedelta(minutes=15)
            )
        )
    return run_id


def _rows(state) -> dict[str, dict]:
    with state.connect() as conn:
        return {row["business_id"]: dict(row) for row in conn.execute(sa.select(sync_runs)).mappings()}


def test_a_run_is_ended_once_with_its_reason_and_a_later_ending_changes_nothing(state):
    run = _open(state, "b-1")

    end_runs(state, [run], "skipped", "Xero Integration not Authorised", NOW)
    end_runs(state, [run], "failed", "a later reason", NOW + timedelta(minutes=1))

    ended = _rows(state)["b-1"]
    assert (ended["status"], ended["summary"]) == ("skipped", {"reason": "Xero Integration not Authorised"})
    assert ended["finished_at"] == NOW


def test_the_finish_ends_only_this_dag_runs_unfinished_runs_and_frees_their_tenants(state):
    _open(state, "b-1")
    _open(state, "b-2", status="success")
    _open(state, "b-3", dag_id="class_xpm_incremental")

    ended = end_unfinished(state, "class_xpm_sync", AIRFLOW_RUN, NOW)

    rows = _rows(state)
    assert ended == {"b-1": "failed", "b-2": "success"}
    assert rows["b-1"]["summary"] == {"reason": UNFINISHED_REASON}
    assert rows["b-2"]["summary"] == {"counts": {"created": 1}}, (
        "a run that reached its report is left as it is"
    )
    assert rows["b-3"]["status"] == "running", "another DAG's run is not this finish's business"
    with state.connect() as conn:
        assert conn.execute(sa.select(tenant_leases.c.tenant_id)).scalars().all() == ["tenant-b-3"]
