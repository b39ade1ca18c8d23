"""The sync DAGs' shapes: the nightly ``class_xpm_sync`` and the event-started ``class_xpm_incremental``.

Each task is a one-line call into ``classxpm.airflow.sync_tasks``; tasks pass run references, never data.
``start`` opens a sync run per Class business (each with its own XPM tenant and rate budget) and cuts them
into shards of at most ``CLASSXPM_SHARD_BUSINESSES`` (``classxpm.airflow.shards``), so neither Airflow's
map length nor the task count grows with the number of businesses.

The nightly DAG keeps one task per step, each mapped over the shards: extract, the validation gate,
plan, then upsert mapped over packs of batches (a large backfill fans out over several workers, a shard of
small businesses makes one task), and report. The incremental DAG is compact, ``start → sync[shard] →
finish``: each shard's steps run in one task process, so a change in Class reaches XPM within a minute.
Tasks that call XPM run in the ``xpm_api`` pool. ``finish`` is a teardown: it runs whatever happened
upstream, so every sync run ends failed, skipped or succeeded in the state database, and it decides the DAG
run's state (``on_failure_fail_dagrun``): it fails, naming them, when any business of the run failed. So a
shard's ``report`` (or ``sync``) task succeeds when one of its businesses synced, and Airflow keeps the
asset events of the businesses that did, however many others failed.

Tasks that return a result per business (``upsert``, ``report``, ``sync``, ``finish``) say
``multiple_outputs=False``: Airflow reads their ``dict`` return type as many outputs and would push one
XCom a business, each a call to the API server (3,000 for ``finish`` at 3,000 businesses: minutes).
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


def _final_try() -> bool:
    """Whether the running task has no retry left: a business's retriable error then ends its run failed."""
    ti = get_current_context()["ti"]
    return ti.try_number > ti.max_tries


def _airflow_run() -> tuple[str, str]:
    context = get_current_context()
    return context["dag"].dag_id, context["run_id"]


def _failed_tasks() -> list[str]:
    """The tasks of the running DAG run that failed (a mapped one as ``<task>_<map index>``), in order."""
    dag_id, run_id = _airflow_run()
    states = get_current_context()["ti"].get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
    return sorted(task for task, state in states.items() if state == "failed")


XPM_OUTLETS = (CLIENTS_ALIAS, CONTACTS_ALIAS)


def build_sync_dag(dag_id: str, schedule: Any, mode: str, description: str, *, compact: bool = False) -> DAG:
    """Build one of the two sync DAGs: one task per step, or (``compact``) one task per shard."""

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
        def start() -> list[list[dict[str, Any]]]:
            from classxpm.airflow import sync_tasks

            context = get_current_context()
            return sync_tasks.start(
                dag_id, context["run_id"], dict(context["params"]), context.get("triggering_asset_events")
            )

        @teardown(on_failure_fail_dagrun=True)
        @task(multiple_outputs=False)
        def finish() -> dict[str, str]:
            from classxpm.airflow import sync_tasks

            return sync_tasks.finish(dag_id, get_current_context()["run_id"], _failed_tasks())

        if compact:
            _compact_tasks(start(), finish())
        else:
            _step_tasks(start(), finish())

    return sync()


def _compact_tasks(shards: Any, finish: Any) -> None:
    """``sync[shard]``: every step of a shard's businesses in one task process."""

    @task(
        inlets=class_sources(),
        outlets=[AssetAlias(alias) for alias in XPM_OUTLETS],
        pool=XPM_POOL,
        multiple_outputs=False,
    )
    def sync(shard: list[dict[str, Any]]) -> dict[str, Any]:
        from classxpm.airflow import sync_tasks

        context = get_current_context()
        params = dict(context["params"])
        return sync_tasks.sync(shard, params, context["outlet_events"], _airflow_run(), _final_try())

    sync.expand(shard=shards) >> finish


def _step_tasks(shards: Any, finish: Any) -> None:
    """One task per step, each mapped over the shards; upsert mapped over (shard, batches) packs."""

    @task(inlets=class_sources())
    def extract(shard: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from classxpm.airflow import sync_tasks

        return sync_tasks.extract(shard, _final_try())

    @task
    def validate(shard: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from classxpm.airflow import sync_tasks

        return sync_tasks.validate(shard, _final_try())

    @task(pool=XPM_POOL)
    def plan(shard: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from classxpm.airflow import sync_tasks

        return sync_tasks.plan(shard, _final_try())

    @task
    def batches(shards: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        from classxpm.airflow import sync_tasks

        return sync_tasks.batches(list(shards), dict(get_current_context()["params"]))

    @task(pool=XPM_POOL, multiple_outputs=False)
    def upsert(work: dict[str, Any]) -> dict[str, int]:
        from classxpm.airflow import sync_tasks

        return sync_tasks.upsert(work, _final_try())

    @task(outlets=[AssetAlias(alias) for alias in XPM_OUTLETS], multiple_outputs=False)
    def report(shard: list[dict[str, Any]]) -> dict[str, Any]:
        from classxpm.airflow import sync_tasks

        context = get_current_context()
        return sync_tasks.report(shard, context["outlet_events"], _airflow_run(), _final_try())

    planned = plan.expand(shard=validate.expand(shard=extract.expand(shard=shards)))
    upsert.expand(work=batches(planned)) >> report.expand(shard=planned) >> finish
