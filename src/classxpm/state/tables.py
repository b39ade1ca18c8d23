"""SQLAlchemy Core metadata of the state database. Alembic migrations create and upgrade it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A point in time, stored as UTC and always read back aware.

    PostgreSQL keeps the offset (``timestamptz``); SQLite keeps text without one and hands back naive
    datetimes, so a naive value read or written through this type is taken as UTC, and an aware one is
    converted to UTC before it is stored (SQLite would otherwise keep its local wall time).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store UTC."""
        return _utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read back aware UTC."""
        return _utc(value)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# One grant per Class business. Token columns hold Fernet ciphertext. refresh_issued_at starts the 60-day
# idle clock; previous_refresh_token stays usable for 30 minutes after rotated_at; invalid_reason is set
# when Xero refused the grant, until someone authorises again.

xpm_grants = sa.Table(
    "xpm_grants",
    metadata,
    sa.Column("business_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("tenant_name", sa.String(255)),
    sa.Column("connection_id", sa.String(64)),
    sa.Column("auth_event_id", sa.String(64)),
    sa.Column("scopes", sa.Text, nullable=False, server_default=""),
    sa.Column("access_token", sa.Text, nullable=False),
    sa.Column("access_expires_at", UtcDateTime(), nullable=False),
    sa.Column("refresh_token", sa.Text, nullable=False),
    sa.Column("refresh_issued_at", UtcDateTime(), nullable=False),
    sa.Column("previous_refresh_token", sa.Text),
    sa.Column("rotated_at", UtcDateTime()),
    sa.Column("authorised_at", UtcDateTime(), nullable=False),
    sa.Column("last_refreshed_at", UtcDateTime()),
    sa.Column("last_used_at", UtcDateTime()),
    sa.Column("invalid_reason", sa.Text),
)


# The XPM call budget of each tenant, shared by every process that calls XPM for it (state.rate_budget).
# Times are seconds since the epoch (wall clock, the same on every worker); no column holds a secret.

xpm_rate_budgets = sa.Table(
    "xpm_rate_budgets",
    metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("minute_budget", sa.Integer, nullable=False),
    sa.Column("taken", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("day_remaining", sa.Integer),
    sa.Column("day_seen_at", sa.Float),
    sa.Column("deferred_until", sa.Float),
    # Moved by every write that changes what a take reads (the minute, the deferral, the leases taken):
    # PostgreSQL's writers compare-and-set on it; writes of the day's figure alone leave it.
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
)

# One row per call in flight: a lease that lapses at expires_at, so a killed process cannot keep its slot.
xpm_rate_leases = sa.Table(
    "xpm_rate_leases",
    metadata,
    sa.Column("lease_id", sa.String(32), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False, index=True),
    sa.Column("holder", sa.String(250), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# One Class API grant per business (Class issues one token per business). business_id is the pipeline's
# id of the business (the XPM grant's key); business_code is Class's. Token columns hold Fernet
# ciphertext; refresh_token is empty when the password flow gave none.

class_grants = sa.Table(
    "class_grants",
    metadata,
    sa.Column("business_id", sa.String(64), primary_key=True),
    sa.Column("business_code", sa.String(64), nullable=False),
    sa.Column("business_name", sa.String(255)),
    sa.Column("flow", sa.String(32), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False, server_default=""),
    sa.Column("access_token", sa.Text, nullable=False),
    sa.Column("access_expires_at", UtcDateTime(), nullable=False),
    sa.Column("refresh_token", sa.Text),
    sa.Column("authorised_at", UtcDateTime(), nullable=False),
    sa.Column("last_refreshed_at", UtcDateTime()),
    sa.Column("invalid_reason", sa.Text),
)
