"""Record when a tenant's lease was taken, so ``classxpm lease status`` can say since when it is held.

The lease itself became short and heartbeat-renewed (a minute by default); the column is informational
and nullable, so leases held across the upgrade simply show no start.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add tenant_leases.acquired_at."""
    with op.batch_alter_table("tenant_leases") as batch:
        batch.add_column(sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Drop tenant_leases.acquired_at."""
    with op.batch_alter_table("tenant_leases") as batch:
        batch.drop_column("acquired_at")
