"""The sync DAG's shape, shared by the nightly ``class_xpm_sync`` and the 15-minute ``class_xpm_incremental``.

Each task is a one-line call into ``classxpm.airflow.sync_tasks``; tasks pass run references, never data.
Every task from extract to report is mapped over the Class businesses (each with its own XPM tenant and
rate budget), the validation gate sits between extract and plan, and upsert fans out over batches of
funds so several workers share a large backfill, within the ``xpm_api`` pool. ``finish`` is a teardown: it
runs whatever happened upstream, so every sync run ends failed, skipped or succeeded in the state database,
and it leaves the DAG run's state to the other tasks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAlias, Param, dag, get_current_context, task, teardown

from classxpm.airflow.lineage import CLIENTS_ALIAS, CONTACTS_ALIAS, class_sources
from classxpm.settings import positive_setting

XPM_POOL = "xpm_api"
RETRY_DELAY_ENV = "CLASSXPM_RETRY_DELAY_SECONDS"
"""The first task retry's delay in seconds (two minutes when unset); later retries back off from it."""
DEFAULT_RETRY_DELAY = timedelta(minutes=2)


def retry_delay(environ: Mapping[str, str] = os.environ) -> timedelta:
    """The task retry delay: ``CLASSXPM_RETRY_DELAY_SECONDS``, which a local cluster sets to seconds.

    Raises:
        ConfigurationError: The value is not a positive number (the DAG file then fails to import, saying so).
    """
    seconds = positive_setting(environ, RETRY_DELAY_ENV)
    return DEFAULT_RETRY_DELAY if seconds is None else timedelta(seconds=seconds)


DEFAULT_ARGS = {
    "owner": "practice-data",
    "retries": 3,
    "retry_delay": retry_delay(),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


def sync_params(mode: str) -> dict[str, Param]:
    """The trigger form: every param titled and described, none marked required (each has a default).

    Airflow's form marks a param required when its type does not allow ``null``, so optional params allow
    it and the sync reads ``null`` as the default. The business is typed by name or id: the form may not
    list Class's businesses (that would query at parse time), so ``start`` resolves it at run time.
    """
    return {
        "mode": Param(
            mode,
            enum=["full", "incremental"],
            values_display={"full": "Full: re-read XPM, send every change", "incremental": "Incremental"},
            title="Mode",
            description="full re-reads every XPM client; incremental sends only what Class changed",
        ),
        "business_id": Param(
            None,
            type=["null", "string"],
            title="Business",
            description="One Class business, by name or id; empty syncs every authorised business",
            description_md=(
                "One Class business, by its **name** (as in Class) or its id. Leave empty to sync every "
                "business that has authorised XPM. A name that matches no business, or several, stops "
                "the run with the choices."
            ),
        ),
        "dry_run": Param(
            False,
            type=["boolean", "null"],
            title="Dry run",
            description="Plan and report the record-level diff; write nothing to XPM",
        ),
        "fund_codes": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Fund scope codes",
            description="Only these scope codes, one a line; empty means every fund",
        ),
        "sync_mode": Param(
            "upsert",
            enum=["upsert", "update_only", "create_only"],
            values_display={
                "upsert": "Create and update",
                "update_only": "Update existing clients only",
                "create_only": "Create new clients only",
            },
            title="Writes allowed",
            description="Which writes the run may make to XPM",
        ),
        "gone_from_class": Param(
            None,
            type=["string", "null"],
            enum=[None, "report", "archive"],
            values_display={
                "report": "Report them only",
                "archive": "Archive their XPM clients",
            },
            title="Funds gone from Class",
            description=(
                "What a full run does with the XPM client of a fund no longer in Class; empty means the "
                "xpm_default connection's gone_from_class extra, else report only"
            ),
        ),
        "rolled_out_members": Param(
            None,
            type=["string", "null"],
            pattern="^(report|detach|position:.+)$",
            title="Members rolled out of a fund",
            description=(
                "What a full run does with the XPM contact of a member no longer in its fund: report, detach "
                "(from the fund's client) or position:<text> (set its Position on the client); empty means "
                "the xpm_default connection's rolled_out_members extra, else report only"
            ),
        ),
        "batch_size": Param(
            500,
            type=["integer", "null"],
            minimum=1,
            title="Funds per upsert task",
            description="A large backfill fans out over several workers; empty means 500",
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

        @task(inlets=class_sources())
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
