"""Each tenant's XPM call budget in the state database, shared by every process that calls XPM for it.

Two mapped upsert tasks on two Celery workers spend one budget: the minute's calls, the calls in flight (at
most 5), what XPM said is left today and a deferral when the day is spent. The rules are the in-process
governor's (``classxpm.xpm.governor.Budget``); only where the numbers live differs.

A call in flight is a row of ``xpm_rate_leases`` that lapses at ``expires_at`` (the call's timeout plus a
margin): a process killed mid-call cannot keep its slot past that.

On PostgreSQL no lock is held between round trips. A process reads the tenant's row with its ``version``
and the live leases in one statement, works out the change in Python, and writes it in one statement that
changes the row only if its version is still the one read (compare-and-set); a process that lost the race
reads again. Taking a slot is a read and one ``UPDATE ... RETURNING`` that inserts the lease; giving it back
with XPM's answer is a read and one statement that saves the budget and deletes the lease, or, when the
answer changes only what is left today (most answers), one that notes that without a version check, so it
never makes a process taking a slot read again. Those commits do not wait for the disk
(``synchronous_commit`` off for them alone): a database crash may forget the last moments of the budget,
which leases and XPM's next headers put right.

On SQLite, which serves one machine, every change is one short transaction whose first statement writes the
tenant's row and so takes the database's write lock: two transactions a call.
"""

from __future__ import annotations

import functools
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
from sqlalchemy.dialects import postgresql
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
DAY_REREAD_SECONDS = 1.0
"""``remaining_daily`` answers from its last read of the row for this long (wall seconds)."""


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
class _Seen:
    """The tenant's row as one statement read it, with its version."""

    budget: Budget
    taken: int
    version: int
    in_flight: int
    first_lapse: float


# Each statement below runs alone in autocommit, so its ``async_commit`` (``set_config`` local to the
# transaction) lets its commit return without waiting for the disk.

_TAKE = sa.text(
    """
    WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS was),
    took AS (
        UPDATE xpm_rate_budgets
        SET window_start = :window_start, minute_budget = :minute_budget, taken = taken + 1,
            version = version + 1
        WHERE tenant_id = :tenant AND version = :version
        RETURNING taken
    )
    INSERT INTO xpm_rate_leases (lease_id, tenant_id, holder, seq, expires_at)
    SELECT :lease_id, :tenant, :holder, took.taken, :expires_at FROM took, async_commit
    RETURNING seq
    """
)
"""Spend one unit of the minute and insert the call's lease, if the row is still as read (else no row)."""

_CORRECT = sa.text(
    """
    WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS was),
    saved AS (
        UPDATE xpm_rate_budgets
        SET window_start = :window_start, minute_budget = :minute_budget,
            day_remaining = :day_remaining, deferred_until = :deferred_until,
            day_seen_at = COALESCE(CAST(:day_seen_at AS DOUBLE PRECISION), day_seen_at),
            version = version + 1
        WHERE tenant_id = :tenant AND version = :version
        RETURNING tenant_id
    ),
    gone AS (
        DELETE FROM xpm_rate_leases
        WHERE (lease_id = :lease_id OR (tenant_id = :tenant AND expires_at <= :now))
          AND EXISTS (SELECT FROM saved)
    )
    SELECT count(*) FROM saved, async_commit
    """
)
"""Save an answer's corrections and delete its lease and lapsed ones, if the row is still as read (else 0)."""

_NOTE_THE_DAY = sa.text(
    """
    WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS was),
    noted AS (
        UPDATE xpm_rate_budgets
        SET day_remaining = :day_remaining,
            day_seen_at = COALESCE(CAST(:day_seen_at AS DOUBLE PRECISION), day_seen_at)
        WHERE tenant_id = :tenant
    ),
    gone AS (
        DELETE FROM xpm_rate_leases
        WHERE lease_id = :lease_id OR (tenant_id = :tenant AND expires_at <= :now)
    )
    SELECT was FROM async_commit
    """
)
"""Note what an answer said is left today and delete its lease, when it changes nothing a take reads.

No version check and no new version: a take that read the row before this still holds, and its write
leaves the day's figure alone.
"""

