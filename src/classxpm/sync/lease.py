"""A per-tenant lease in the state database, so two runs never write to the same XPM tenant at once.

The lease follows its holder's liveness: it is short (a minute by default) and a heartbeat thread of the
writing process renews it. The thread dies with the process, so a killed run's lease lapses within one
TTL and the next run takes it over; a live holder whose lease was taken (or released by an operator)
learns it before its next write. Acquiring is one INSERT, or one conditional UPDATE when the row exists:
atomic on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.errors import Retriable
from classxpm.settings import positive_setting
from classxpm.sync.tables import tenant_leases
from classxpm.xpm.auth import Clock, utcnow
from classxpm.xpm.errors import ConfigurationError

log = logging.getLogger(__name__)

TTL_VARIABLE = "CLASSXPM_LEASE_TTL_SECONDS"
HEARTBEAT_VARIABLE = "CLASSXPM_LEASE_HEARTBEAT_SECONDS"
HEARTBEATS_PER_TTL = 4


class TenantBusy(Retriable):
    """Another run holds the tenant's lease."""


@dataclass(frozen=True)
class LeaseSettings:
    """How long a lease lasts without a heartbeat, and how often the heartbeat renews it."""

    ttl: timedelta = timedelta(seconds=60)
    heartbeat: timedelta = timedelta(seconds=15)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LeaseSettings:
        """Read ``CLASSXPM_LEASE_TTL_SECONDS`` and ``CLASSXPM_LEASE_HEARTBEAT_SECONDS`` (default: TTL / 4).

        Raises:
            ConfigurationError: A value is not a positive number, or the heartbeat is not below the TTL.
        """
        ttl = positive_setting(environ, TTL_VARIABLE) or cls.ttl.total_seconds()
        heartbeat = positive_setting(environ, HEARTBEAT_VARIABLE) or ttl / HEARTBEATS_PER_TTL
        if heartbeat >= ttl:
            raise ConfigurationError(
                f"{HEARTBEAT_VARIABLE} ({heartbeat:g}) must be shorter than {TTL_VARIABLE} ({ttl:g})"
            )
        return cls(timedelta(seconds=ttl), timedelta(seconds=heartbeat))


@dataclass(frozen=True)
class LeaseState:
    """A tenant's lease as the state database holds it."""

    tenant_id: str
    holder: str
    acquired_at: datetime | None
    expires_at: datetime

    def alive(self, now: datetime) -> bool:
        """True while the holder's heartbeat keeps the lease from expiring."""
        return self.expires_at > now


def lease_state(engine: Engine, tenant_id: str) -> LeaseState | None:
    """The tenant's lease row, lapsed or not; None when nobody holds it."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(tenant_leases).where(tenant_leases.c.tenant_id == tenant_id)).first()
    return None if row is None else LeaseState(row.tenant_id, row.holder, row.acquired_at, row.expires_at)


def force_release(engine: Engine, tenant_id: str, holder: str) -> bool:
    """Delete the tenant's lease if ``holder`` still has it (whoever that is); True when one was deleted."""
    with engine.begin() as conn:
        result = conn.execute(
            sa.delete(tenant_leases).where(
                tenant_leases.c.tenant_id == tenant_id, tenant_leases.c.holder == holder
            )
        )
    return result.rowcount == 1


