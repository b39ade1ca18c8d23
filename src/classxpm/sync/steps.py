"""The sync's steps, one per DAG task: start, extract, plan, upsert and finish.

Each step takes the shared resources and a ``RunRef`` and is safe to run again after a failure or a crash:
extract replaces the run's staging, plan replaces the run's plan, upsert skips what it finished already
(its links say so) and finds lost creates by ExportCode.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from classxpm.source.extract import FundFilter, check_source_contract, unmatched_codes
from classxpm.source.schema import column_names, funds, members
from classxpm.state.tokens import Grant, TokenStore
from classxpm.sync import candidates, run_store
from classxpm.sync.desired import HELD_BACK
from classxpm.sync.gone import (
    REPORT,
    archive_gone,
    drop_superseded,
    find_gone,
    mark_gone,
    members_policy_for,
    policy_for,
    report_entries,
    settle_rolled_out,
)
from classxpm.sync.lease import TenantLease
from classxpm.sync.links import LinkRecorder, forget_other_tenants, funds_to_retry, note_held_back
from classxpm.sync.missing_members import members_not_in_xpm
from classxpm.sync.model import RunMode
from classxpm.sync.planner import plan_run
from classxpm.sync.report import SyncReport, news_notice, tally, write_report
from classxpm.sync.run import RunRef, RunRequest, SyncEnv
from classxpm.sync.run_store import WRITING
from classxpm.sync.staging import clear_staging, iter_staged_chunks, stage_chunks, stage_extract
from classxpm.sync.writer import record_unwritten, write_plans
from classxpm.validation.report import run_folder
from classxpm.xpm.errors import NotAuthorised, Reauthorise

log = logging.getLogger(__name__)

WATERMARK_OVERLAP = timedelta(minutes=5)
"""Incremental runs re-read this much before the watermark: rows committed late are not missed."""
DRY_RUN_STATUS = {"create": "created", "link": "linked", "update": "updated"}


def start(env: SyncEnv, dag_id: str, airflow_run_id: str, request: RunRequest) -> list[RunRef]:
    """Check authorisation and open one run per Class business: the one asked for, else every authorised one.

    A run the Class watcher started opens runs only for the businesses its events named. A business whose
    grant Xero refused is left out with the seed's message in the log, so one expired grant never holds the
    other businesses back; asked for by name, it fails the run instead.

    Raises:
        NotAuthorised: No grant is stored (the run is skipped).
        Reauthorise: The business asked for, or every business, has a refused grant (no retries).
    """
    store = TokenStore(env.state, env.cipher)
    dead = run_store.close_dead_runs(env.state, env.clock(), env.dead_run_age, f"{dag_id}/{airflow_run_id}")
    for run in dead:
        log.warning("business %s: %s", run.business_id, run.notice())
    if request.business_id:
        grant = store.require(request.business_id)
        return [_open(env, dag_id, airflow_run_id, request, grant, dead=dead)]
    grants = [store.require_any(business) for business in store.business_ids()]
    if not grants:
        raise NotAuthorised()
    if request.businesses is not None:
        grants = [grant for grant in grants if grant.business_id in request.businesses]
        if not grants:
            log.info("Class changed only in businesses not authorised for XPM: nothing to sync")
            return []
    usable = [grant for grant in grants if not grant.invalid_reason]
    for grant in grants:
        if grant.invalid_reason:
            log.error("business %s: %s", grant.business_id, Reauthorise(grant.invalid_reason))
    if not usable:
        raise Reauthorise(grants[0].invalid_reason or "")
    return [_open(env, dag_id, airflow_run_id, request, grant, dead=dead) for grant in usable]


def _open(
    env: SyncEnv,
    dag_id: str,
    airflow_run_id: str,
    request: RunRequest,
    grant: Grant,
    *,
    dead: list[run_store.DeadRun],
) -> RunRef:
    ref = RunRef(
        f"{dag_id}/{airflow_run_id}/{grant.business_id}",
        grant.business_id,
        grant.tenant_id,
        request.mode,
        request.sync_mode,
        request.dry_run,
        request.fund_codes,
        policy_for(grant.business_id, request.gone_from_class, env.gone_from_class),
        members_policy_for(grant.business_id, request.rolled_out_members, env.rolled_out_members),
    )
    with env.state.begin() as conn:
        change = forget_other_tenants(conn, grant.business_id, grant.tenant_id, ref.run_id)
        notice = change.notice(grant.tenant_name or grant.tenant_id) if change is not None else None
        if notice:
            log.warning("business %s: %s", grant.business_id, notice)
        notices = [notice] if notice else []
        notices += [run.notice() for run in dead if run.business_id == grant.business_id]
        run_store.open_run(
            conn,
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
                "summary": {"notices": notices} if notices else {},
            },
        )
    return ref


def extract(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """Stage the run's funds and members from Class (its database or its API); returns counts."""
    if env.class_api is not None:
        # No change feed: every fund is read, and the plan's hash comparison keeps unchanged ones back.
        read = env.class_api.read(env.state, env.cipher, ref.business_id, ref.fund_codes)
        result = stage_chunks(env.state, ref.run_id, read.chunks, env.cipher)
        unmatched, source = read.unmatched_codes, f"the Class API ({read.plan} plan)"
    else:
        check_source_contract(env.source)
        result = stage_extract(env.source, env.state, ref.run_id, _filter(env, ref), env.cipher)
        unmatched, source = unmatched_codes(env.source, ref.business_id, ref.fund_codes), "class_db"
    run_store.set_source_watermark(env.state, ref.run_id, result.max_updated_at)
    if unmatched:
        log.warning("fund_codes that match no fund of this business: %s", ", ".join(unmatched))
        run_store.note_unmatched_codes(env.state, ref.run_id, unmatched)
    log.info("extracted %d funds and %d members from %s", result.funds, result.members, source)
    if ref.mode is RunMode.FULL and not ref.fund_codes:
        _compare_links(env, ref)
    return {"funds": result.funds, "members": result.members}


