"""The sync's steps, one per DAG task: start, extract, plan, upsert and finish.

Each step takes the shared resources and a ``RunRef`` and is safe to run again after a failure or a crash:
extract replaces the run's staging, plan replaces the run's plan, upsert skips what it finished already
(its links say so) and finds lost creates by ExportCode.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from classxpm.db import bulk_insert
from classxpm.identifiers import mask_tfn
from classxpm.source.extract import FundFilter, check_source_contract
from classxpm.source.schema import column_names, funds, members
from classxpm.state.tokens import Grant, TokenStore
from classxpm.sync.desired import MappedFund, map_fund
from classxpm.sync.executor import Executor
from classxpm.sync.lease import Heartbeat, TenantLease
from classxpm.sync.links import (
    LinkRecorder,
    Outcome,
    forget_other_tenants,
    funds_to_retry,
    load_links,
    upsert,
)
from classxpm.sync.missing_members import members_not_in_xpm
from classxpm.sync.model import SENSITIVE_FIELDS, Action, DesiredFund, Link, RemoteClient, RunMode
from classxpm.sync.plan import ContactStep, FundPlan, RemoteIndex, plan_fund
from classxpm.sync.progress import Progress
from classxpm.sync.remote import RemoteState, remote_from
from classxpm.sync.report import SyncReport, tally, write_report
from classxpm.sync.run import RunRef, RunRequest, SyncEnv
from classxpm.sync.staging import clear_staging, iter_staged, iter_staged_chunks, stage_extract
from classxpm.sync.tables import (
    planned_funds,
    quarantined_funds,
    sync_outcomes,
    sync_run_calls,
    sync_runs,
    watermarks,
)
from classxpm.validation.report import run_folder
from classxpm.xpm.api import XpmApi
from classxpm.xpm.errors import Deferred, NotAuthorised, Reauthorise

log = logging.getLogger(__name__)

WATERMARK_OVERLAP = timedelta(minutes=5)
"""Incremental runs re-read this much before the watermark: rows committed late are not missed."""
WRITING = (Action.CREATE, Action.LINK, Action.UPDATE)
DRY_RUN_STATUS = {"create": "created", "link": "linked", "update": "updated"}


def start(env: SyncEnv, dag_id: str, airflow_run_id: str, request: RunRequest) -> list[RunRef]:
    """Check authorisation and open one run per Class business: the one asked for, else every authorised one.

    A business whose grant Xero refused is left out with the seed's message in the log, so one expired
    grant never holds the other businesses back; asked for by name, it fails the run instead.

    Raises:
        NotAuthorised: No grant is stored (the run is skipped).
        Reauthorise: The business asked for, or every business, has a refused grant (no retries).
    """
    store = TokenStore(env.state, env.cipher)
    if request.business_id:
        return [_open(env, dag_id, airflow_run_id, request, store.require(request.business_id))]
    grants = [store.require_any(business) for business in store.business_ids()]
    if not grants:
        raise NotAuthorised()
    usable = [grant for grant in grants if not grant.invalid_reason]
    for grant in grants:
        if grant.invalid_reason:
            log.error("business %s: %s", grant.business_id, Reauthorise(grant.invalid_reason))
    if not usable:
        raise Reauthorise(grants[0].invalid_reason or "")
    return [_open(env, dag_id, airflow_run_id, request, grant) for grant in usable]


def _open(env: SyncEnv, dag_id: str, airflow_run_id: str, request: RunRequest, grant: Grant) -> RunRef:
    ref = RunRef(
        f"{dag_id}/{airflow_run_id}/{grant.business_id}",
        grant.business_id,
        grant.tenant_id,
        request.mode,
        request.sync_mode,
        request.dry_run,
        request.fund_codes,
    )
    with env.state.begin() as conn:
        change = forget_other_tenants(conn, grant.business_id, grant.tenant_id, ref.run_id)
        if change is not None:
            log.warning(
                "business %s: %s", grant.business_id, change.notice(grant.tenant_name or grant.tenant_id)
            )
        upsert(
            conn,
            sync_runs,
            {
                "run_id": ref.run_id,
                "dag_id": dag_id,
                "business_id": grant.business_id,
                "tenant_id": grant.tenant_id,
                "mode": ref.mode.value,
                "sync_mode": ref.sync_mode.value,
                "dry_run": ref.dry_run,
                "started_at": env.clock(),
                "status": "running",
                "summary": {"notices": [change.notice(grant.tenant_name or grant.tenant_id)]}
                if change
                else {},
            },
        )
    return ref


def extract(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """Stage the run's funds and members from Class; returns counts."""
    check_source_contract(env.source)
    result = stage_extract(env.source, env.state, ref.run_id, _filter(env, ref), env.cipher)
    with env.state.begin() as conn:
        conn.execute(
            sa.update(sync_runs)
            .where(sync_runs.c.run_id == ref.run_id)
            .values(source_watermark=result.max_updated_at)
        )
    log.info("extracted %d funds and %d members from class_db", result.funds, result.members)
    return {"funds": result.funds, "members": result.members}