class TenantLease:
    """The right to write to one XPM tenant, held until released or expired."""

    def __init__(
        self, engine: Engine, tenant_id: str, holder: str, ttl: timedelta, clock: Clock = utcnow
    ) -> None:
        self.engine, self.tenant_id, self.holder, self.ttl, self.clock = engine, tenant_id, holder, ttl, clock
        self.expires_at: datetime | None = None
        """When the lease this holder last took or renewed runs out (None before it took one)."""

    def acquire(self) -> None:
        """Take the lease, or renew it when this holder has it already.

        Raises:
            TenantBusy: Another holder has an unexpired lease on the tenant.
        """
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                row = {"tenant_id": self.tenant_id, "holder": self.holder, "acquired_at": now}
                conn.execute(sa.insert(tenant_leases).values(**row, expires_at=now + self.ttl))
            self.expires_at = now + self.ttl
            return
        except sa.exc.IntegrityError:
            pass
        if not self._take_over(now):
            raise TenantBusy(f"tenant {self.tenant_id} is being synced by {self._describe_holder()}")

    def _take_over(self, now: datetime) -> bool:
        mine = tenant_leases.c.holder == self.holder
        claimable = sa.or_(mine, tenant_leases.c.expires_at < now)
        since = sa.case((mine, tenant_leases.c.acquired_at), else_=now)
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(tenant_leases)
                .where(tenant_leases.c.tenant_id == self.tenant_id, claimable)
                .values(holder=self.holder, acquired_at=since, expires_at=now + self.ttl)
            )
        if result.rowcount == 1:
            self.expires_at = now + self.ttl
        return result.rowcount == 1

    def renew(self) -> None:
        """Extend the lease; raises TenantBusy when it was lost (taken by another run, or released)."""
        if not self._take_over(self.clock()):
            raise TenantBusy(f"lost the lease on tenant {self.tenant_id} to {self._describe_holder()}")

    def release(self) -> None:
        """Give the lease up, if this holder still has it."""
        force_release(self.engine, self.tenant_id, self.holder)

    def hold(self, every: timedelta) -> Heartbeat:
        """Take the lease and keep renewing it every ``every`` on a daemon thread (stop it, or use ``with``).

        Raises:
            TenantBusy: Another holder has an unexpired lease on the tenant.
        """
        self.acquire()
        return Heartbeat(self, every).start()

    def _describe_holder(self) -> str:
        held = lease_state(self.engine, self.tenant_id)
        if held is None:
            return "nobody (the lease was released)"
        return f"{held.holder} (its lease runs to {held.expires_at:%Y-%m-%d %H:%M:%S} UTC unless renewed)"

    def __enter__(self) -> TenantLease:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Heartbeat:
    """Renews a lease every ``every`` on a daemon thread, so the lease lives exactly as long as its process.

    The writer calls :meth:`check` before each write: it raises when the heartbeat found the lease lost,
    and renews at once when the lease ran out since the last beat (a stalled thread, a database outage).
    Stopping the heartbeat keeps the lease until it expires: a run's later batches and its report take it
    over, and ``TenantLease.release`` gives it up.
    """

    def __init__(self, lease: TenantLease, every: timedelta) -> None:
        self.lease, self.every = lease, every
        self.lost: TenantBusy | None = None
        self.beats = 0
        self._stopped = threading.Event()
        self._renewing = threading.Lock()
        name = f"lease-heartbeat-{lease.tenant_id}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Heartbeat:
        """Start the renewing thread."""
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """True while the thread renews the lease."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopped.wait(self.every.total_seconds()):
            try:
                self._renew()
            except TenantBusy:
                log.error("%s: this run stops writing", self.lost)
                return
            except sa.exc.OperationalError as error:
                tenant = self.lease.tenant_id
                log.warning("could not renew the lease on tenant %s (%s); trying again", tenant, error)

    def _renew(self) -> None:
        with self._renewing:
            try:
                self.lease.renew()
            except TenantBusy as lost:
                self.lost = lost
                raise
            self.beats += 1

    def check(self) -> None:
        """Before a write: raise when the lease is lost; renew now when it ran out since the last beat.

        Raises:
            TenantBusy: The lease was taken by another run or released by an operator.
        """
        if self.lost is not None:
            raise self.lost
        expires = self.lease.expires_at
        if expires is None or self.lease.clock() >= expires:
            self._renew()

    def stop(self) -> None:
        """Stop renewing (the lease itself stays until it expires or is released)."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> Heartbeat:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
