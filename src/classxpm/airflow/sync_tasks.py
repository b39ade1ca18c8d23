"""What the sync DAGs' tasks call: each step on resources from ``classxpm.airflow.resources``.

Every function here runs inside a task, never at parse time. Errors become Airflow's outcomes in one place,
``classxpm.airflow.outcomes``; a step that ends skipped or failed records why on its sync runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from classxpm.airflow.connections import STATE_CONN_ID
from classxpm.airflow.outcomes import task_outcomes
from classxpm.airflow.resources import engine, sync_env
from classxpm.sync.run import RunRef, RunRequest, SyncEnv

log = logging.getLogger(__name__)

T = TypeVar("T")


def run_step(step: Callable[[SyncEnv], T], runs: Sequence[str] = ()) -> T:
    """Run one sync step with fresh resources; our errors become Airflow's outcomes (``task_outcomes``).

    A step that ends skipped or failed records why on ``runs`` (the sync run ids it works on).
    """
    with task_outcomes(lambda outcome, reason: _end_runs(runs, outcome, reason)), sync_env() as env:
        return step(env)


def _end_runs(runs: Sequence[str], outcome: str, reason: str) -> None:
    if not runs:
        return
    import sqlalchemy as sa

    from classxpm.sync.run_store import end_runs
    from classxpm.xpm.auth import utcnow

    try:
        with engine(STATE_CONN_ID) as state:
            end_runs(state, runs, outcome, reason, utcnow())
    except sa.exc.SQLAlchemyError as exc:
        log.warning("the sync runs were not ended (%s): the finish task ends them", type(exc).__name__)


def start(dag_id: str, run_id: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The start task: validate params, resolve the business by name or id, open one run per business."""
    from classxpm.sync import steps

    request = RunRequest.from_params(params)

    def open_runs(env: SyncEnv) -> list[RunRef]:
        return steps.start(env, dag_id, run_id, requested_business(env, request))

    return [ref.to_xcom() for ref in run_step(open_runs)]


def requested_business(env: SyncEnv, request: RunRequest) -> RunRequest:
    """The request with its business, typed by name or id, resolved to the Class business id.

    Raises:
        ConfigurationError: No Class business, or several, go by that name.
    """
    if not request.business_id:
        return request
    from dataclasses import replace

    from classxpm.source.businesses import resolve_business

    return replace(request, business_id=resolve_business(request.business_id, env.business_names()))


def extract(ref: dict[str, Any]) -> dict[str, int]:
    """The extract task; reports the Class tables it read to the lineage collector."""
    from classxpm.airflow.lineage import report_inputs
    from classxpm.sync import steps

    counts = run_step(lambda env: steps.extract(env, RunRef.from_xcom(ref)), [ref["run_id"]])
    report_inputs(ref["business_id"])
    return counts


def validate(ref: dict[str, Any]) -> dict[str, int]:
    """The validation gate task."""
    from classxpm.sync import steps

    return run_step(lambda env: steps.validate(env, RunRef.from_xcom(ref)), [ref["run_id"]])


def plan(ref: dict[str, Any]) -> dict[str, int]:
    """The plan task."""
    from classxpm.sync import steps

    return run_step(lambda env: steps.plan(env, RunRef.from_xcom(ref)), [ref["run_id"]])


def batches(refs: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The batching task: every business's writes cut into batches of at most ``batch_size`` funds."""
    from classxpm.sync import steps

    batch_size = RunRequest.from_params(params).batch_size

    def cut(env: SyncEnv) -> list[dict[str, Any]]:
        counts = [steps.batches(env, RunRef.from_xcom(ref), batch_size) for ref in refs]
        return [
            {"ref": ref, "batch": i, "of": n} for ref, n in zip(refs, counts, strict=True) for i in range(n)
        ]

    return run_step(cut, [ref["run_id"] for ref in refs])


def upsert(work: dict[str, Any]) -> dict[str, int]:
    """One upsert batch; reports the XPM records it wrote to the lineage collector (not on a dry run)."""
    from classxpm.airflow.lineage import report_outputs
    from classxpm.sync import steps

    ref = work["ref"]
    counts = run_step(
        lambda env: steps.upsert_funds(env, RunRef.from_xcom(ref), work["batch"], work["of"]), [ref["run_id"]]
    )
    if not ref["dry_run"]:
        report_outputs(ref["business_id"], ref["tenant_id"])
    return counts


def report(ref: dict[str, Any], outlet_events: Any, airflow_run: tuple[str, str]) -> dict[str, Any]:
    """The report task: writes the run report and note, and fails the run when any fund failed.

    ``airflow_run`` is the (dag id, run id) whose note gets the summary. Only a run that wrote to XPM and had
    no failure records asset events for the XPM clients and contacts.
    """
    from classxpm.airflow.lineage import emit_asset_events
    from classxpm.airflow.run_note import set_run_note
    from classxpm.sync import steps
    from classxpm.sync.report import FundsFailed, SyncReport

    def finish_run(env: SyncEnv) -> SyncReport:
        result = steps.finish(env, RunRef.from_xcom(ref))
        set_run_note(*airflow_run, ref["business_id"], result.summary_line())
        if result.failed:
            raise FundsFailed(result.failed, result.report_path)
        return result

    result = run_step(finish_run, [ref["run_id"]])
    if not ref["dry_run"]:
        emit_asset_events(outlet_events, ref["business_id"], ref["tenant_id"])
    return {"counts": result.counts, "api_calls": result.api_calls, "report": result.report_path}


def finish(dag_id: str, airflow_run_id: str) -> dict[str, str]:
    """The finish task, whatever happened upstream: no run of this DAG run is left ``running``.

    Returns:
        Each business's final sync status.
    """
    from classxpm.sync.run_store import end_unfinished
    from classxpm.xpm.auth import utcnow

    with task_outcomes(), engine(STATE_CONN_ID) as state:
        ended = end_unfinished(state, dag_id, airflow_run_id, utcnow())
    for business_id, status in sorted(ended.items()):
        log.info("business %s: sync %s", business_id, status)
    return ended