_GIVE_BACK = sa.text(
    """
    WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS was),
    gone AS (
        DELETE FROM xpm_rate_leases
        WHERE lease_id = :lease_id OR (tenant_id = :tenant AND expires_at <= :now)
    )
    SELECT was FROM async_commit
    """
)
"""Delete a lease (an answer without headers to apply) and the tenant's lapsed ones."""


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
        self._by_version = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._day_read: tuple[float, tuple[int | None, float | None] | None] = (0.0, None)

    @contextmanager
    def slot(self, hold: float | None = None) -> Iterator[None]:
        """Hold one of the tenant's in-flight slots and one unit of its minute's budget for a call.

        The answer's headers (``observe`` inside the slot) are applied as the slot is given back, in the
        same write.

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
            self._give_back(lease, headers)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the shared budget from a response's X-MinLimit-Remaining and X-DayLimit-Remaining."""
        if getattr(self._local, "lease", None) is not None:
            self._local.headers = headers
        elif self._by_version:
            self._correct_by_version(headers, None)
        else:
            self._transaction(lambda conn, now: self._correct(conn, now, headers))

    def remaining_daily(self) -> int | None:
        """Calls left today as XPM last told any process (lately); None when not known.

        Answered from this process's last knowledge when that is under ``DAY_REREAD_SECONDS`` old: its
        own last answer from XPM (as it wrote it to the row), or its last read of the row. A write loop asks
        before every fund, right after that fund's call answered; other processes calling for the tenant
        in that second are what it may not yet count.
        """
        read_at, row = self._day_read
        if row is None or time.monotonic() - read_at >= DAY_REREAD_SECONDS:
            with self._engine.connect() as conn:
                found = conn.execute(
                    sa.select(xpm_rate_budgets.c.day_remaining, xpm_rate_budgets.c.day_seen_at).where(
                        xpm_rate_budgets.c.tenant_id == self._tenant
                    )
                ).first()
            row = (None, None) if found is None else (found.day_remaining, found.day_seen_at)
            self._day_read = (time.monotonic(), row)
        day_remaining, day_seen_at = row
        if day_seen_at is None:
            return None
        fresh = self._clock() - day_seen_at <= DAY_MEMORY_WINDOWS * self._window_seconds
        return day_remaining if fresh else None

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
        take = self._take_by_version if self._by_version else self._take_in_a_transaction
        while True:
            taken = take(lease_seconds)
            if isinstance(taken, _Lease):
                return taken
            if taken > 0:
                self._sleep(taken)

    def _give_back(self, lease: _Lease, headers: Mapping[str, str] | None) -> None:
        if not self._by_version:
            self._transaction(lambda conn, now: self._release(conn, now, lease, headers))
        elif headers is None:
            with self._autocommit.connect() as conn:
                conn.execute(_GIVE_BACK, {"tenant": self._tenant, "lease_id": lease.id, "now": self._clock()})
        else:
            self._correct_by_version(headers, lease)

    # PostgreSQL: read the row and its version, change it only if the version still holds.

    def _take_by_version(self, lease_seconds: float) -> _Lease | float:
        """A new lease, how long to wait before trying again, or 0 when another process changed the row."""
        now = self._clock()
        seen = self._read(now)
        if seen is None:
            return 0.0
        deferred = seen.budget.deferral(now)
        if deferred is not None:
            raise Deferred(deferred)
        if seen.in_flight >= self._max_in_flight:
            return max(0.0, min(POLL_SECONDS, seen.first_lapse - now))
        wait = seen.budget.take_or_wait(now)
        if wait > 0:
            return wait
        lease_id = uuid.uuid4().hex
        with self._autocommit.connect() as conn:
            seq = conn.execute(
                _TAKE,
                {
                    "tenant": self._tenant,
                    "version": seen.version,
                    "window_start": seen.budget.window_start,
                    "minute_budget": seen.budget.minute_budget,
                    "lease_id": lease_id,
                    "holder": self._holder,
                    "expires_at": now + lease_seconds,
                },
            ).scalar()
        return 0.0 if seq is None else _Lease(lease_id, seq)

    def _correct_by_version(self, headers: Mapping[str, str], lease: _Lease | None) -> None:
        """Apply an answer's headers and give back its call's lease (if any), in one write."""
        while True:
            now = self._clock()
            seen = self._read(now, before=None if lease is None else lease.seq)
            if seen is None:
                continue
            # As in _correct: calls taken after this one, and those before it still in flight, are unseen.
            unseen = seen.in_flight if lease is None else seen.taken - lease.seq + seen.in_flight
            before = _what_a_take_reads(seen.budget)
            seen.budget.observe(headers, unseen, now)
            changed = _what_a_take_reads(seen.budget) != before
            with self._autocommit.connect() as conn:
                saved = conn.execute(
                    _CORRECT if changed else _NOTE_THE_DAY,
                    {
                        "tenant": self._tenant,
                        "version": seen.version,
                        **_columns(seen.budget),
                        "day_seen_at": now if _tells_the_day(headers) else None,
                        "lease_id": None if lease is None else lease.id,
                        "now": now,
                    },
                ).scalar()
            if saved or not changed:
                self._note_the_day(seen.budget, headers, now)
                return

    def _read(self, now: float, before: int | None = None) -> _Seen | None:
        """The tenant's row, its version and its live leases (taken before ``before``), in one statement.

        Creates the row (and returns None, to read again) on the tenant's first call.
        """
        params = {"tenant": self._tenant, "now": now, "before": before}
        with self._autocommit.connect() as conn:
            row = conn.execute(_read_statement(before is not None), params).first()
            if row is None:
                fresh = Budget.fresh(self._minute_limit, self._window_seconds, now)
                conn.execute(
                    postgresql.insert(xpm_rate_budgets)
                    .values(tenant_id=self._tenant, taken=0, **_columns(fresh))
                    .on_conflict_do_nothing(index_elements=["tenant_id"])
                )
                return None
        return _Seen(
            self._budget_of(row, now),
            row.taken,
            row.version,
            row.in_flight,
            now if row.first_lapse is None else float(row.first_lapse),
        )

    # SQLite: one transaction a change, its first statement taking the database's write lock.

    def _take_in_a_transaction(self, lease_seconds: float) -> _Lease | float:
        full = self._wait_for_a_free_slot()
        if full is not None:
            return full
        return self._transaction(lambda conn, now: self._take(conn, now, lease_seconds))

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
            self._correct(conn, now, headers, lease)
        leases = xpm_rate_leases.c
        conn.execute(
            sa.delete(xpm_rate_leases).where(
                (leases.lease_id == lease.id)
                | ((leases.tenant_id == self._tenant) & (leases.expires_at <= now))
            )
        )

    def _correct(
        self, conn: Connection, now: float, headers: Mapping[str, str], lease: _Lease | None = None
    ) -> None:
        """Apply an answer's headers; ``lease`` is its call's (None for an answer outside a slot)."""
        budget, taken = self._locked(conn, now)
        if lease is None:
            unseen = self._live(conn, now)[0]
        else:
            # Calls taken after this one may have reached XPM after it (answers come back in any order across
            # processes), and so may calls taken before it that are still in flight.
            unseen = taken - lease.seq + self._live(conn, now, before=lease.seq)[0]
        budget.observe(headers, unseen, now)
        self._save(conn, budget, day_seen_at=now if _tells_the_day(headers) else None)
        self._note_the_day(budget, headers, now)

    def _note_the_day(self, budget: Budget, headers: Mapping[str, str], now: float) -> None:
        """Remember what this answer said is left today, as written to the row, for ``remaining_daily``."""
        if _tells_the_day(headers):
            self._day_read = (time.monotonic(), (budget.day_remaining, now))

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

        The first statement writes the row (to itself): that takes SQLite's write lock before anything is
        read, so no two processes work from the same numbers.
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
        if row is None:
            budget = Budget.fresh(self._minute_limit, self._window_seconds, now)
            conn.execute(
                sa.insert(xpm_rate_budgets).values(tenant_id=self._tenant, taken=0, **_columns(budget))
            )
            return budget, 0
        return self._budget_of(row, now), row.taken

    def _budget_of(self, row: sa.Row, now: float) -> Budget:
        budget = Budget.fresh(self._minute_limit, self._window_seconds, now)
        budget.window_start, budget.minute_budget = row.window_start, row.minute_budget
        budget.day_remaining, budget.deferred_until = row.day_remaining, row.deferred_until
        return budget

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


