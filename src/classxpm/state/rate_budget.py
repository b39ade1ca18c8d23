"""Each tenant's XPM call budget in the state database, shared by every process that calls XPM for it.

Two mapped upsert tasks on two Celery workers spend one budget: the minute's calls, the calls in flight (at
most 5), what XPM said is left today and a deferral when the day is spent. The rules are the in-process
governor's (``classxpm.xpm.governor.Budget``); only where the numbers live differs.

Every change happens in one short transaction that first touches the tenant's ``xpm_rate_budgets`` row:
that write takes the row's lock on PostgreSQL and the database's write lock on SQLite, so concurrent
processes take turns. A call in flight is a row of ``xpm_rate_leases`` that lapses at ``expires_at`` (the
call's timeout plus a margin): a process killed mid-call cannot keep its slot past that.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.state.tables import xpm_rate_budgets, xpm_rate_leases
from classxpm.xpm.errors import Deferred
from classxpm.xpm.governor import MAX_IN_FLIGHT, MINUTE_LIMIT, WINDOW_SECONDS, Budget

LEASE_MARGIN_SECONDS = 10.0
"""A lease outlives its call's timeout by this much, so a slow answer never frees its slot early."""
DEFAULT_HOLD_SECONDS = 30.0
POLL_SECONDS = 0.05
"""How often a call waiting for a slot in flight looks again (slots free as calls answer)."""
DAY_MEMORY_WINDOWS = 10
"""What XPM said is left today is believed for this many minutes: after a pause, the next call asks again."""


@dataclass(frozen=True)
class BudgetView:
    """One tenant's shared budget as an operator reads it (``classxpm`` pages, docs, tests)."""

    tenant_id: str
    minute_budget: int
    window_start: float
    day_remaining: int | None
    deferred_until: float | None
    in_flight: int


