"""What the sync DAGs' tasks call: each step on resources from ``classxpm.airflow.resources``.

The tasks work shards (``classxpm.airflow.shards``): lists of businesses' run references, each business
worked on its own thread under its own tenant lease and budget. Every function here runs inside a task,
never at parse time. Errors become Airflow's outcomes in one place, ``classxpm.airflow.outcomes``; a
business whose step ends skipped or failed has why recorded on its sync run, and the others go on.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from classxpm.airflow.connections import STATE_CONN_ID
from classxpm.airflow.outcomes import task_outcomes
from classxpm.airflow.resources import SyncResources, engine, sync_env
from classxpm.airflow.shards import (
    DONE,
    FAILED,
    RETRY,
    SKIPPED,
    Outcome,
    cut,
    each_business,
    end_runs_quietly,
    failed_message,
    live,
    pack,
    settle,
    shard_businesses,
    shard_resources,
)
from classxpm.sync.run import RunRef, RunRequest, SyncEnv

log = logging.getLogger(__name__)

T = TypeVar("T")
Shard = list[dict[str, Any]]
"""A shard as XCom carries it: the run references (``RunRef.to_xcom``) of at most a shard's businesses."""


def run_step(step: Callable[[SyncEnv], T], runs: Sequence[str] = ()) -> T:
    """Run one sync step with fresh resources; our errors become Airflow's outcomes (``task_outcomes``).

    A step that ends skipped or failed records why on ``runs`` (the sync run ids it works on).
    """
    with task_outcomes(lambda outcome, reason: end_runs_quietly(runs, outcome, reason)), sync_env() as env:
        return step(env)


def _refs(shard: Shard) -> list[RunRef]:
    return [RunRef.from_xcom(ref) for ref in shard]


def start(
    dag_id: str, run_id: str, params: dict[str, Any], triggering_events: Mapping[Any, Any] | None = None
) -> list[Shard]:
    """The start task: validate params, resolve the business by name or id, open one run per business.

    A run the Class watcher started (``triggering_events``, the run's triggering asset events) opens runs for
    the businesses the events named only.

    Returns:
        The runs cut into shards of at most ``CLASSXPM_SHARD_BUSINESSES`` businesses.
    """
    from dataclasses import replace

    from classxpm.airflow.watch import changed_businesses
    from classxpm.sync import steps

    request = replace(RunRequest.from_params(params), businesses=changed_businesses(triggering_events or {}))

    def open_runs(env: SyncEnv) -> list[RunRef]:
        return steps.start(env, dag_id, run_id, requested_business(env, request))

    return cut([ref.to_xcom() for ref in run_step(open_runs)], shard_businesses())


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


def extract(shard: Shard, final_try: bool) -> Shard:
    """The extract task; reports the Class tables each business's run read to the lineage collector."""
    with shard_resources(_refs(shard)) as shared:
        _extract(shared, _refs(shard), final_try)
    return shard


def _extract(shared: SyncResources, refs: list[RunRef], final_try: bool) -> None:
    from classxpm.airflow.lineage import report_inputs
    from classxpm.sync import steps

    outcomes = each_business(shared, live(shared.state, refs), steps.extract, final_try=final_try)
    for outcome in settle(outcomes):
        report_inputs(outcome.business_id)


def validate(shard: Shard, final_try: bool) -> Shard:
    """The validation gate task."""
    with shard_resources(_refs(shard)) as shared:
        _validate(shared, _refs(shard), final_try)
    return shard


def _validate(shared: SyncResources, refs: list[RunRef], final_try: bool) -> None:
    """The shard's businesses in one Great Expectations run; a business the gate stops ends failed alone."""
    from classxpm.airflow.resources import business_env
    from classxpm.sync import steps

    running = live(shared.state, refs)
    if not running:
        return
    with (
        task_outcomes(lambda outcome, reason: end_runs_quietly([r.run_id for r in running], outcome, reason)),
        business_env(shared) as env,
    ):
        results = dict(zip([r.run_id for r in running], steps.validate_shard(env, running), strict=True))

    def outcome(_env: SyncEnv, ref: RunRef) -> dict[str, int]:
        result = results[ref.run_id]
        if isinstance(result, Exception):
            raise result
        return result

    settle(each_business(shared, running, outcome, final_try=final_try, threads=1))