def _compare_links(env: SyncEnv, ref: RunRef) -> None:
    """A full, unfiltered extract holds all the business has: report what the links hold beyond it."""
    gone = find_gone(env, ref, run_store.run_row(env.state, ref.run_id).started_at)
    run_store.note_summary(env.state, ref.run_id, gone=gone.to_summary())
    if gone.funds or gone.members:
        log.warning(
            "%d linked funds are gone from Class and %d linked members rolled out of their fund",
            len(gone.funds),
            len(gone.members),
        )
    if not ref.dry_run:
        with env.state.begin() as conn:
            mark_gone(conn, ref.business_id, gone, env.clock())


def _filter(env: SyncEnv, ref: RunRef) -> FundFilter:
    base = FundFilter(business_id=ref.business_id, fund_codes=ref.fund_codes)
    if ref.mode is RunMode.FULL:
        return base
    mark = run_store.watermark(env.state, ref.business_id)
    if mark is None:
        return base
    retry = funds_to_retry(env.state, ref.business_id)
    return replace(base, changed_since=mark - WATERMARK_OVERLAP, retry_fund_ids=retry)


def validate(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """The validation gate: hold back funds that break a blocking rule, and write the run's report.

    Raises:
        ValidationGateError: The run as a whole cannot be validated (e.g. a column the rules need is missing).
    """
    from classxpm.validation.gate import validate_frames

    item = _gate_input(env, ref)
    result = validate_frames(
        item.funds,
        item.members,
        run_id=ref.run_id,
        business_id=ref.business_id,
        reports_dir=env.reports_dir,
        source_problems=item.source_problems,
    )
    return _quarantine(env, ref, result)


def validate_shard(env: SyncEnv, refs: list[RunRef]) -> list[dict[str, int] | Exception]:
    """The validation gate for several runs in one Great Expectations run (``gate.validate_shard``).

    Returns:
        Per run, in order, its counts, or the ``ValidationGateError`` that stopped it (the others go on).
    """
    from classxpm.validation.gate import validate_shard

    results = validate_shard([_gate_input(env, ref) for ref in refs], reports_dir=env.reports_dir)
    return [
        result if isinstance(result, Exception) else _quarantine(env, ref, result)
        for ref, result in zip(refs, results, strict=True)
    ]


def _gate_input(env: SyncEnv, ref: RunRef) -> Any:
    """The run's staged funds and members as the gate's frames."""
    import pandas as pd

    from classxpm.validation.gate import GateInput

    fund_columns: dict[str, list[Any]] = {name: [] for name in column_names(funds)}
    member_columns: dict[str, list[Any]] = {name: [] for name in column_names(members)}
    source_problems: dict[str, list[str]] = {}
    for chunk in iter_staged_chunks(env.state, ref.run_id, env.cipher):
        _extend(fund_columns, chunk.funds)
        _extend(member_columns, chunk.members)
        source_problems.update(chunk.problems)
    return GateInput(
        pd.DataFrame(fund_columns), pd.DataFrame(member_columns), ref.run_id, ref.business_id, source_problems
    )


def _quarantine(env: SyncEnv, ref: RunRef, result: Any) -> dict[str, int]:
    """Store the funds the gate holds back; returns the gate's counts."""
    rows = [
        {
            "run_id": ref.run_id,
            "fund_id": fund_id,
            "scope_code": result.labels[fund_id].scope_code,
            "rules": list(rules),
        }
        for fund_id, rules in result.quarantined.items()
    ]
    run_store.store_quarantine(env.state, ref.run_id, rows)
    log.info("business %s: %s", ref.business_id, result.headline())
    return result.counts()


def _extend(columns: dict[str, list[Any]], chunk: dict[str, list[Any]]) -> None:
    """Append a chunk's columns to the run's; a column the chunk lacks gets missing values."""
    rows = len(next(iter(chunk.values()), []))
    for name, column in columns.items():
        column.extend(chunk.get(name, [None] * rows))


def plan(env: SyncEnv, ref: RunRef) -> dict[str, int]:
    """Plan every staged fund against the links and XPM's state, and store the plan; returns counts."""
    counts = plan_run(env, ref)
    _add_calls(env, ref, "plan")
    log.info(
        "plan: %s", ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing to do"
    )
    return counts


def batches(env: SyncEnv, ref: RunRef, batch_size: int) -> int:
    """How many upsert batches of at most ``batch_size`` funds the run's writes make (at least one)."""
    return len(batch_writes(env, ref, batch_size))


def batch_writes(env: SyncEnv, ref: RunRef, batch_size: int) -> list[int]:
    """The writes in each upsert batch of at most ``batch_size`` funds, as ``upsert_funds`` cuts them.

    There is always at least one batch (batch 0 records the funds that need no write), maybe of no writes.
    """
    writes = run_store.count_writes(env.state, ref.run_id)
    of = max(1, -(-writes // max(batch_size, 1)))
    size = -(-writes // of) if writes else 0
    return [max(0, min(size, writes - i * size)) for i in range(of)]


def upsert_funds(env: SyncEnv, ref: RunRef, batch: int = 0, of: int = 1) -> dict[str, int]:
    """Carry out batch ``batch`` of ``of`` of the stored plan under the tenant's lease; returns counts.

    Batches split the writes into contiguous runs of funds, so several workers share a large backfill;
    batch 0 also records the funds that need no write. The lease is the run's, shared by its batches and
    given up when the run finishes; a heartbeat renews it while a batch writes, so after a crash it lapses
    within its TTL. A batch that loses it stops before its next write (TenantBusy: the task retries).
    """
    plans = run_store.load_plans(env.state, ref.run_id)
    if ref.dry_run:
        log.info("dry run: %d funds planned, nothing written", len(plans))
        return dict(Counter(p.action.value for p in plans))
    recorder = LinkRecorder(ref.business_id, ref.tenant_id, ref.run_id)
    writes = [p for p in plans if p.action in WRITING]
    size = -(-len(writes) // of) if writes else 0
    if batch == 0:
        record_unwritten(env, recorder, [p for p in plans if p.action not in WRITING])
    lease = TenantLease(env.state, ref.tenant_id, ref.run_id, env.lease.ttl, clock=env.clock)
    with lease.hold(env.lease.heartbeat) as heartbeat:
        whole = batch == 0 and ref.mode is RunMode.FULL and not ref.fund_codes
        if whole and ref.gone_policy == "archive":
            archived = archive_gone(env, ref, {p.client_uuid for p in plans if p.client_uuid})
            run_store.note_summary(env.state, ref.run_id, gone_archived=archived)
        if whole and ref.members_policy != REPORT:
            run_store.note_summary(env.state, ref.run_id, rolled_out_done=settle_rolled_out(env, ref))
        statuses = write_plans(env, ref, recorder, writes[batch * size : (batch + 1) * size], heartbeat)
    _add_calls(env, ref, f"upsert[{batch}]")
    return dict(Counter(statuses))


def _add_calls(env: SyncEnv, ref: RunRef, step: str) -> None:
    """Record the XPM calls one step made (each step, and each upsert batch, writes its own row)."""
    run_store.add_calls(env.state, ref.run_id, step, env.calls.count)


def finish(env: SyncEnv, ref: RunRef) -> SyncReport:
    """Count the outcomes, write the report, advance the watermark (not on a dry run) and clean up."""
    run = run_store.run_row(env.state, ref.run_id)
    if ref.dry_run:
        rows = run_store.planned_rows(env.state, ref.run_id)
        statuses = [DRY_RUN_STATUS.get(r.action, r.action) for r in rows]
        problems = [
            _problem(r.scope_code, r.action, r.reason, r.fund_id)
            for r in rows
            if r.reason and r.action not in ("link",)
        ]
        diff = [{"scope_code": r.scope_code, "action": r.action, "fields": r.diff} for r in rows if r.diff]
    else:
        rows = run_store.outcome_rows(env.state, ref.run_id)
        statuses = [r.status for r in rows]
        problems = [
            _problem(r.scope_code, r.status, r.detail, r.fund_id) for r in rows if r.status in _PROBLEMS
        ]
        diff = []
    held_back = list((run.summary or {}).get("held_back") or [])
    held = {entry["member_id"]: HELD_BACK for entry in held_back}
    missing = [] if ref.dry_run else members_not_in_xpm(env.state, env.cipher, ref, rows, held)
    warnings = [
        {"scope_code": e["scope_code"], "member": e["member"], "detail": f"member {e['member']} {HELD_BACK}"}
        for e in held_back
    ]
    problems = _with_candidates(env, ref, problems, (run.summary or {}).get("in_review_before") or {})
    unmatched = list((run.summary or {}).get("unmatched_fund_codes") or [])
    problems += [_problem(code, "not_found", NOT_FOUND) for code in unmatched]
    reused: list[str] = []
    if not ref.dry_run:
        with env.state.begin() as conn:
            reused = drop_superseded(conn, ref.business_id)
    now = env.clock()
    gone = report_entries(run.summary or {}, reused, ref.members_policy)
    news = news_notice(problems, gone)
    report = SyncReport(
        run_id=ref.run_id,
        business_id=ref.business_id,
        tenant_id=ref.tenant_id,
        mode=ref.mode.value,
        sync_mode=ref.sync_mode.value,
        dry_run=ref.dry_run,
        counts=tally(statuses),
        api_calls=run_store.calls_of(env.state, ref.run_id),
        duration_seconds=(now - run.started_at).total_seconds(),
        problems=problems,
        diff=diff,
        unmatched_fund_codes=unmatched,
        notices=list((run.summary or {}).get("notices", [])) + ([news] if news else []),
        report_path=str(run_folder(env.reports_dir, ref.business_id, ref.run_id) / "sync-report.json"),
        members_not_in_xpm=missing,
        warnings=warnings,
        gone_from_class=gone,
    )
    write_report(report)
    if not ref.dry_run:
        with env.state.begin() as conn:
            counts = Counter(entry["fund_id"] for entry in held_back)
            note_held_back(conn, ref.business_id, [r.fund_id for r in rows], counts)
    _close(env, ref, run, report, now)
    log.info("sync %s: %s (report %s)", ref.run_id, report.summary_line(), report.report_path)
    return report


_PROBLEMS = ("failed", "quarantined", "needs_review", "deferred", "skipped")
NOT_FOUND = "asked for in fund_codes, but no Class fund of this business has this scope code"


def _problem(scope_code: str, status: str, detail: str | None, fund_id: str = "") -> dict[str, Any]:
    entry = {"scope_code": scope_code, "status": status, "detail": detail or ""}
    return entry | {"fund_id": fund_id} if fund_id else entry


def _with_candidates(
    env: SyncEnv, ref: RunRef, problems: list[dict[str, Any]], before: dict[str, str]
) -> list[dict[str, Any]]:
    """Give each needs-review problem its candidate XPM clients, as this run read XPM, and whether it is new.

    ``before``: the run's funds in review before it, with the reason; one still in review for that reason
    is not news. The report alone tells a person what to choose from; ``fund_id`` is dropped from entries.
    """
    review = [p["fund_id"] for p in problems if p["status"] == "needs_review"]
    found = candidates.for_review(env.state, ref.business_id, review)
    shown = []
    for problem in problems:
        fund_id = problem.pop("fund_id", "")
        if problem["status"] == "needs_review":
            problem |= {"candidates": found.get(fund_id, []), "new": before.get(fund_id) != problem["detail"]}
        shown.append(problem)
    return shown


def _close(env: SyncEnv, ref: RunRef, run: Any, report: SyncReport, now: datetime) -> None:
    summary = {**(run.summary or {}), "counts": report.counts, "report_path": report.report_path}
    run_store.close_run(
        env.state,
        run,
        status="failed" if report.failed else "success",
        summary=summary,
        now=now,
        advance_watermark=not ref.dry_run and not ref.fund_codes,
    )
    clear_staging(env.state, ref.run_id)
    TenantLease(env.state, ref.tenant_id, ref.run_id, env.lease.ttl, clock=env.clock).release()
