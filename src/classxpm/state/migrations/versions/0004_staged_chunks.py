"""Stage each extract chunk as one encrypted blob instead of a JSON row per fund and per member.

Staging is run-scoped and dropped when its run ends, so nothing worth keeping is lost: a run caught
mid-way by the upgrade re-stages when its extract is retried.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create staged_chunks; drop the per-row staging tables."""
    op.create_table(
        "staged_chunks",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("chunk_no", sa.Integer(), primary_key=True),
        sa.Column("first_fund_id", sa.String(36), nullable=False),
        sa.Column("last_fund_id", sa.String(36), nullable=False),
        sa.Column("funds", sa.Integer(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
    )
    op.drop_index("ix_staged_members_run_fund", table_name="staged_members")
    op.drop_table("staged_members")
    op.drop_table("staged_funds")


def downgrade() -> None:
    """Recreate the per-row staging tables (empty) and drop staged_chunks."""
    op.create_table(
        "staged_funds",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("fund_id", sa.String(36), primary_key=True),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("tfn_encrypted", sa.Text()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "staged_members",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("fund_id", sa.String(36), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_staged_members_run_fund", "staged_members", ["run_id", "fund_id"])
    op.drop_table("staged_chunks")