@functools.cache
def _read_statement(before: bool) -> sa.Select:
    """The tenant's row with its live leases (those taken before ``:before`` when ``before``), built once."""
    budgets, leases = xpm_rate_budgets.c, xpm_rate_leases.c
    live = (leases.tenant_id == sa.bindparam("tenant")) & (leases.expires_at > sa.bindparam("now"))
    if before:
        live &= leases.seq < sa.bindparam("before")
    return sa.select(
        budgets.window_start,
        budgets.minute_budget,
        budgets.day_remaining,
        budgets.deferred_until,
        budgets.taken,
        budgets.version,
        sa.select(sa.func.count()).where(live).scalar_subquery().label("in_flight"),
        sa.select(sa.func.min(leases.expires_at)).where(live).scalar_subquery().label("first_lapse"),
    ).where(budgets.tenant_id == sa.bindparam("tenant"))


def _row_of(tenant_id: str) -> sa.Select:
    return sa.select(xpm_rate_budgets).where(xpm_rate_budgets.c.tenant_id == tenant_id)


def _columns(budget: Budget) -> dict[str, float | int | None]:
    return {
        "window_start": budget.window_start,
        "minute_budget": budget.minute_budget,
        "day_remaining": budget.day_remaining,
        "deferred_until": budget.deferred_until,
    }


def _what_a_take_reads(budget: Budget) -> tuple[float, int, float | None]:
    return budget.window_start, budget.minute_budget, budget.deferred_until


def _tells_the_day(headers: Mapping[str, str]) -> bool:
    return "X-DayLimit-Remaining" in headers or headers.get("X-Rate-Limit-Problem", "").lower() == "day"
