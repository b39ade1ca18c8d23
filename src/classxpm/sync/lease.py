"""A per-tenant lease in the state database, so two runs never write to the same XPM tenant at once.

The lease expires on its own, so a crashed worker cannot hold a tenant for ever; a live holder renews it
as it goes. Acquiring is one INSERT, or one conditional UPDATE when the row exists: atomic on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from classxpm.errors import Retriable
from classxpm.sync.tables import tenant_leases
from classxpm.xpm.auth import Clock, utcnow


class TenantBusy(Retriable):
    """Another run holds the tenant's lease."""


class TenantLease:
    """The right to write to one XPM tenant, held until released or expired."""

    def __init__(
        self, engine: Engine, tenant_id: str, holder: str, ttl: timedelta, clock: Clock = utcnow
    ) -> None:
        self.engine, self.tenant_id, self.holder, self.ttl, self.clock = engine, tenant_id, holder, ttl, clock

    def acquire(self) -> None:
        """Take the lease, or renew it when this holder has it already.

        Raises:
            TenantBusy: Another holder has an unexpired lease on the tenant.
        """
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(tenant_leases).values(
                        tenant_id=self.tenant_id, holder=self.holder, expires_at=now + self.ttl
                    )
                )
            return
        except sa.exc.IntegrityError:
            pass
        if not self._take_over(now):
            raise TenantBusy(f"tenant {self.tenant_id} is being synced by {self._current_holder()}")

    def _take_over(self, now: datetime) -> bool:
        claimable = sa.or_(tenant_leases.c.holder == self.holder, tenant_leases.c.expires_at < now)
        with self.engine.begin() as conn:
            result = conn.execute(
                sa.update(tenant_leases)
                .where(tenant_leases.c.tenant_id == self.tenant_id, claimable)
                .values(holder=self.holder, expires_at=now + self.ttl)
            )
        return result.rowcount == 1

    def renew(self) -> None:
        """Extend the lease; raises TenantBusy when it was lost (expired and taken by another run)."""
        if not self._take_over(self.clock()):
            raise TenantBusy(f"lost the lease on tenant {self.tenant_id} to {self._current_holder()}")

    def release(self) -> None:
        """Give the lease up, if this holder still has it."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(tenant_leases).where(
                    tenant_leases.c.tenant_id == self.tenant_id, tenant_leases.c.holder == self.holder
                )
            )

    def _current_holder(self) -> str:
        with self.engine.connect() as conn:
            holder = conn.execute(
                sa.select(tenant_leases.c.holder).where(tenant_leases.c.tenant_id == self.tenant_id)
            ).scalar()
        return holder or "nobody"

    def __enter__(self) -> TenantLease:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
