"""Daily keep-alive of every linked XPM grant, so an idle integration never reaches the 60-day expiry."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="xpm_token_refresh",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["classxpm", "xpm"],
    default_args={"owner": "classxpm", "retries": 2, "retry_delay": timedelta(minutes=10)},
    doc_md=__doc__,
)
def xpm_token_refresh() -> None:
    """Refresh the stored grant of every linked business; fail loudly on invalid or expiring grants."""

    @task(pool="xpm_api")
    def refresh_grants() -> list[str]:
        from classxpm.airflow.token_refresh import refresh_all_grants

        return refresh_all_grants()

    refresh_grants()


xpm_token_refresh()
