"""Hourly snapshot of the open XPM jobs and current tasks of every linked client, for the fund dashboard.

Also run on demand. It calls XPM through the same ``xpm_api`` pool and per-tenant rate governor as the sync.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="xpm_jobs_snapshot",
    description="Open XPM jobs and their tasks for every linked fund (the Class fund dashboard widget)",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="Australia/Sydney"),
    catchup=False,
    max_active_runs=1,
    tags=["classxpm", "xpm", "dashboard"],
    default_args={
        "owner": "practice-data",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(minutes=30),
    },
    doc_md=__doc__,
)
def xpm_jobs_snapshot() -> None:
    """Replace each linked business's jobs snapshot."""

    @task(pool="xpm_api")
    def snapshot_jobs() -> list[dict[str, Any]]:
        from classxpm.airflow.jobs_task import run_snapshot

        return run_snapshot()

    snapshot_jobs()


xpm_jobs_snapshot()
