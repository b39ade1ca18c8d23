"""Record a person's choice for a fund that needed review (``classxpm link``): a client, or a new one.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create fund_choices."""
    op.create_table(
        "fund_choices",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("fund_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("choice", sa.String(10), nullable=False),
        sa.Column("client_uuid", sa.String(36)),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop fund_choices."""
    op.drop_table("fund_choices")
