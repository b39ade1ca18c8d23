"""SQLAlchemy Core metadata of the state database. Alembic migrations create and upgrade it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

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
    sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("refresh_token", sa.Text, nullable=False),
    sa.Column("refresh_issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("previous_refresh_token", sa.Text),
    sa.Column("rotated_at", sa.DateTime(timezone=True)),
    sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_refreshed_at", sa.DateTime(timezone=True)),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("invalid_reason", sa.Text),
)
