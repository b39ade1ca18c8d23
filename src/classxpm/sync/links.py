"""Link state: which XPM client and contacts each fund and member are, and the outcome log.

The outcome log holds one row per fund and run, however often the run's upsert is repeated.

A result is recorded in one transaction with its link, so a crash can lose at most the record of a write
that the next run then finds again by ExportCode; it can never leave a link without its outcome.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from classxpm.db import bulk_insert
from classxpm.sync.model import Link, LinkedContact
from classxpm.sync.plan import FundPlan
from classxpm.sync.tables import (
    contact_links,
    fund_choices,
    fund_links,
    sync_outcomes,
    sync_runs,
    watermarks,
)

RETRY_STATUSES = ("failed", "deferred", "creating", "chosen")
"""Statuses the next run takes again; ``chosen``: a person answered its review (``sync/choices.py``)."""


def upsert(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> None:
    """Insert ``values`` or, when the primary key exists, update the other columns given."""
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(values)), dict(values))


@functools.cache
def _upsert_statement(dialect_name: str, table: sa.Table, columns: tuple[str, ...]) -> sa.Insert:
    """The upsert of ``columns`` into ``table``, built once: the write loop runs it four times a fund."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    keys = [column.name for column in table.primary_key.columns]
    statement = dialect.insert(table)
    updates = {name: statement.excluded[name] for name in columns if name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)


def load_links(state: Engine, business_id: str) -> dict[str, Link]:
    """Return every fund of the business that is linked to an XPM client, with its linked contacts."""
    with state.connect() as conn:
        funds = conn.execute(
            sa.select(
                fund_links.c.fund_id,
                fund_links.c.client_uuid,
                fund_links.c.payload_hash,
                fund_links.c.refused_hash,
            ).where(fund_links.c.business_id == business_id, fund_links.c.client_uuid.is_not(None))
        ).all()
        contacts = conn.execute(
            sa.select(contact_links).where(contact_links.c.business_id == business_id)
        ).mappings()
        by_fund: dict[str, dict[str, LinkedContact]] = {}
        for row in contacts:
            by_fund.setdefault(row["fund_id"], {})[row["member_id"]] = LinkedContact(
                row["contact_uuid"], row["payload_hash"]
            )
    return {
        row.fund_id: Link(
            row.fund_id, row.client_uuid, row.payload_hash, by_fund.get(row.fund_id, {}), row.refused_hash
        )
        for row in funds
    }


def in_review(state: Engine, business_id: str) -> dict[str, str]:
    """Fund id → the reason, for the business's funds whose last outcome was "needs review"."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(fund_links.c.fund_id, fund_links.c.last_error).where(
                fund_links.c.business_id == business_id, fund_links.c.last_status == "needs_review"
            )
        ).all()
    return {row.fund_id: row.last_error or "" for row in rows}


def funds_to_retry(state: Engine, business_id: str) -> tuple[str, ...]:
    """Funds the next run takes again: failed, deferred, cut short, or with members held back.

    A fund with members held back is taken again so the report names them every run until Class gives
    them a name.
    """
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(fund_links.c.fund_id).where(
                fund_links.c.business_id == business_id,
                sa.or_(fund_links.c.last_status.in_(RETRY_STATUSES), fund_links.c.members_held_back > 0),
            )
        ).scalars()
        return tuple(sorted(rows))


def deferred_fund_ids(state: Engine, business_id: str) -> set[str]:
    """Funds a run deferred for the daily quota: the next run sends them before anything else."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(fund_links.c.fund_id).where(
                fund_links.c.business_id == business_id, fund_links.c.last_status == "deferred"
            )
        )
        return set(rows.scalars())


