"""The sync's run store: run rows, the stored plan, the quarantine, XPM call counts and watermarks.

Every row here belongs to one run (``run_id``) except the watermark, which belongs to a Class business and
moves forward when a real, unfiltered run finishes. The steps read and write these tables only through
this module.

A run the report step closes ends ``success`` or ``failed``; a task that fails or is skipped earlier ends its
run here at once, and the DAG's finish task ends whatever is still ``running`` (a task killed, or retried
until Airflow gave up), so no run is left ``running`` for ever.

The plan is stored in two parts: a row per fund (its action, the fields it writes, its contacts' steps and
the dry run's diff: TFN-free) and, for the funds it writes, the mapped payload it sends, sealed in chunks as
staging is. Upsert reads both and sends what plan decided.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.db import bulk_insert
from classxpm.state.crypto import TokenCipher
from classxpm.sync.lease import force_release
from classxpm.sync.links import upsert
from classxpm.sync.model import Action, DesiredContact, DesiredFund
from classxpm.sync.plan import ContactStep, FundPlan
from classxpm.sync.staging import FORMAT, holds_any, seal, unseal
from classxpm.sync.tables import (
    planned_funds,
    planned_payloads,
    quarantined_funds,
    staged_chunks,
    sync_outcomes,
    sync_run_calls,
    sync_runs,
    watermarks,
)

WRITING = (Action.CREATE, Action.LINK, Action.UPDATE)


def open_run(conn: Connection, row: Mapping[str, Any]) -> None:
    """Record a run as started (again, when its start task is retried), in the caller's transaction."""
    upsert(conn, sync_runs, dict(row))


def run_row(state: Engine, run_id: str) -> Any:
    """The run's row of ``sync_runs``."""
    with state.connect() as conn:
        return conn.execute(sa.select(sync_runs).where(sync_runs.c.run_id == run_id)).one()


def statuses(state: Engine, run_ids: Sequence[str]) -> dict[str, str]:
    """The status of each of ``run_ids`` that exists (``running``, ``success``, ``failed``, ``skipped``)."""
    if not run_ids:
        return {}
    query = sa.select(sync_runs.c.run_id, sync_runs.c.status).where(sync_runs.c.run_id.in_(list(run_ids)))
    with state.connect() as conn:
        return {row.run_id: row.status for row in conn.execute(query)}


def failure_reasons(state: Engine, run_ids: Sequence[str]) -> dict[str, str]:
    """Run id → the reason recorded (TFN-free), for each of ``run_ids`` that ended ``failed``."""
    if not run_ids:
        return {}
    query = sa.select(sync_runs.c.run_id, sync_runs.c.summary).where(
        sync_runs.c.run_id.in_(list(run_ids)), sync_runs.c.status == "failed"
    )
    with state.connect() as conn:
        return {
            row.run_id: str((row.summary or {}).get("reason") or "no reason recorded")
            for row in conn.execute(query)
        }


def set_source_watermark(state: Engine, run_id: str, mark: datetime | None) -> None:
    """Remember the newest source timestamp the run's extract saw (the business's next watermark)."""
    with state.begin() as conn:
        conn.execute(sa.update(sync_runs).where(sync_runs.c.run_id == run_id).values(source_watermark=mark))


def note_unmatched_codes(state: Engine, run_id: str, codes: list[str]) -> None:
    """Remember the run's ``fund_codes`` that match no fund, for its report."""
    note_summary(state, run_id, unmatched_fund_codes=list(codes))


def note_summary(state: Engine, run_id: str, **entries: Any) -> None:
    """Remember ``entries`` in the run's summary (TFN-free), replacing what a retried step noted before."""
    with state.begin() as conn:
        summary = conn.execute(sa.select(sync_runs.c.summary).where(sync_runs.c.run_id == run_id)).scalar()
        values = {"summary": {**(summary or {}), **entries}}
        conn.execute(sa.update(sync_runs).where(sync_runs.c.run_id == run_id).values(**values))