def plan(shard: Shard, final_try: bool) -> Shard:
    """The plan task."""
    with shard_resources(_refs(shard)) as shared:
        _plan(shared, _refs(shard), final_try)
    return shard


def _plan(shared: SyncResources, refs: list[RunRef], final_try: bool) -> None:
    from classxpm.sync import steps

    settle(each_business(shared, live(shared.state, refs), steps.plan, final_try=final_try))


def batches(shards: list[Shard], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The batching task: each shard's writes cut into upsert tasks of about ``batch_size`` funds.

    A business's writes are cut into batches of at most ``batch_size`` funds, as before; a shard's
    batches are then packed into tasks of at most ``batch_size`` writes, so a large business fans out over
    several workers and a shard of small businesses, or of unchanged ones, makes a single task.
    """
    batch_size = RunRequest.from_params(params).batch_size
    refs = [ref for shard in shards for ref in _refs(shard)]
    with shard_resources(refs) as shared:
        return [work for shard in shards for work in _cut_work(shared, _refs(shard), batch_size)]


def _cut_work(shared: SyncResources, refs: list[RunRef], batch_size: int) -> list[dict[str, Any]]:
    from classxpm.airflow.resources import business_env
    from classxpm.sync import steps

    units = []
    for ref in live(shared.state, refs):
        with business_env(shared) as env:
            writes = steps.batch_writes(env, ref, batch_size)
        units += [({"ref": ref.to_xcom(), "batch": i, "of": len(writes)}, n) for i, n in enumerate(writes)]
    return [{"units": group} for group in pack(units, batch_size)]


def upsert(work: dict[str, Any], final_try: bool) -> dict[str, int]:
    """One upsert task: its batches, each business's on its own thread; reports what it wrote (not dry runs).

    Returns:
        The funds by outcome, over the task's businesses.
    """
    units = work["units"]
    refs = list({unit["ref"]["run_id"]: RunRef.from_xcom(unit["ref"]) for unit in units}.values())
    with shard_resources(refs) as shared:
        return _upsert(shared, refs, units, final_try)


def _upsert(
    shared: SyncResources, refs: list[RunRef], units: list[dict[str, Any]], final_try: bool
) -> dict[str, int]:
    from classxpm.airflow.lineage import report_outputs
    from classxpm.sync import steps

    def write(env: SyncEnv, ref: RunRef) -> Counter[str]:
        counts: Counter[str] = Counter()
        for unit in units:
            if unit["ref"]["run_id"] == ref.run_id:
                counts.update(steps.upsert_funds(env, ref, unit["batch"], unit["of"]))
        return counts

    by_business = {ref.business_id: ref for ref in refs}
    total: Counter[str] = Counter()
    for outcome in settle(each_business(shared, live(shared.state, refs), write, final_try=final_try)):
        total.update(outcome.result)
        ref = by_business[outcome.business_id]
        if not ref.dry_run:
            report_outputs(ref.business_id, ref.tenant_id)
    return dict(total)


def report(shard: Shard, outlet_events: Any, airflow_run: tuple[str, str], final_try: bool) -> dict[str, Any]:
    """The report task: writes each business's report and note line; succeeds when any business synced.

    ``airflow_run`` is the (dag id, run id) whose note gets the summaries. A business failed when any of
    its funds failed or a step ended its run failed: each is logged at ERROR with why, and ``finish`` fails
    the DAG run naming them. Only a business that wrote to XPM and had no failure records asset events for
    its XPM clients and contacts; Airflow keeps a task's asset events only when it succeeds, so the task
    fails only when no business of its shard synced, and one failed business costs the others nothing.

    Returns:
        Each reported business's counts, XPM calls and report path.
    """
    with shard_resources(_refs(shard)) as shared:
        return _report(shared, _refs(shard), outlet_events, airflow_run, final_try)


def _report(
    shared: SyncResources,
    refs: list[RunRef],
    outlet_events: Any,
    airflow_run: tuple[str, str],
    final_try: bool,
) -> dict[str, Any]:
    from classxpm.airflow.lineage import emit_asset_events
    from classxpm.airflow.run_note import set_run_notes
    from classxpm.sync import steps

    running = live(shared.state, refs)
    outcomes = each_business(shared, running, steps.finish, final_try=final_try)
    done = {o.business_id: o.result for o in outcomes if o.status == DONE}
    set_run_notes(*airflow_run, [(business, result.summary_line()) for business, result in done.items()])
    retry = next((o for o in outcomes if o.status == RETRY), None)
    if retry is not None:
        settle([retry])
    failed = _failures(shared, refs, running, outcomes)
    synced = [ref for ref in refs if ref.business_id in done and ref.business_id not in failed]
    _judge(refs, synced, failed)
    for ref in synced:
        if not ref.dry_run:
            emit_asset_events(outlet_events, ref.business_id, ref.tenant_id)
    return {
        business: {"counts": r.counts, "api_calls": r.api_calls, "report": r.report_path}
        for business, r in done.items()
    }


def _failures(
    shared: SyncResources, refs: list[RunRef], running: list[RunRef], outcomes: list[Outcome]
) -> dict[str, str]:
    """Business id → why it failed: its report step failed, an earlier step ended it, or funds failed."""
    from classxpm.sync.report import FundsFailed
    from classxpm.sync.run_store import failure_reasons

    failed = {o.business_id: o.reason for o in outcomes if o.status == FAILED}
    earlier = failure_reasons(shared.state, [ref.run_id for ref in refs if ref not in running])
    failed |= {ref.business_id: earlier[ref.run_id] for ref in refs if ref.run_id in earlier}
    for o in outcomes:
        if o.status == DONE and o.result.failed:
            failed[o.business_id] = str(FundsFailed(o.result.failed, o.result.report_path))
    return failed


def _judge(refs: list[RunRef], synced: list[RunRef], failed: Mapping[str, str]) -> None:
    """Log each failed business; with none synced, fail the task (one failed) or skip it (all skipped).

    Raises:
        AirflowFailException: No business of the shard synced and one failed.
        AirflowSkipException: Every business of the shard was skipped.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    for business, reason in failed.items():
        log.error("business %s: %s", business, reason)
    if synced:
        return
    if failed:
        raise AirflowFailException(failed_message(list(failed)))
    skipped = [ref.business_id for ref in refs]
    raise AirflowSkipException(f"no business of this shard was synced: {', '.join(skipped)} {SKIPPED}")


def sync(
    shard: Shard, params: dict[str, Any], outlet_events: Any, airflow_run: tuple[str, str], final_try: bool
) -> dict[str, Any]:
    """The compact DAG's one task per shard: extract, validate, plan, every upsert batch and the report.

    The same steps as the one-task-per-step DAG, in one process, so an event-started run reaches XPM
    without waiting for a task process per step.
    """
    refs, batch_size = _refs(shard), RunRequest.from_params(params).batch_size
    with shard_resources(refs) as shared:
        _extract(shared, refs, final_try)
        _validate(shared, refs, final_try)
        _plan(shared, refs, final_try)
        units = [unit for work in _cut_work(shared, refs, batch_size) for unit in work["units"]]
        _upsert(shared, refs, units, final_try)
        return _report(shared, refs, outlet_events, airflow_run, final_try)


def finish(dag_id: str, airflow_run_id: str, failed_tasks: Sequence[str] = ()) -> dict[str, str]:
    """The finish task, whatever happened upstream: no run of this DAG run is left ``running``.

    It alone decides the DAG run's state (a report task succeeds when one business of its shard synced, to
    keep their asset events), so it fails when any business of the DAG run failed, or, with none opened
    or failed, when a task did (``failed_tasks``: a ``start`` that named no business, say).

    Returns:
        Each business's final sync status.

    Raises:
        AirflowFailException: A business of the run failed (named, as their sync runs say), or a task did.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from classxpm.sync.run_store import end_unfinished
    from classxpm.xpm.auth import utcnow

    with task_outcomes(), engine(STATE_CONN_ID) as state:
        ended = end_unfinished(state, dag_id, airflow_run_id, utcnow())
    for business_id, status in sorted(ended.items()):
        log.info("business %s: sync %s", business_id, status)
    failed = sorted(business for business, status in ended.items() if status == FAILED)
    if failed:
        raise AirflowFailException(failed_message(failed, "this run"))
    if failed_tasks:
        raise AirflowFailException(
            f"tasks of this run failed: {', '.join(failed_tasks)} (their logs say why)"
        )
    return ended
