"""The jobs snapshot of one business: open jobs and their tasks for every linked XPM client.

Calls are kept to the fewest the API allows: ``job.api/current?detailed=true`` once, then
``job.api/get/{jobNumber}`` only for jobs of linked clients that came without their tasks. Everything is
read before anything is written, and the write replaces the previous snapshot in one transaction, so a
failed pull leaves the previous snapshot whole and a reader never sees half of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.jobs.tables import job_snapshots, snapshot_jobs, snapshot_tasks
from classxpm.state.tokens import StoredTokenSource, TokenStore
from classxpm.sync.tables import fund_links
from classxpm.xpm.api import XpmApi
from classxpm.xpm.auth import utcnow
from classxpm.xpm.config import DEFAULT_DAY_LIMIT, DEFAULT_RESERVE_SHARE
from classxpm.xpm.errors import Deferred, NotAuthorised, NotFound, Reauthorise, RecordError
from classxpm.xpm.session import XpmSession
from classxpm.xpm.xml import Job, Task

log = logging.getLogger(__name__)

WEB_URL_CAP = 100
"""At most this many ``client.api/get`` calls a run to fill missing WebUrls; the rest wait for later runs."""
DAILY_RESERVE = int(DEFAULT_DAY_LIMIT * DEFAULT_RESERVE_SHARE)
"""Daily calls never spent on WebUrls unless the connection says otherwise (``XpmConfig.reserve``)."""


@dataclass(frozen=True)
class Pull:
    """The open jobs of linked clients, with tasks, and how many API calls reading them took."""

    jobs: tuple[Job, ...]
    api_calls: int


@dataclass(frozen=True)
class SnapshotResult:
    """What one business's snapshot run did."""

    business_id: str
    jobs: int
    tasks: int
    web_urls: int
    api_calls: int


def linked_clients(state: Engine, business_id: str, tenant_id: str) -> set[str]:
    """The XPM client UUIDs the business's funds are linked to in ``tenant_id``."""
    query = sa.select(fund_links.c.client_uuid).where(
        fund_links.c.business_id == business_id,
        fund_links.c.tenant_id == tenant_id,
        fund_links.c.client_uuid.is_not(None),
    )
    with state.connect() as conn:
        return set(conn.execute(query).scalars())


def pull_jobs(api: XpmApi, clients: Collection[str]) -> Pull:
    """Read the current jobs once, then the detail of each linked client's job that lacks its tasks."""
    wanted = [job for job in api.current_jobs(detailed=True) if job.client_uuid in clients and job.id]
    details = {job.id: api.get_job(job.id) for job in wanted if not job.tasks}
    jobs = tuple(details.get(job.id, job) for job in wanted)
    return Pull(jobs, 1 + len(details))


def write_snapshot(
    state: Engine, business_id: str, tenant_id: str, pull: Pull, taken_at: datetime
) -> SnapshotResult:
    """Replace the business's snapshot with ``pull`` in one transaction."""
    jobs = [_job_row(business_id, job) for job in pull.jobs]
    tasks = [row for job in pull.jobs for row in _task_rows(business_id, job)]
    with state.begin() as conn:
        for table in (snapshot_tasks, snapshot_jobs, job_snapshots):
            conn.execute(sa.delete(table).where(table.c.business_id == business_id))
        _insert(conn, snapshot_jobs, jobs)
        _insert(conn, snapshot_tasks, tasks)
        conn.execute(
            sa.insert(job_snapshots).values(
                business_id=business_id,
                tenant_id=tenant_id,
                taken_at=taken_at,
                jobs=len(jobs),
                tasks=len(tasks),
                api_calls=pull.api_calls,
            )
        )
    return SnapshotResult(business_id, len(jobs), len(tasks), 0, pull.api_calls)


