"""Keep each tenant's XPM call budget and calls in flight where every worker sees them.

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create xpm_rate_budgets and xpm_rate_leases."""
    op.create_table(
        "xpm_rate_budgets",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.Float, nullable=False),
        sa.Column("minute_budget", sa.Integer, nullable=False),
        sa.Column("taken", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("day_remaining", sa.Integer),
        sa.Column("day_seen_at", sa.Float),
        sa.Column("deferred_until", sa.Float),
    )
    op.create_table(
        "xpm_rate_leases",
        sa.Column("lease_id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(250), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_xpm_rate_leases_tenant_id", "xpm_rate_leases", ["tenant_id"])


def downgrade() -> None:
    """Drop xpm_rate_leases and xpm_rate_budgets."""
    op.drop_index("ix_xpm_rate_leases_tenant_id", "xpm_rate_leases")
    op.drop_table("xpm_rate_leases")
    op.drop_table("xpm_rate_budgets")
