"""Store what a run's plan writes (the mapped payload, encrypted in chunks), so upsert never re-maps.

The table is run-scoped and emptied when its run ends; a run caught mid-way by the upgrade re-plans when
its plan task is retried.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create planned_payloads."""
    op.create_table(
        "planned_payloads",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("chunk_no", sa.Integer(), primary_key=True),
        sa.Column("first_fund_id", sa.String(36), nullable=False),
        sa.Column("last_fund_id", sa.String(36), nullable=False),
        sa.Column("funds", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    """Drop planned_payloads."""
    op.drop_table("planned_payloads")