def _insert(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(sa.insert(table), list(rows))


def _job_row(business_id: str, job: Job) -> dict[str, Any]:
    return {
        "business_id": business_id,
        "job_number": job.id,
        "job_uuid": job.uuid,
        "client_uuid": job.client_uuid,
        "name": job.name,
        "state": job.state,
        "start_date": xpm_date(job.start_date),
        "due_date": xpm_date(job.due_date),
        "manager": job.manager_name,
    }


def _task_rows(business_id: str, job: Job) -> list[dict[str, Any]]:
    return [_task_row(business_id, job.id or "", position, task) for position, task in enumerate(job.tasks)]


def _task_row(business_id: str, job_number: str, position: int, task: Task) -> dict[str, Any]:
    return {
        "business_id": business_id,
        "job_number": job_number,
        "position": position,
        "task_uuid": task.uuid,
        "name": task.name,
        "completed": bool(task.completed),
        "start_date": xpm_date(task.start_date),
        "due_date": xpm_date(task.due_date),
    }


def xpm_date(value: str | None) -> date | None:
    """Read an XPM date (``2025-09-30T00:00:00``, ``2025-09-30`` or ``20250930``); None when empty or odd."""
    if not value:
        return None
    text = value[:10] if "-" in value else value[:8]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def web_url_budget(api: XpmApi, cap: int = WEB_URL_CAP, reserve: int = DAILY_RESERVE) -> int:
    """How many WebUrl look-ups this run may make without touching the daily reserve."""
    left = api.remaining_daily_quota()
    return cap if left is None else max(0, min(cap, left - reserve))


def fill_web_urls(state: Engine, api: XpmApi, business_id: str, tenant_id: str, budget: int) -> int:
    """Store the WebUrl of up to ``budget`` linked clients that lack one; return how many calls were made.

    A client XPM no longer has, or refuses to return, is left without a link (and tried again next run).
    """
    missing = (
        sa.select(fund_links.c.fund_id, fund_links.c.client_uuid)
        .where(
            fund_links.c.business_id == business_id,
            fund_links.c.tenant_id == tenant_id,
            fund_links.c.client_uuid.is_not(None),
            fund_links.c.web_url.is_(None),
        )
        .order_by(fund_links.c.fund_id)
        .limit(budget)
    )
    with state.connect() as conn:
        rows = conn.execute(missing).all()
    for fund_id, client_uuid in rows:
        _store_web_url(state, api, business_id, fund_id, client_uuid)
    return len(rows)


def _store_web_url(state: Engine, api: XpmApi, business_id: str, fund_id: str, client_uuid: str) -> None:
    try:
        web_url = api.get_client(client_uuid).web_url
    except (NotFound, RecordError):
        return
    if not web_url:
        return
    with state.begin() as conn:
        conn.execute(
            sa.update(fund_links)
            .where(fund_links.c.business_id == business_id, fund_links.c.fund_id == fund_id)
            .values(web_url=web_url)
        )


def take_snapshot(
    state: Engine,
    api: XpmApi,
    business_id: str,
    tenant_id: str,
    clock: Callable[[], datetime],
    *,
    reserve: int = DAILY_RESERVE,
) -> SnapshotResult:
    """Replace the business's jobs snapshot, then fill missing WebUrls within the day's budget.

    ``reserve`` daily calls are never spent on WebUrls: they are left for people using XPM.
    """
    pull = pull_jobs(api, linked_clients(state, business_id, tenant_id))
    result = write_snapshot(state, business_id, tenant_id, pull, clock())
    web_urls = fill_web_urls(state, api, business_id, tenant_id, web_url_budget(api, reserve=reserve))
    return SnapshotResult(business_id, result.jobs, result.tasks, web_urls, result.api_calls + web_urls)


def snapshot_business(
    session: XpmSession, state: Engine, store: TokenStore, business_id: str
) -> SnapshotResult:
    """Take one business's snapshot with its stored grant.

    Raises:
        Reauthorise: Xero refused the business's grant.
        Deferred: The tenant's daily quota is spent.
    """
    tokens = StoredTokenSource(store, business_id, session.identity, session.clock)
    api = session.api(tokens)
    return take_snapshot(state, api, business_id, tokens.tenant_id, utcnow, reserve=session.config.reserve)


def snapshot_all(session: XpmSession, state: Engine) -> tuple[list[SnapshotResult], list[str]]:
    """Snapshot every business with a grant; return the results and the businesses needing a person.

    Raises:
        NotAuthorised: No business has a grant.
    """
    from classxpm.state.crypto import load_cipher

    store = TokenStore(state, load_cipher())
    businesses = store.business_ids()
    if not businesses:
        raise NotAuthorised()
    results, problems = [], []
    for business_id in businesses:
        try:
            results.append(snapshot_business(session, state, store, business_id))
        except Reauthorise as exc:
            problems.append(f"business {business_id}: {exc}")
        except Deferred as exc:
            log.warning("business %s skipped: %s", business_id, exc)
    return results, problems
