"""The sync DAG's shape, shared by the nightly ``class_xpm_sync`` and the 15-minute ``class_xpm_incremental``.

Each task is a one-line call into ``classxpm.airflow.sync_tasks``; tasks pass run references, never data.
Every task from extract to report is mapped over the Class businesses (each with its own XPM tenant and
rate budget), the validation gate sits between extract and plan, and upsert fans out over batches of
funds so several workers share a large backfill, within the ``xpm_api`` pool. ``finish`` is a teardown: it
runs whatever happened upstream, so every sync run ends failed, skipped or succeeded in the state database,
and it leaves the DAG run's state to the other tasks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, dag, get_current_context, task, teardown

from classxpm.airflow.lineage import CLIENTS_ALIAS, CONTACTS_ALIAS

XPM_POOL = "xpm_api"
DEFAULT_ARGS = {
    "owner": "practice-data",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


def sync_params(mode: str) -> dict[str, Param]:
    """The trigger form: validated params with defaults and descriptions."""
    return {
        "mode": Param(
            mode, enum=["full", "incremental"], description="full re-reads XPM; incremental sends changes"
        ),
        "fund_codes": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Only these scope codes (e.g. after a bulk fund import); empty means every fund",
        ),
        "dry_run": Param(
            False, type="boolean", description="Plan and report the record-level diff; write nothing"
        ),
        "sync_mode": Param(
            "upsert",
            enum=["upsert", "update_only", "create_only"],
            description="Which writes the run may make",
        ),
        "business_id": Param(
            None,
            type=["null", "string"],
            description="One Class business; empty syncs every authorised business",
        ),
        "batch_size": Param(
            500,
            type="integer",
            minimum=1,
            description="Funds per upsert task: a large backfill fans out over several workers",
        ),
    }


def build_sync_dag(dag_id: str, schedule: Any, mode: str, description: str) -> DAG:
    """Build one of the two sync DAGs."""

    @dag(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="Australia/Sydney"),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        params=sync_params(mode),
        tags=["classxpm", "xpm", "sync"],
        doc_md=__doc__,
    )
    def sync() -> None:
        @task
        def start() -> list[dict[str, Any]]:
            from classxpm.airflow import sync_tasks

            context = get_current_context()
            return sync_tasks.start(dag_id, context["run_id"], dict(context["params"]))

        @task
        def extract(ref: dict[str, Any]) -> dict[str, Any]:
            from classxpm.airflow import sync_tasks

            sync_tasks.extract(ref)
            return ref

        @task
        def validate(ref: dict[str, Any]) -> dict[str, Any]:
            from classxpm.airflow import sync_tasks

            sync_tasks.validate(ref)
            return ref

        @task(pool=XPM_POOL)
        def plan(ref: dict[str, Any]) -> dict[str, Any]:
            from classxpm.airflow import sync_tasks

            sync_tasks.plan(ref)
            return ref

        @task
        def batches(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            from classxpm.airflow import sync_tasks

            return sync_tasks.batches(list(refs), dict(get_current_context()["params"]))

        @task(pool=XPM_POOL)
        def upsert(work: dict[str, Any]) -> dict[str, int]:
            from classxpm.airflow import sync_tasks

            return sync_tasks.upsert(work)

        @task(outlets=[AssetAlias(CLIENTS_ALIAS), AssetAlias(CONTACTS_ALIAS)])
        def report(ref: dict[str, Any]) -> dict[str, Any]:
            from classxpm.airflow import sync_tasks

            context = get_current_context()
            return sync_tasks.report(ref, context["outlet_events"], (dag_id, context["run_id"]))

        @teardown
        def finish() -> dict[str, str]:
            from classxpm.airflow import sync_tasks

            return sync_tasks.finish(dag_id, get_current_context()["run_id"])

        planned = plan.expand(ref=validate.expand(ref=extract.expand(ref=start())))
        upsert.expand(work=batches(planned)) >> report.expand(ref=planned) >> finish()

    return sync()