def watermark(state: Engine, business_id: str) -> datetime | None:
    """The business's watermark: the newest source timestamp a finished real run saw, or None."""
    with state.connect() as conn:
        return conn.execute(
            sa.select(watermarks.c.source_watermark).where(watermarks.c.business_id == business_id)
        ).scalar()


def store_quarantine(state: Engine, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Replace the run's quarantine: the funds the validation gate held back, with the rules they broke."""
    with state.begin() as conn:
        conn.execute(sa.delete(quarantined_funds).where(quarantined_funds.c.run_id == run_id))
        if rows:
            conn.execute(sa.insert(quarantined_funds), rows)


def quarantined(state: Engine, run_id: str) -> dict[str, str]:
    """Fund id → the rules it broke, joined, for every fund the run's gate held back."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(quarantined_funds.c.fund_id, quarantined_funds.c.rules).where(
                quarantined_funds.c.run_id == run_id
            )
        ).all()
    return {row.fund_id: "; ".join(row.rules) for row in rows}


def store_plans(state: Engine, run_id: str, rows: list[dict[str, Any]]) -> None:
    """Replace the run's plan."""
    with state.begin() as conn:
        conn.execute(sa.delete(planned_funds).where(planned_funds.c.run_id == run_id))
        bulk_insert(conn, planned_funds, rows)


class PayloadWriter:
    """Stores the payloads of a run's planned writes, a chunk at a time, replacing what was stored before.

    Funds are added in fund-id order (the order staging gives them), so each chunk covers one id range
    and upsert reads only the chunks that hold its batch.
    """

    def __init__(self, state: Engine, cipher: TokenCipher, run_id: str, chunk_size: int = 5_000) -> None:
        self.state, self.cipher, self.run_id, self.chunk_size = state, cipher, run_id, chunk_size
        self.pending: list[DesiredFund] = []
        self.chunk_no = 0
        with state.begin() as conn:
            conn.execute(sa.delete(planned_payloads).where(planned_payloads.c.run_id == run_id))

    def add(self, desired: DesiredFund) -> None:
        """Keep ``desired`` as the payload its fund's write sends."""
        self.pending.append(desired)
        if len(self.pending) >= self.chunk_size:
            self.flush()

    def flush(self) -> None:
        """Seal and store the payloads added since the last flush."""
        if not self.pending:
            return
        ids = [d.fund_id for d in self.pending]
        document = {"format": FORMAT, "funds": [_packed(d) for d in self.pending]}
        row = {
            "run_id": self.run_id,
            "chunk_no": self.chunk_no,
            "first_fund_id": min(ids),
            "last_fund_id": max(ids),
            "funds": len(ids),
            "payload": seal(document, self.cipher),
        }
        with self.state.begin() as conn:
            conn.execute(sa.insert(planned_payloads), row)
        self.pending, self.chunk_no = [], self.chunk_no + 1


def _packed(desired: DesiredFund) -> list[Any]:
    contacts = [[c.member_id, c.fields, c.payload_hash] for c in desired.contacts]
    return [desired.fund_id, desired.scope_code, desired.fields, desired.payload_hash, contacts]


def _unpacked(item: list[Any]) -> DesiredFund:
    fund_id, scope_code, fields, payload_hash, contacts = item
    members = tuple(DesiredContact(member_id, values, digest) for member_id, values, digest in contacts)
    return DesiredFund(fund_id, scope_code, fields, payload_hash, members)


def load_payloads(
    state: Engine, cipher: TokenCipher, run_id: str, fund_ids: Collection[str]
) -> dict[str, DesiredFund]:
    """Fund id → the payload the run's plan writes for it, for each of ``fund_ids`` that has one.

    Raises:
        ConfigurationError: The Fernet key that sealed the plan is no longer configured.
        StagingError: A stored payload is damaged or of another format (re-run plan).
    """
    wanted = sorted(fund_ids)
    with state.connect() as conn:
        index = conn.execute(
            sa.select(
                planned_payloads.c.chunk_no, planned_payloads.c.first_fund_id, planned_payloads.c.last_fund_id
            )
            .where(planned_payloads.c.run_id == run_id)
            .order_by(planned_payloads.c.chunk_no)
        ).all()
        numbers = [e.chunk_no for e in index if holds_any(wanted, e.first_fund_id, e.last_fund_id)]
        blobs = conn.execute(
            sa.select(planned_payloads.c.payload).where(
                planned_payloads.c.run_id == run_id, planned_payloads.c.chunk_no.in_(numbers)
            )
        ).scalars()
        found: dict[str, DesiredFund] = {}
        keep = set(wanted)
        for blob in blobs:
            for item in unseal(blob, cipher, "a planned payload", "re-run the plan")["funds"]:
                if item[0] in keep:
                    found[item[0]] = _unpacked(item)
    return found


def planned_row(
    run_id: str, fund_plan: FundPlan, diff: list[dict[str, Any]], *, leftover: bool = False
) -> dict[str, Any]:
    """The ``planned_funds`` row of one fund's plan; ``leftover`` when an earlier run deferred it."""
    return {
        "leftover": leftover,
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


def load_plans(state: Engine, run_id: str) -> list[FundPlan]:
    """The run's stored plan, one per fund: funds an earlier run deferred first, then by fund id.

    The order is fixed when the plan is stored, so every upsert batch splits the same list.
    """
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(planned_funds)
            .where(planned_funds.c.run_id == run_id)
            .order_by(planned_funds.c.leftover.desc(), planned_funds.c.fund_id)
        ).all()
    return [_plan_from(row) for row in rows]


def planned_rows(state: Engine, run_id: str) -> list[Any]:
    """The run's ``planned_funds`` rows as stored (a dry run's report is made from them)."""
    with state.connect() as conn:
        return conn.execute(sa.select(planned_funds).where(planned_funds.c.run_id == run_id)).all()


def count_writes(state: Engine, run_id: str) -> int:
    """How many funds the run's plan writes to XPM."""
    with state.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(planned_funds)
            .where(planned_funds.c.run_id == run_id, planned_funds.c.action.in_([a.value for a in WRITING]))
        ).scalar_one()