def _filter(env: SyncEnv, ref: RunRef) -> FundFilter:
    base = FundFilter(business_id=ref.business_id, fund_codes=ref.fund_codes)
    if ref.mode is RunMode.FULL:
        return base
    with env.state.connect() as conn:
        mark = conn.execute(
            sa.select(watermarks.c.source_watermark).where(watermarks.c.business_id == ref.business_id)
        ).scalar()
    if mark is None:
        return base
    retry = funds_to_retry(env.state, ref.business_id)
    return replace(base, changed_since=mark - WATERMARK_OVERLAP, retry_fund_ids=retry)


def validate(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """The validation gate: hold back funds that break a blocking rule, and write the run's report.

    Raises:
        ValidationGateError: The run as a whole cannot be validated (e.g. a column the rules need is missing).
    """
    import pandas as pd

    from classxpm.validation.gate import validate_frames

    fund_columns: dict[str, list[Any]] = {name: [] for name in column_names(funds)}
    member_columns: dict[str, list[Any]] = {name: [] for name in column_names(members)}
    source_problems: dict[str, list[str]] = {}
    for chunk in iter_staged_chunks(env.state, ref.run_id, env.cipher):
        _extend(fund_columns, chunk.funds)
        _extend(member_columns, chunk.members)
        source_problems.update(chunk.problems)
    result = validate_frames(
        pd.DataFrame(fund_columns),
        pd.DataFrame(member_columns),
        run_id=ref.run_id,
        business_id=ref.business_id,
        reports_dir=env.reports_dir,
        source_problems=source_problems,
    )
    rows = [
        {
            "run_id": ref.run_id,
            "fund_id": fund_id,
            "scope_code": result.labels[fund_id].scope_code,
            "rules": list(rules),
        }
        for fund_id, rules in result.quarantined.items()
    ]
    with env.state.begin() as conn:
        conn.execute(sa.delete(quarantined_funds).where(quarantined_funds.c.run_id == ref.run_id))
        if rows:
            conn.execute(sa.insert(quarantined_funds), rows)
    log.info("%s", result.headline())
    return result.counts()


def _extend(columns: dict[str, list[Any]], chunk: dict[str, list[Any]]) -> None:
    """Append a chunk's columns to the run's; a column the chunk lacks gets missing values."""
    rows = len(next(iter(chunk.values()), []))
    for name, column in columns.items():
        column.extend(chunk.get(name, [None] * rows))


def _mapped_funds(env: SyncEnv, ref: RunRef, fund_ids: set[str] | None = None) -> Iterator[MappedFund]:
    """Map the run's staged funds: all, or only ``fund_ids`` (reading only the chunks that hold them)."""
    for chunk in iter_staged(env.state, ref.run_id, env.cipher, fund_ids):
        for fund in chunk.funds:
            if fund_ids is None or fund["fund_id"] in fund_ids:
                members = chunk.members.get(fund["fund_id"], [])
                yield map_fund(fund, members, env.mappings, env.cipher.hash_key)


def plan(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """Plan every staged fund against the links and XPM's state, and store the plan; returns counts."""
    api = env.open_api(ref.business_id)
    planner = _Planner(
        ref, api, load_links(env.state, ref.business_id), _remote_index(env, ref, api), _quarantined(env, ref)
    )
    rows, counts = [], Counter()
    for mapped in _mapped_funds(env, ref):
        fund_plan, diff = planner.plan(mapped)
        counts[fund_plan.action.value] += 1
        rows.append(_planned_row(ref.run_id, fund_plan, diff))
    with env.state.begin() as conn:
        conn.execute(sa.delete(planned_funds).where(planned_funds.c.run_id == ref.run_id))
        bulk_insert(conn, planned_funds, rows)
    _add_calls(env, ref, "plan")
    log.info(
        "plan: %s", ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"
    )
    return dict(counts)


def _quarantined(env: SyncEnv, ref: RunRef) -> dict[str, str]:
    with env.state.connect() as conn:
        rows = conn.execute(
            sa.select(quarantined_funds.c.fund_id, quarantined_funds.c.rules).where(
                quarantined_funds.c.run_id == ref.run_id
            )
        ).all()
    return {row.fund_id: "; ".join(row.rules) for row in rows}


def _remote_index(env: SyncEnv, ref: RunRef, api: XpmApi) -> RemoteIndex:
    cache = RemoteState(env.state, ref.tenant_id)
    now = env.clock()
    since = cache.last_read()
    if ref.mode is RunMode.FULL or since is None:
        clients = cache.read_full(api)
        if not ref.dry_run:
            cache.replace(clients, now)
        return RemoteIndex(clients)
    changed = cache.read_modified(api, since)
    if ref.dry_run:
        fresh = {c.uuid for c in changed}
        return RemoteIndex([c for u, c in cache.index().by_uuid.items() if u not in fresh] + changed)
    cache.merge(changed, now)
    return cache.index()


class _Planner:
    """Plans the funds of one run in turn, remembering which XPM clients are taken."""

    def __init__(
        self, ref: RunRef, api: XpmApi, links: dict[str, Link], index: RemoteIndex, quarantine: dict[str, str]
    ) -> None:
        self.ref, self.api, self.links, self.index, self.quarantine = ref, api, links, index, quarantine
        self.taken = {link.client_uuid for link in links.values()}

    def plan(self, mapped: MappedFund) -> tuple[FundPlan, list[dict[str, Any]]]:
        """Plan one mapped fund; returns the plan and its field-level diff."""
        if mapped.desired is None:
            reason = "; ".join(mapped.problems)
            quarantined = FundPlan(
                mapped.fund_id, mapped.scope_code, Action.QUARANTINED, reason=reason, name=mapped.name
            )
            return quarantined, []
        desired, link = mapped.desired, self.links.get(mapped.fund_id)
        compare = self.index if (self.ref.mode is RunMode.FULL or link is None) else None
        options = {
            "sync_mode": self.ref.sync_mode,
            "taken": self.taken,
            "quarantine_reason": self.quarantine.get(desired.fund_id),
            "retired": self.index.retired,
        }
        fund_plan = plan_fund(desired, link, compare, **options)
        held = self.index.by_uuid.get(fund_plan.client_uuid or "")
        if _needs_contacts(fund_plan, held, compared=compare is not None):
            if not (held and held.contacts_read):
                held = remote_from(self.api.get_client(fund_plan.client_uuid or ""))
            fund_plan = plan_fund(desired, link, RemoteIndex([held]), **options)
        if fund_plan.action is Action.LINK and fund_plan.client_uuid:
            self.taken.add(fund_plan.client_uuid)
        # The field-level diff is what a dry run reports; a real run's report does not show it.
        return fund_plan, _diff(fund_plan, desired, held) if self.ref.dry_run else []


def _needs_contacts(fund_plan: FundPlan, held: RemoteClient | None, *, compared: bool) -> bool:
    """True when the plan adds contacts to an existing client without having matched its real contacts.

    Members are matched by name against the client's contacts, so a plan made without them (an incremental
    run's, or one against a record that carried none) is made again against them: no duplicate contacts.
    """
    new_contacts = any(step.action is Action.CREATE for step in fund_plan.contact_steps)
    existing = fund_plan.action in (Action.LINK, Action.UPDATE)
    return existing and new_contacts and not (compared and held is not None and held.contacts_read)


def _shown(field: str, value: str | None) -> str | None:
    return mask_tfn(value) if field in SENSITIVE_FIELDS and value else value


def _diff(fund_plan: FundPlan, desired: DesiredFund, held: RemoteClient | None) -> list[dict[str, Any]]:
    """Field-level before → after for the dry-run report; TFNs masked as XPM masks them."""
    if fund_plan.action not in WRITING:
        return []
    fields = desired.fields if fund_plan.action is Action.CREATE else fund_plan.changed_fields
    return [
        {
            "field": name,
            "before": _shown(name, held.fields.get(name)) if held else None,
            "after": _shown(name, desired.fields.get(name)),
        }
        for name in fields
    ]


def _planned_row(run_id: str, fund_plan: FundPlan, diff: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "fund_id": fund_plan.fund_id,
        "scope_code": fund_plan.scope_code,
        "fund_name": fund_plan.name or None,
        "action": fund_plan.action.value,
        "client_uuid": fund_plan.client_uuid,
        "reason": fund_plan.reason or None,
        "changed_fields": list(fund_plan.changed_fields),
        "contact_steps": [
            {"member_id": s.member_id, "action": s.action.value, "contact_uuid": s.contact_uuid}
            for s in fund_plan.contact_steps
        ],
        "write_calls": fund_plan.write_calls,
        "diff": diff,
    }


def _plan_from(row: Any) -> FundPlan:
    steps = tuple(
        ContactStep(s["member_id"], Action(s["action"]), s["contact_uuid"]) for s in row.contact_steps
    )
    return FundPlan(
        row.fund_id,
        row.scope_code,
        Action(row.action),
        row.client_uuid,
        row.reason or "",
        tuple(row.changed_fields),
        steps,
        row.fund_name or "",
    )


def _load_plans(env: SyncEnv, ref: RunRef) -> list[FundPlan]:
    with env.state.connect() as conn:
        rows = conn.execute(
            sa.select(planned_funds)
            .where(planned_funds.c.run_id == ref.run_id)
            .order_by(planned_funds.c.fund_id)
        ).all()
    return [_plan_from(row) for row in rows]


def batches(env: SyncEnv, ref: RunRef, batch_size: int) -> int:
    """How many upsert batches of at most ``batch_size`` funds the run's writes make (at least one)."""
    with env.state.connect() as conn:
        writes = conn.execute(
            sa.select(sa.func.count())
            .select_from(planned_funds)
            .where(
                planned_funds.c.run_id == ref.run_id, planned_funds.c.action.in_([a.value for a in WRITING])
            )
        ).scalar_one()
    return max(1, -(-writes // max(batch_size, 1)))


def upsert_funds(env: SyncEnv, ref: RunRef, batch: int = 0, of: int = 1) -> dict[str, int]:
    """Carry out batch ``batch`` of ``of`` of the stored plan under the tenant's lease; returns counts.

    Batches split the writes into contiguous runs of funds, so several workers share a large backfill;
    batch 0 also records the funds that need no write. The lease is the run's, shared by its batches and
    given up when the run finishes; a heartbeat renews it while a batch writes, so after a crash it lapses
    within its TTL. A batch that loses it stops before its next write (TenantBusy: the task retries).
    """
    plans = _load_plans(env, ref)
    if ref.dry_run:
        log.info("dry run: %d funds planned, nothing written", len(plans))
        return dict(Counter(p.action.value for p in plans))
    recorder = LinkRecorder(ref.business_id, ref.tenant_id, ref.run_id)
    writes = [p for p in plans if p.action in WRITING]
    size = -(-len(writes) // of) if writes else 0
    if batch == 0:
        _record_unwritten(env, recorder, [p for p in plans if p.action not in WRITING])
    lease = TenantLease(env.state, ref.tenant_id, ref.run_id, env.lease.ttl, clock=env.clock)
    with lease.hold(env.lease.heartbeat) as heartbeat:
        statuses = _write(env, ref, recorder, writes[batch * size : (batch + 1) * size], heartbeat)
    _add_calls(env, ref, f"upsert[{batch}]")
    return dict(Counter(statuses))


def _record_unwritten(env: SyncEnv, recorder: LinkRecorder, plans: list[FundPlan]) -> None:
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


def _desired_for(env: SyncEnv, ref: RunRef, fund_ids: set[str]) -> dict[str, DesiredFund]:
    return {m.fund_id: m.desired for m in _mapped_funds(env, ref, fund_ids) if m.desired}


def _write(
    env: SyncEnv, ref: RunRef, recorder: LinkRecorder, writes: list[FundPlan], heartbeat: Heartbeat
) -> list[str]:
    desired = _desired_for(env, ref, {p.fund_id for p in writes})
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


def _add_calls(env: SyncEnv, ref: RunRef, step: str) -> None:
    """Record the XPM calls one step made (each step, and each upsert batch, writes its own row)."""
    with env.state.begin() as conn:
        upsert(conn, sync_run_calls, {"run_id": ref.run_id, "step": step, "calls": env.calls.count})


def finish(env: SyncEnv, ref: RunRef) -> SyncReport:
    """Count the outcomes, write the report, advance the watermark (not on a dry run) and clean up."""
    with env.state.connect() as conn:
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == ref.run_id)).one()
        if ref.dry_run:
            rows = conn.execute(sa.select(planned_funds).where(planned_funds.c.run_id == ref.run_id)).all()
            statuses = [DRY_RUN_STATUS.get(r.action, r.action) for r in rows]
            problems = [
                _problem(r.scope_code, r.action, r.reason)
                for r in rows
                if r.reason and r.action not in ("link",)
            ]
            diff = [
                {"scope_code": r.scope_code, "action": r.action, "fields": r.diff} for r in rows if r.diff
            ]
        else:
            rows = conn.execute(sa.select(sync_outcomes).where(sync_outcomes.c.run_id == ref.run_id)).all()
            statuses = [r.status for r in rows]
            problems = [_problem(r.scope_code, r.status, r.detail) for r in rows if r.status in _PROBLEMS]
            diff = []
    missing = [] if ref.dry_run else members_not_in_xpm(env.state, env.cipher, ref, rows)
    now = env.clock()
    report = SyncReport(
        run_id=ref.run_id,
        business_id=ref.business_id,
        tenant_id=ref.tenant_id,
        mode=ref.mode.value,
        sync_mode=ref.sync_mode.value,
        dry_run=ref.dry_run,
        counts=tally(statuses),
        api_calls=_calls_of(env, ref),
        duration_seconds=(now - run.started_at).total_seconds(),
        problems=problems,
        diff=diff,
        notices=list((run.summary or {}).get("notices", [])),
        report_path=str(run_folder(env.reports_dir, ref.business_id, ref.run_id) / "sync-report.json"),
        members_not_in_xpm=missing,
    )
    write_report(report)
    _close(env, ref, run, report, now)
    log.info("sync %s: %s (report %s)", ref.run_id, report.summary_line(), report.report_path)
    return report


_PROBLEMS = ("failed", "quarantined", "needs_review", "deferred", "skipped")


def _calls_of(env: SyncEnv, ref: RunRef) -> int:
    with env.state.connect() as conn:
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(sync_run_calls.c.calls), 0)).where(
                sync_run_calls.c.run_id == ref.run_id
            )
        ).scalar_one()


