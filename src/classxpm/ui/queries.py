"""Read-only queries of the pages. Every list is limited and paged, so 10,000 funds cost one page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from classxpm.jobs.tables import job_snapshots, snapshot_jobs, snapshot_tasks
from classxpm.state.tables import xpm_grants
from classxpm.sync.model import RemoteClient
from classxpm.sync.tables import fund_links, remote_clients, sync_outcomes, sync_runs

PAGE_SIZE = 50
STATUSES = ("synced", "failed", "quarantined", "needs_review", "deferred", "creating")


@dataclass(frozen=True)
class Page:
    """One page of rows, and whether another follows."""

    rows: list[RowMapping]
    number: int
    has_next: bool


def businesses(state: Engine) -> list[str]:
    """Every business the state database knows: authorised, linked or synced."""
    union = sa.union(
        sa.select(xpm_grants.c.business_id),
        sa.select(fund_links.c.business_id).distinct(),
        sa.select(sync_runs.c.business_id).distinct(),
    ).subquery()
    with state.connect() as conn:
        return list(conn.execute(sa.select(union.c.business_id).order_by(union.c.business_id)).scalars())


def last_sync(state: Engine, business_id: str) -> RowMapping | None:
    """The business's most recent sync run."""
    query = (
        sa.select(sync_runs)
        .where(sync_runs.c.business_id == business_id)
        .order_by(sync_runs.c.started_at.desc())
        .limit(1)
    )
    with state.connect() as conn:
        return conn.execute(query).mappings().first()


def search_funds(state: Engine, business_id: str, text: str = "", status: str = "", page: int = 1) -> Page:
    """Funds whose scope code starts with, or whose name contains, ``text``; by scope code, one page."""
    query = sa.select(fund_links).where(fund_links.c.business_id == business_id)
    if text:
        pattern = literal_pattern(text.strip().lower())
        query = query.where(
            sa.or_(
                sa.func.lower(fund_links.c.scope_code).like(f"{pattern}%", escape="\\"),
                sa.func.lower(fund_links.c.fund_name).like(f"%{pattern}%", escape="\\"),
            )
        )
    if status:
        query = query.where(fund_links.c.last_status == status)
    query = query.order_by(fund_links.c.scope_code).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    with state.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return Page(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def literal_pattern(text: str) -> str:
    r"""``text`` for a LIKE pattern with ``\\`` as escape: its ``%`` and ``_`` match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def status_counts(state: Engine, business_id: str) -> dict[str, int]:
    """How many of the business's funds are in each sync status."""
    query = (
        sa.select(fund_links.c.last_status, sa.func.count())
        .where(fund_links.c.business_id == business_id)
        .group_by(fund_links.c.last_status)
        .order_by(sa.func.count().desc(), fund_links.c.last_status)
    )
    with state.connect() as conn:
        return {status or "never synced": count for status, count in conn.execute(query)}


def fund(state: Engine, business_id: str, fund_id: str) -> RowMapping | None:
    """One fund's link."""
    query = sa.select(fund_links).where(
        fund_links.c.business_id == business_id, fund_links.c.fund_id == fund_id
    )
    with state.connect() as conn:
        return conn.execute(query).mappings().first()


def snapshot(state: Engine, business_id: str) -> RowMapping | None:
    """When the business's jobs were last read from XPM."""
    query = sa.select(job_snapshots).where(job_snapshots.c.business_id == business_id)
    with state.connect() as conn:
        return conn.execute(query).mappings().first()


def client_jobs(state: Engine, business_id: str, client_uuid: str) -> list[dict[str, Any]]:
    """The client's open jobs from the snapshot, by due date, each with its ``tasks`` in XPM's order."""
    jobs_query = (
        sa.select(snapshot_jobs)
        .where(snapshot_jobs.c.business_id == business_id, snapshot_jobs.c.client_uuid == client_uuid)
        .order_by(snapshot_jobs.c.due_date, snapshot_jobs.c.job_number)
    )
    with state.connect() as conn:
        jobs = [dict(row) for row in conn.execute(jobs_query).mappings()]
        numbers = [job["job_number"] for job in jobs]
        tasks_query = (
            sa.select(snapshot_tasks)
            .where(snapshot_tasks.c.business_id == business_id, snapshot_tasks.c.job_number.in_(numbers))
            .order_by(snapshot_tasks.c.job_number, snapshot_tasks.c.position)
        )
        tasks = list(conn.execute(tasks_query).mappings()) if numbers else []
    for job in jobs:
        job["tasks"] = [task for task in tasks if task["job_number"] == job["job_number"]]
    return jobs


def last_outcome(state: Engine, business_id: str, fund_id: str) -> RowMapping | None:
    """The fund's most recent sync outcome (its ``detail`` holds XPM's reason when XPM refused it)."""
    query = (
        sa.select(sync_outcomes)
        .where(sync_outcomes.c.business_id == business_id, sync_outcomes.c.fund_id == fund_id)
        .order_by(sync_outcomes.c.at.desc(), sync_outcomes.c.id.desc())
        .limit(1)
    )
    with state.connect() as conn:
        return conn.execute(query).mappings().first()


def launch_urls(state: Engine, links: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Fund id to XPM's launch link, for every linked fund that has one.

    The link stored with the fund when the sync wrote or linked it, else the ``WebUrl`` of its client as
    the sync last read XPM (every client record carries one), so a fund linked before links were stored
    still shows it.
    """
    links = [link for link in links if link["client_uuid"]]
    urls = {link["fund_id"]: link["web_url"] for link in links if link["web_url"]}
    wanted = {(ln["tenant_id"], ln["client_uuid"]): ln["fund_id"] for ln in links if not ln["web_url"]}
    if not wanted:
        return urls
    held = remote_clients.c
    query = sa.select(held.tenant_id, held.client_uuid, held.fields).where(
        remote_clients.c.tenant_id.in_({tenant for tenant, _ in wanted}),
        remote_clients.c.client_uuid.in_({uuid for _, uuid in wanted}),
    )
    with state.connect() as conn:
        for tenant_id, client_uuid, fields in conn.execute(query):
            fund_id = wanted.get((tenant_id, client_uuid))
            url = RemoteClient(client_uuid, fields or {}).web_url
            if fund_id and url:
                urls[fund_id] = url
    return urls
