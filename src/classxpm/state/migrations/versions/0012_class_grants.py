"""Class API grants: one encrypted token pair per business, for the Class API source (issue 20).

Revision ID: 0012
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create class_grants."""
    op.create_table(
        "class_grants",
        sa.Column("business_id", sa.String(64), primary_key=True),
        sa.Column("business_code", sa.String(64), nullable=False),
        sa.Column("business_name", sa.String(255)),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False, server_default=""),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_token", sa.Text),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_refreshed_at", sa.DateTime(timezone=True)),
        sa.Column("invalid_reason", sa.Text),
    )


def downgrade() -> None:
    """Drop class_grants."""
    op.drop_table("class_grants")