def outcome_rows(state: Engine, run_id: str) -> list[Any]:
    """The run's ``sync_outcomes`` rows (a real run's report is made from them)."""
    with state.connect() as conn:
        return conn.execute(sa.select(sync_outcomes).where(sync_outcomes.c.run_id == run_id)).all()


def add_calls(state: Engine, run_id: str, step: str, calls: int) -> None:
    """Record the XPM calls one step made (each step, and each upsert batch, writes its own row)."""
    with state.begin() as conn:
        upsert(conn, sync_run_calls, {"run_id": run_id, "step": step, "calls": calls})


def calls_of(state: Engine, run_id: str) -> int:
    """Every XPM call the run's steps made."""
    with state.connect() as conn:
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(sync_run_calls.c.calls), 0)).where(
                sync_run_calls.c.run_id == run_id
            )
        ).scalar_one()


def close_run(
    state: Engine,
    run: Any,
    *,
    status: str,
    summary: Mapping[str, Any],
    now: datetime,
    advance_watermark: bool,
) -> None:
    """End a run: its status and summary, the watermark moved on when asked, its plan and quarantine gone."""
    with state.begin() as conn:
        if advance_watermark and run.source_watermark is not None:
            upsert(
                conn,
                watermarks,
                {
                    "business_id": run.business_id,
                    "source_watermark": run.source_watermark,
                    "run_id": run.run_id,
                    "updated_at": now,
                },
            )
        conn.execute(sa.delete(planned_funds).where(planned_funds.c.run_id == run.run_id))
        conn.execute(sa.delete(planned_payloads).where(planned_payloads.c.run_id == run.run_id))
        conn.execute(sa.delete(quarantined_funds).where(quarantined_funds.c.run_id == run.run_id))
        conn.execute(
            sa.update(sync_runs)
            .where(sync_runs.c.run_id == run.run_id)
            .values(finished_at=now, status=status, summary=dict(summary))
        )


