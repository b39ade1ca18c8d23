"""Create xpm_grants: one encrypted OAuth grant per Class business.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the grants table."""
    op.create_table(
        "xpm_grants",
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


def downgrade() -> None:
    """Drop the grants table."""
    op.drop_table("xpm_grants")