def note_held_back(
    conn: Connection, business_id: str, fund_ids: Iterable[str], held: Mapping[str, int]
) -> None:
    """Record how many members of each of a run's funds ``fund_ids`` were held back (``held``; else none)."""
    ids = set(fund_ids)
    before = set(
        conn.execute(
            sa.select(fund_links.c.fund_id).where(
                fund_links.c.business_id == business_id, fund_links.c.members_held_back > 0
            )
        ).scalars()
    )
    counts = dict.fromkeys(before & ids, 0) | {fund: n for fund, n in held.items() if fund in ids}
    for fund_id, count in counts.items():
        conn.execute(
            sa.update(fund_links)
            .where(fund_links.c.business_id == business_id, fund_links.c.fund_id == fund_id)
            .values(members_held_back=count)
        )


def announced_creates(state: Engine, business_id: str) -> dict[str, datetime]:
    """Creates announced but never confirmed (the run died between): fund id to when it was announced."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(fund_links.c.fund_id, fund_links.c.create_started_at).where(
                fund_links.c.business_id == business_id,
                fund_links.c.last_status == "creating",
                fund_links.c.create_started_at.is_not(None),
            )
        ).all()
    return {row.fund_id: row.create_started_at for row in rows}


def linked_fund_ids(state: Engine, business_id: str) -> set[str]:
    """Funds of the business that are linked to an XPM client now."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(fund_links.c.fund_id).where(
                fund_links.c.business_id == business_id, fund_links.c.client_uuid.is_not(None)
            )
        )
        return set(rows.scalars())


def business_contacts(state: Engine, business_id: str) -> dict[str, dict[str, str]]:
    """The business's members linked to an XPM contact now, by fund: fund id → member id → contact UUID."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(contact_links.c.fund_id, contact_links.c.member_id, contact_links.c.contact_uuid).where(
                contact_links.c.business_id == business_id
            )
        ).all()
    by_fund: dict[str, dict[str, str]] = {}
    for row in rows:
        by_fund.setdefault(row.fund_id, {})[row.member_id] = row.contact_uuid
    return by_fund


def finished_in_run(state: Engine, run_id: str) -> dict[str, str]:
    """Funds that already have an outcome in this run, with its status (a re-run leaves them alone)."""
    with state.connect() as conn:
        rows = conn.execute(
            sa.select(sync_outcomes.c.fund_id, sync_outcomes.c.status).where(sync_outcomes.c.run_id == run_id)
        ).all()
    return {row.fund_id: row.status for row in rows}


@dataclass(frozen=True)
class TenantChange:
    """What a run reset because the business was re-authorised to another XPM account."""

    previous_tenants: tuple[str, ...]
    funds: int
    contacts: int

    def notice(self, tenant_label: str) -> str:
        """The report's line for the data team."""
        previous = ", ".join(self.previous_tenants)
        return (
            f"Re-authorised to another XPM account ({tenant_label}; before: {previous}). The links of "
            f"{self.funds} funds and {self.contacts} members to the previous account were reset, so this "
            "run links or creates every fund in the new account; nothing is written to the previous one."
        )


def forget_other_tenants(
    conn: Connection, business_id: str, tenant_id: str, run_id: str
) -> TenantChange | None:
    """Reset what a business's earlier runs recorded of another XPM tenant: links and watermark.

    A business is connected to one XPM account at a time. When it was re-authorised to another, links to
    the previous account's clients mean nothing in the new one, and the incremental watermark would hide
    every fund that has not changed since; both go, in the run's own transaction, so the run creates or
    links every fund in the new account. Returns None when the business has only ever synced to
    ``tenant_id``.
    """
    previous = set(
        conn.execute(
            sa.select(fund_links.c.tenant_id)
            .distinct()
            .where(fund_links.c.business_id == business_id, fund_links.c.tenant_id != tenant_id)
        ).scalars()
    )
    last = conn.execute(
        sa.select(sync_runs.c.tenant_id)
        .where(sync_runs.c.business_id == business_id, sync_runs.c.run_id != run_id)
        .order_by(sync_runs.c.started_at.desc())
        .limit(1)
    ).scalar()
    if last is not None and last != tenant_id:
        previous.add(last)
    if not previous:
        return None
    stale = sa.select(fund_links.c.fund_id).where(
        fund_links.c.business_id == business_id, fund_links.c.tenant_id != tenant_id
    )
    contacts = conn.execute(
        sa.delete(contact_links).where(
            contact_links.c.business_id == business_id, contact_links.c.fund_id.in_(stale.scalar_subquery())
        )
    ).rowcount
    funds = conn.execute(
        sa.delete(fund_links).where(
            fund_links.c.business_id == business_id, fund_links.c.tenant_id != tenant_id
        )
    ).rowcount
    conn.execute(sa.delete(watermarks).where(watermarks.c.business_id == business_id))
    conn.execute(
        sa.delete(fund_choices).where(
            fund_choices.c.business_id == business_id, fund_choices.c.tenant_id != tenant_id
        )
    )
    return TenantChange(tuple(sorted(previous)), funds, contacts)