class SharedGovernor:
    """The call budget of one tenant, kept in the state database for every process.

    Args:
        engine: The state database.
        tenant_id: The XPM tenant.
        limits: ``minute_limit``, ``max_in_flight`` and ``window_seconds`` as the XPM config sets them.
        clock: Wall-clock seconds (every worker's clock must agree, as NTP keeps them).
        sleep: Waits between tries.
        lease_margin: Seconds a lease outlives its call's timeout.
    """

    def __init__(
        self,
        engine: Engine,
        tenant_id: str,
        limits: Mapping[str, float],
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_margin: float = LEASE_MARGIN_SECONDS,
    ) -> None:
        self._engine = engine
        self._tenant = tenant_id
        self._minute_limit = int(limits.get("minute_limit", MINUTE_LIMIT))
        self._max_in_flight = int(limits.get("max_in_flight", MAX_IN_FLIGHT))
        self._window_seconds = float(limits.get("window_seconds", WINDOW_SECONDS))
        self._clock = clock
        self._sleep = sleep
        self._lease_margin = lease_margin
        self._holder = f"{socket.gethostname()}:{os.getpid()}"[:250]

    @contextmanager
    def slot(self, hold: float | None = None) -> Iterator[None]:
        """Hold one of the tenant's in-flight slots and one unit of its minute's budget for a call.

        Args:
            hold: How long the call may take; its lease lapses that long (plus a margin) after it starts.

        Raises:
            Deferred: The daily quota is known to be spent.
        """
        lease = self._acquire(self._lease_margin + (DEFAULT_HOLD_SECONDS if hold is None else hold))
        try:
            yield
        finally:
            with self._engine.begin() as conn:
                conn.execute(sa.delete(xpm_rate_leases).where(xpm_rate_leases.c.lease_id == lease))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the shared budget from a response's X-MinLimit-Remaining and X-DayLimit-Remaining."""
        with self._engine.begin() as conn:
            now = self._clock()
            budget = self._locked(conn, now)
            budget.observe(headers, _in_flight(conn, self._tenant, now), now)
            self._save(conn, budget, now if _tells_the_day(headers) else None)

    def remaining_daily(self) -> int | None:
        """Calls left today as XPM last told any process (lately); None when not known."""
        with self._engine.connect() as conn:
            row = conn.execute(_row_of(self._tenant)).first()
        if row is None or row.day_seen_at is None:
            return None
        fresh = self._clock() - row.day_seen_at <= DAY_MEMORY_WINDOWS * self._window_seconds
        return row.day_remaining if fresh else None

    def view(self) -> BudgetView:
        """The budget as it stands, with the live calls in flight."""
        now = self._clock()
        with self._engine.connect() as conn:
            row = conn.execute(_row_of(self._tenant)).first()
            in_flight = _in_flight(conn, self._tenant, now)
        if row is None:
            return BudgetView(self._tenant, self._minute_limit, now, None, None, in_flight)
        return BudgetView(
            self._tenant, row.minute_budget, row.window_start, row.day_remaining, row.deferred_until, in_flight
        )

    def _acquire(self, lease_seconds: float) -> str:
        while True:
            taken = self._try_take(lease_seconds)
            if isinstance(taken, str):
                return taken
            self._sleep(taken)

    def _try_take(self, lease_seconds: float) -> str | float:
        """A new lease's id, or how long to wait before trying again."""
        with self._engine.begin() as conn:
            now = self._clock()
            budget = self._locked(conn, now)
            deferred = budget.deferral(now)
            if deferred is not None:
                raise Deferred(deferred)
            conn.execute(
                sa.delete(xpm_rate_leases).where(
                    xpm_rate_leases.c.tenant_id == self._tenant, xpm_rate_leases.c.expires_at <= now
                )
            )
            if (next_free := self._next_free(conn, now)) is not None:
                return next_free
            wait = budget.take_or_wait(now)
            self._save(conn, budget)
            if wait > 0:
                return wait
            lease = uuid.uuid4().hex
            conn.execute(
                sa.insert(xpm_rate_leases).values(
                    lease_id=lease, tenant_id=self._tenant, holder=self._holder, expires_at=now + lease_seconds
                )
            )
            return lease

    def _next_free(self, conn: Connection, now: float) -> float | None:
        """None when a slot is free; else how long to wait (a poll, or until the first lease lapses)."""
        live = conn.execute(
            sa.select(sa.func.count(), sa.func.min(xpm_rate_leases.c.expires_at)).where(
                xpm_rate_leases.c.tenant_id == self._tenant
            )
        ).one()
        if live[0] < self._max_in_flight:
            return None
        return max(0.0, min(POLL_SECONDS, live[1] - now))

    def _locked(self, conn: Connection, now: float) -> Budget:
        """The tenant's budget, its row locked (created on first use) until the transaction ends."""
        touched = conn.execute(
            sa.update(xpm_rate_budgets)
            .where(xpm_rate_budgets.c.tenant_id == self._tenant)
            .values(tenant_id=xpm_rate_budgets.c.tenant_id)
        ).rowcount
        fresh = Budget.fresh(self._minute_limit, self._window_seconds, now)
        if not touched:
            conn.execute(sa.insert(xpm_rate_budgets).values(tenant_id=self._tenant, **_columns(fresh)))
            return fresh
        row = conn.execute(_row_of(self._tenant)).one()
        fresh.window_start, fresh.minute_budget = row.window_start, row.minute_budget
        fresh.day_remaining, fresh.deferred_until = row.day_remaining, row.deferred_until
        return fresh

    def _save(self, conn: Connection, budget: Budget, day_seen_at: float | None = None) -> None:
        values = _columns(budget) | ({"day_seen_at": day_seen_at} if day_seen_at is not None else {})
        conn.execute(
            sa.update(xpm_rate_budgets).where(xpm_rate_budgets.c.tenant_id == self._tenant).values(**values)
        )


class SharedGovernors:
    """Hands out each tenant's shared governor on the state database (the composition root builds it)."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_margin: float = LEASE_MARGIN_SECONDS,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._sleep = sleep
        self._lease_margin = lease_margin

    def for_tenant(
        self,
        tenant_id: str,
        minute_limit: int = MINUTE_LIMIT,
        max_in_flight: int = MAX_IN_FLIGHT,
        window_seconds: float = WINDOW_SECONDS,
    ) -> SharedGovernor:
        """Return the governor of ``tenant_id`` with the given limits (its state is the database's)."""
        limits = {"minute_limit": minute_limit, "max_in_flight": max_in_flight, "window_seconds": window_seconds}
        return SharedGovernor(self._engine, tenant_id, limits, self._clock, self._sleep, self._lease_margin)


def _row_of(tenant_id: str) -> sa.Select:
    return sa.select(xpm_rate_budgets).where(xpm_rate_budgets.c.tenant_id == tenant_id)


def _in_flight(conn: Connection, tenant_id: str, now: float) -> int:
    count = sa.select(sa.func.count()).where(
        xpm_rate_leases.c.tenant_id == tenant_id, xpm_rate_leases.c.expires_at > now
    )
    return int(conn.execute(count).scalar_one())


def _columns(budget: Budget) -> dict[str, float | int | None]:
    return {
        "window_start": budget.window_start,
        "minute_budget": budget.minute_budget,
        "day_remaining": budget.day_remaining,
        "deferred_until": budget.deferred_until,
    }


def _tells_the_day(headers: Mapping[str, str]) -> bool:
    return "X-DayLimit-Remaining" in headers or headers.get("X-Rate-Limit-Problem", "").lower() == "day"
