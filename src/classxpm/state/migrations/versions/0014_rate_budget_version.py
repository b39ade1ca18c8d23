"""Give each tenant's shared XPM budget a version that only its compare-and-set writes move.

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add xpm_rate_budgets.version."""
    op.add_column("xpm_rate_budgets", sa.Column("version", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    """Drop xpm_rate_budgets.version."""
    with op.batch_alter_table("xpm_rate_budgets") as batch:
        batch.drop_column("version")