def linked_to(state: Engine, business_id: str, tenant_id: str) -> int:
    """How many of the business's funds are linked to clients of ``tenant_id``."""
    with state.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(fund_links)
            .where(
                fund_links.c.business_id == business_id,
                fund_links.c.tenant_id == tenant_id,
                fund_links.c.client_uuid.is_not(None),
            )
        ).scalar_one()


@dataclass(frozen=True)
class Outcome:
    """What happened to one fund in one run (TFN-free)."""

    fund_id: str
    scope_code: str
    action: str
    status: str
    detail: str = ""


class LinkRecorder:
    """Writes one run's link rows and outcome log for one business and tenant."""

    def __init__(self, business_id: str, tenant_id: str, run_id: str) -> None:
        self.business_id, self.tenant_id, self.run_id = business_id, tenant_id, run_id

    def outcome_row(self, outcome: Outcome, at: datetime) -> dict[str, Any]:
        """The outcome-log row for ``outcome``."""
        return {
            "run_id": self.run_id,
            "business_id": self.business_id,
            "fund_id": outcome.fund_id,
            "scope_code": outcome.scope_code,
            "action": outcome.action,
            "status": outcome.status,
            "detail": outcome.detail or None,
            "at": at,
        }

    def outcomes(self, conn: Connection, outcomes: Iterable[Outcome], at: datetime) -> None:
        """Append outcomes to the log, leaving out funds this run logged already (a re-run after a crash)."""
        rows = [self.outcome_row(outcome, at) for outcome in outcomes]
        if len(rows) == 1:
            # The write loop logs one fund at a time: one statement that inserts it unless it is logged.
            row, logged = rows[0], sync_outcomes.c
            fresh = ~sa.exists().where(logged.run_id == row["run_id"], logged.fund_id == row["fund_id"])
            values = sa.select(*(sa.literal(value, logged[name].type) for name, value in row.items()))
            conn.execute(sa.insert(sync_outcomes).from_select(list(row), values.where(fresh)))
            return
        if not rows:
            return
        # Every outcome this run logged so far, rather than an IN list of these funds: a large practice's
        # run logs more funds at once than PostgreSQL takes bound parameters in one statement (65,535).
        logged = set(
            conn.execute(
                sa.select(sync_outcomes.c.fund_id).where(sync_outcomes.c.run_id == self.run_id)
            ).scalars()
        )
        bulk_insert(conn, sync_outcomes, [row for row in rows if row["fund_id"] not in logged])

    def fund(self, conn: Connection, plan: FundPlan, **values: Any) -> None:
        """Create or update the link row of a planned fund with ``values`` (client_uuid, last_status...)."""
        keys = {"business_id": self.business_id, "fund_id": plan.fund_id}
        names = {"scope_code": plan.scope_code, "fund_name": plan.name or None}
        upsert(conn, fund_links, {**keys, "tenant_id": self.tenant_id, **names, **values})

    def contact(
        self, conn: Connection, fund_id: str, member_id: str, contact_uuid: str, **values: Any
    ) -> None:
        """Create or update a member's link to its XPM contact (payload_hash, last_synced_at)."""
        keys = {"business_id": self.business_id, "member_id": member_id}
        upsert(conn, contact_links, {**keys, "fund_id": fund_id, "contact_uuid": contact_uuid, **values})