RUNNING = "running"
UNFINISHED_REASON = "a task of the run failed before the report (see the Airflow task logs)"


def end_runs(state: Engine, run_ids: Sequence[str], status: str, reason: str, now: datetime) -> None:
    """End the runs among ``run_ids`` that are still running with ``status`` and ``reason``."""
    with state.begin() as conn:
        for row in _running(conn, sa.select(sync_runs).where(sync_runs.c.run_id.in_(list(run_ids)))):
            _end(conn, row, status, reason, now)


def end_unfinished(state: Engine, dag_id: str, airflow_run_id: str, now: datetime) -> dict[str, str]:
    """End every run of one Airflow DAG run: failed when still running; give up their tenant leases.

    Returns:
        Each run's final status by business id.
    """
    prefix = f"{dag_id}/{airflow_run_id}/"
    query = sa.select(sync_runs).where(sync_runs.c.run_id.startswith(prefix, autoescape=True))
    with state.begin() as conn:
        for row in _running(conn, query):
            _end(conn, row, "failed", UNFINISHED_REASON, now)
        rows = conn.execute(query).all()
    for row in rows:
        if row.tenant_id:
            force_release(state, row.tenant_id, row.run_id)
    return {row.business_id: row.status for row in rows}


def _running(conn: Connection, query: sa.Select) -> list[Any]:
    return list(conn.execute(query.where(sync_runs.c.status == RUNNING).with_for_update()).all())


def _end(conn: Connection, row: Any, status: str, reason: str, now: datetime) -> None:
    summary = {**(row.summary or {}), "reason": reason}
    conn.execute(
        sa.update(sync_runs)
        .where(sync_runs.c.run_id == row.run_id, sync_runs.c.status == RUNNING)
        .values(status=status, finished_at=now, summary=summary)
    )


RUN_SCOPED = (staged_chunks, planned_payloads, planned_funds, quarantined_funds)
"""Tables whose rows belong to one run and mean nothing once it ended (staging and plan are encrypted)."""


@dataclass(frozen=True)
class DeadRun:
    """A run found still ``running`` long after it started: its worker died before the report."""

    run_id: str
    business_id: str
    started_at: datetime

    def notice(self) -> str:
        """The line the closing run's report carries."""
        return (
            f"Run {self.run_id}, started {self.started_at:%Y-%m-%d %H:%M} UTC, died before its report; this "
            "run ended it as failed and removed its staged data. Funds it had not finished are sent again."
        )


def dead_reason(closing_run: str) -> str:
    """The reason a dead run's row is ended with."""
    return f"the run died before its report; ended as failed by the next run ({closing_run})"


def close_dead_runs(state: Engine, now: datetime, age: timedelta, closing_run: str) -> list[DeadRun]:
    """End runs still ``running`` that started more than ``age`` ago, as failed with the reason.

    The run-scoped rows (encrypted staging, plan, payloads, quarantine) of every ended run that started
    more than ``age`` ago go too, and dead runs give up their tenant leases.

    Returns:
        The runs ended here, for the closing run's report.
    """
    cutoff = now - age
    with state.begin() as conn:
        dead = _running(conn, sa.select(sync_runs).where(sync_runs.c.started_at < cutoff))
        for row in dead:
            _end(conn, row, "failed", dead_reason(closing_run), now)
        ended = (
            sa.select(sync_runs.c.run_id)
            .where(sync_runs.c.started_at < cutoff, sync_runs.c.status != RUNNING)
            .scalar_subquery()
        )
        for table in RUN_SCOPED:
            conn.execute(sa.delete(table).where(table.c.run_id.in_(ended)))
    for row in dead:
        if row.tenant_id:
            force_release(state, row.tenant_id, row.run_id)
    return [DeadRun(row.run_id, row.business_id, row.started_at) for row in dead]
