"""The upsert step's write loop: carry out planned writes one fund at a time, within the daily quota.

A fund whose writes would eat into the calls kept for people using XPM is deferred, with every fund after
it, to the next run; so is everything left when XPM says the tenant's daily limit is spent. The next run's
plan puts the deferred funds first (``run_store.load_plans``), so a backlog is never overtaken by new work.
"""

from __future__ import annotations

import logging

from classxpm.sync import run_store
from classxpm.sync.executor import Executor
from classxpm.sync.lease import Heartbeat
from classxpm.sync.links import LinkRecorder, Outcome
from classxpm.sync.model import Action
from classxpm.sync.plan import FundPlan
from classxpm.sync.progress import Progress
from classxpm.sync.run import RunRef, SyncEnv
from classxpm.sync.staging import StagingError
from classxpm.xpm.errors import Deferred

log = logging.getLogger(__name__)


def record_unwritten(env: SyncEnv, recorder: LinkRecorder, plans: list[FundPlan]) -> None:
    """Record the outcome (and, for the ones a person must look at, the link status) of funds not written."""
    now = env.clock()
    status = {
        Action.UNCHANGED: "unchanged",
        Action.QUARANTINED: "quarantined",
        Action.NEEDS_REVIEW: "needs_review",
        Action.SKIPPED: "skipped",
    }
    outcomes = [Outcome(p.fund_id, p.scope_code, p.action.value, status[p.action], p.reason) for p in plans]
    with env.state.begin() as conn:
        for p in plans:
            if p.action in (Action.QUARANTINED, Action.NEEDS_REVIEW):
                recorder.fund(conn, p, last_status=status[p.action], last_error=p.reason)
        recorder.outcomes(conn, outcomes, now)


def write_plans(
    env: SyncEnv, ref: RunRef, recorder: LinkRecorder, writes: list[FundPlan], heartbeat: Heartbeat
) -> list[str]:
    """Carry out ``writes`` in order until done or the daily quota runs short; returns each fund's status."""
    desired = run_store.load_payloads(env.state, env.cipher, ref.run_id, {p.fund_id for p in writes})
    missing = [p.scope_code for p in writes if p.fund_id not in desired]
    if missing:
        raise StagingError(f"the stored plan has no payload for {', '.join(missing[:5])}: re-run the plan")
    executor = Executor(env.open_api(ref.business_id), env.state, recorder, env.clock)
    progress = Progress(len(writes), sum(p.write_calls for p in writes), env.calls_per_minute)
    statuses: list[str] = []
    for position, fund_plan in enumerate(writes):
        left = executor.api.remaining_daily_quota()
        if left is not None and left - env.reserve < fund_plan.write_calls:
            reason = f"daily quota: {left} calls left, {env.reserve} kept for people using XPM"
            return statuses + _defer(env, recorder, writes[position:], reason)
        heartbeat.check()
        try:
            statuses.append(executor.execute(fund_plan, desired[fund_plan.fund_id]).status)
        except Deferred as exc:
            return statuses + _defer(env, recorder, writes[position:], f"XPM's daily limit is spent ({exc})")
        progress.step(fund_plan.write_calls)
    return statuses


def _defer(env: SyncEnv, recorder: LinkRecorder, plans: list[FundPlan], reason: str) -> list[str]:
    log.warning("deferring %d funds to the next run: %s", len(plans), reason)
    now = env.clock()
    with env.state.begin() as conn:
        for p in plans:
            recorder.fund(conn, p, last_status="deferred", last_error=reason)
        recorder.outcomes(
            conn, [Outcome(p.fund_id, p.scope_code, p.action.value, "deferred", reason) for p in plans], now
        )
    return ["deferred"] * len(plans)
