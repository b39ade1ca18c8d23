"""Each tenant's XPM call budget in the state database, shared by every process that calls XPM for it.

Two mapped upsert tasks on two Celery workers spend one budget: the minute's calls, the calls in flight (at
most 5), what XPM said is left today and a deferral when the day is spent. The rules are the in-process
governor's (``classxpm.xpm.governor.Budget``); only where the numbers live differs.

Every change happens in one short transaction that first touches the tenant's ``xpm_rate_budgets`` row:
that write takes the row's lock on PostgreSQL and the database's write lock on SQLite, so concurrent
processes take turns. A call costs two transactions: one takes its slot, one gives it back with what XPM's
answer said. A call in flight is a row of ``xpm_rate_leases`` that lapses at ``expires_at`` (the
call's timeout plus a margin): a process killed mid-call cannot keep its slot past that.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from classxpm.state.tables import xpm_rate_budgets, xpm_rate_leases
from classxpm.xpm.errors import Deferred
from classxpm.xpm.governor import MAX_IN_FLIGHT, MINUTE_LIMIT, WINDOW_SECONDS, Budget

T = TypeVar("T")

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


@dataclass(frozen=True)
class _Lease:
    id: str
    seq: int
    """The call's place in the order the tenant's calls were taken (``xpm_rate_budgets.taken``)."""


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
        *,
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
        self._local = threading.local()
        self._holder = f"{socket.gethostname()}:{os.getpid()}"[:250]

    @contextmanager
    def slot(self, hold: float | None = None) -> Iterator[None]:
        """Hold one of the tenant's in-flight slots and one unit of its minute's budget for a call.

        The answer's headers (``observe`` inside the slot) are applied when the slot is given back, in the
        same transaction: two transactions a call.

        Args:
            hold: How long the call may take; its lease lapses that long (plus a margin) after it starts.

        Raises:
            Deferred: The daily quota is known to be spent.
        """
        lease = self._acquire(self._lease_margin + (DEFAULT_HOLD_SECONDS if hold is None else hold))
        self._local.headers = None
        self._local.lease = lease
        try:
            yield
        finally:
            headers, self._local.headers, self._local.lease = self._local.headers, None, None
            self._transaction(lambda conn, now: self._release(conn, now, lease, headers))

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the shared budget from a response's X-MinLimit-Remaining and X-DayLimit-Remaining."""
        if getattr(self._local, "lease", None) is not None:
            self._local.headers = headers
            return
        self._transaction(lambda conn, now: self._correct(conn, now, headers))

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
            in_flight = self._live(conn, now)[0]
        if row is None:
            return BudgetView(self._tenant, self._minute_limit, now, None, None, in_flight)
        return BudgetView(
            self._tenant,
            row.minute_budget,
            row.window_start,
            row.day_remaining,
            row.deferred_until,
            in_flight,
        )

    def _acquire(self, lease_seconds: float) -> _Lease:
        while True:
            full = self._wait_for_a_free_slot()
            if full is not None:
                self._sleep(full)
                continue
            taken = self._transaction(lambda conn, now: self._take(conn, now, lease_seconds))
            if isinstance(taken, _Lease):
                return taken
            self._sleep(taken)

    def _wait_for_a_free_slot(self) -> float | None:
        """How long to wait while every slot is held, by a read that locks nothing (None: one looks free).

        Calls waiting for a slot look often; reading first keeps them from queueing on the tenant's row lock
        ahead of the calls that give slots back.
        """
        with self._engine.connect() as conn:
            now = self._clock()
            in_flight, first_lapse = self._live(conn, now)
        if in_flight < self._max_in_flight:
            return None
        return max(0.0, min(POLL_SECONDS, first_lapse - now))

    def _transaction(self, work: Callable[[Connection, float], T]) -> T:
        """Run ``work`` in one transaction; again if another process created the tenant's row meanwhile."""
        try:
            with self._engine.begin() as conn:
                return work(conn, self._clock())
        except sa.exc.IntegrityError:
            pass  # the row exists now, so the second try locks it instead of creating it
        with self._engine.begin() as conn:
            return work(conn, self._clock())

    def _take(self, conn: Connection, now: float, lease_seconds: float) -> _Lease | float:
        """A new lease, or how long to wait before trying again."""
        budget, taken = self._locked(conn, now)
        deferred = budget.deferral(now)
        if deferred is not None:
            raise Deferred(deferred)
        in_flight, first_lapse = self._live(conn, now)
        if in_flight >= self._max_in_flight:
            return max(0.0, min(POLL_SECONDS, first_lapse - now))
        wait = budget.take_or_wait(now)
        if wait > 0:
            self._save(conn, budget)
            return wait
        lease = _Lease(uuid.uuid4().hex, taken + 1)
        self._save(conn, budget, taken=lease.seq)
        conn.execute(
            sa.insert(xpm_rate_leases).values(
                lease_id=lease.id,
                tenant_id=self._tenant,
                holder=self._holder,
                seq=lease.seq,
                expires_at=now + lease_seconds,
            )
        )
        return lease

    def _release(
        self, conn: Connection, now: float, lease: _Lease, headers: Mapping[str, str] | None
    ) -> None:
        if headers is not None:
            self._correct(conn, now, headers, lease.seq)
        leases = xpm_rate_leases.c
        conn.execute(
            sa.delete(xpm_rate_leases).where(
                (leases.lease_id == lease.id)
                | ((leases.tenant_id == self._tenant) & (leases.expires_at <= now))
            )
        )

    def _correct(
        self, conn: Connection, now: float, headers: Mapping[str, str], seq: int | None = None
    ) -> None:
        """Apply an answer's headers; ``seq`` is its call's place in the order calls were taken."""
        budget, taken = self._locked(conn, now)
        if seq is None:
            unseen = self._live(conn, now)[0]
        else:
            # Calls taken after this one may have reached XPM after it (answers come back in any order across
            # processes), and so may calls taken before it that are still in flight.
            unseen = taken - seq + self._live(conn, now, before=seq)[0]
        budget.observe(headers, unseen, now)
        self._save(conn, budget, day_seen_at=now if _tells_the_day(headers) else None)

    def _live(self, conn: Connection, now: float, before: int | None = None) -> tuple[int, float]:
        """The tenant's calls in flight (leases not lapsed; taken before ``before``) and the first lapse."""
        leases = xpm_rate_leases.c
        query = sa.select(sa.func.count(), sa.func.min(leases.expires_at)).where(
            leases.tenant_id == self._tenant, leases.expires_at > now
        )
        if before is not None:
            query = query.where(leases.seq < before)
        count, first = conn.execute(query).one()
        return int(count), now if first is None else float(first)

    def _locked(self, conn: Connection, now: float) -> tuple[Budget, int]:
        """The tenant's budget and calls taken so far, its row locked (created on first use) until the end.

        The first statement writes the row (to itself): that takes the row's lock on PostgreSQL and the
        write lock on SQLite before anything is read, so no two processes work from the same numbers.
        """
        budgets = xpm_rate_budgets.c
        row = conn.execute(
            sa.update(xpm_rate_budgets)
            .where(budgets.tenant_id == self._tenant)
            .values(tenant_id=budgets.tenant_id)
            .returning(
                budgets.window_start,
                budgets.minute_budget,
                budgets.day_remaining,
                budgets.deferred_until,
                budgets.taken,
            )
        ).first()
        budget = Budget.fresh(self._minute_limit, self._window_seconds, now)
        if row is None:
            conn.execute(
                sa.insert(xpm_rate_budgets).values(tenant_id=self._tenant, taken=0, **_columns(budget))
            )
            return budget, 0
        budget.window_start, budget.minute_budget = row.window_start, row.minute_budget
        budget.day_remaining, budget.deferred_until = row.day_remaining, row.deferred_until
        return budget, row.taken

    def _save(
        self, conn: Connection, budget: Budget, *, taken: int | None = None, day_seen_at: float | None = None
    ) -> None:
        values = _columns(budget)
        if taken is not None:
            values["taken"] = taken
        if day_seen_at is not None:
            values["day_seen_at"] = day_seen_at
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
        limits = {
            "minute_limit": minute_limit,
            "max_in_flight": max_in_flight,
            "window_seconds": window_seconds,
        }
        return SharedGovernor(
            self._engine,
            tenant_id,
            limits,
            clock=self._clock,
            sleep=self._sleep,
            lease_margin=self._lease_margin,
        )


def _row_of(tenant_id: str) -> sa.Select:
    return sa.select(xpm_rate_budgets).where(xpm_rate_budgets.c.tenant_id == tenant_id)


def _columns(budget: Budget) -> dict[str, float | int | None]:
    return {
        "window_start": budget.window_start,
        "minute_budget": budget.minute_budget,
        "day_remaining": budget.day_remaining,
        "deferred_until": budget.deferred_until,
    }


def _tells_the_day(headers: Mapping[str, str]) -> bool:
    return "X-DayLimit-Remaining" in headers or headers.get("X-Rate-Limit-Problem", "").lower() == "day"
