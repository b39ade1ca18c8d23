"""How a sync run that did not reach its report ends in the state database: failed or skipped, with why.

The report step closes a run that got that far (``success`` or ``failed``). A task that fails or is skipped
earlier records its reason here at once; the DAG's finish task then ends whatever is still ``running`` (a
task killed, or retried until Airflow gave up), so no run is left ``running`` for ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.sync.lease import force_release
from classxpm.sync.tables import sync_runs

RUNNING = "running"
UNFINISHED_REASON = "a task of the run failed before the report (see the Airflow task logs)"


def end_runs(state: Engine, run_ids: Sequence[str], status: str, reason: str, now: datetime) -> None:
    """End the runs among ``run_ids`` that are still running with ``status`` and ``reason``."""
    with state.begin() as conn:
        for row in _running(conn, sa.select(sync_runs).where(sync_runs.c.run_id.in_(list(run_ids)))):
            _end(conn, row, status, reason, now)


def end_unfinished(state: Engine, dag_id: str, airflow_run_id: str, now: datetime) -> dict[str, str]:
    """End every run of one Airflow DAG run: failed when still running; give up their tenant leases.

    Returns:
        Each run's final status by business id.
    """
    prefix = f"{dag_id}/{airflow_run_id}/"
    query = sa.select(sync_runs).where(sync_runs.c.run_id.startswith(prefix, autoescape=True))
    with state.begin() as conn:
        for row in _running(conn, query):
            _end(conn, row, "failed", UNFINISHED_REASON, now)
        rows = conn.execute(query).all()
    for row in rows:
        if row.tenant_id:
            force_release(state, row.tenant_id, row.run_id)
    return {row.business_id: row.status for row in rows}


def _running(conn: Connection, query: sa.Select) -> list[Any]:
    return list(conn.execute(query.where(sync_runs.c.status == RUNNING).with_for_update()).all())


def _end(conn: Connection, row: Any, status: str, reason: str, now: datetime) -> None:
    summary = {**(row.summary or {}), "reason": reason}
    conn.execute(
        sa.update(sync_runs)
        .where(sync_runs.c.run_id == row.run_id, sync_runs.c.status == RUNNING)
        .values(status=status, finished_at=now, summary=summary)
    )