def _problem(scope_code: str, status: str, detail: str | None) -> dict[str, str]:
    return {"scope_code": scope_code, "status": status, "detail": detail or ""}


def _close(env: SyncEnv, ref: RunRef, run: Any, report: SyncReport, now: datetime) -> None:
    with env.state.begin() as conn:
        if not ref.dry_run and run.source_watermark is not None and not ref.fund_codes:
            upsert(
                conn,
                watermarks,
                {
                    "business_id": ref.business_id,
                    "source_watermark": run.source_watermark,
                    "run_id": ref.run_id,
                    "updated_at": now,
                },
            )
        conn.execute(sa.delete(planned_funds).where(planned_funds.c.run_id == ref.run_id))
        conn.execute(sa.delete(quarantined_funds).where(quarantined_funds.c.run_id == ref.run_id))
        status = "failed" if report.failed else "success"
        summary = {**(run.summary or {}), "counts": report.counts, "report_path": report.report_path}
        conn.execute(
            sa.update(sync_runs)
            .where(sync_runs.c.run_id == ref.run_id)
            .values(finished_at=now, status=status, summary=summary)
        )
    clear_staging(env.state, ref.run_id)
    TenantLease(env.state, ref.tenant_id, ref.run_id, env.lease.ttl, clock=env.clock).release()
