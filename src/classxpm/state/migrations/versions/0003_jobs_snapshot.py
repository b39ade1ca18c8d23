"""Create the jobs snapshot (snapshots, jobs, tasks) and the pages' indexes on fund_links and sync_runs.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the snapshot tables and the index."""
    op.create_table(
        "job_snapshots",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("taken_at", UTC_DATETIME, nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
    )
    op.create_table(
        "snapshot_jobs",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("job_number", sa.String(32), primary_key=True),
        sa.Column("job_uuid", sa.String(36)),
        sa.Column("client_uuid", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("state", sa.String(64)),
        sa.Column("start_date", sa.Date()),
        sa.Column("due_date", sa.Date()),
        sa.Column("manager", sa.String(255)),
    )
    op.create_index("ix_snapshot_jobs_client", "snapshot_jobs", ["business_id", "client_uuid"])
    op.create_table(
        "snapshot_tasks",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("job_number", sa.String(32), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("task_uuid", sa.String(36)),
        sa.Column("name", sa.String(255)),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("start_date", sa.Date()),
        sa.Column("due_date", sa.Date()),
    )
    op.create_index("ix_fund_links_scope", "fund_links", ["business_id", "scope_code"])
    op.create_index("ix_sync_runs_business", "sync_runs", ["business_id", "started_at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_sync_runs_business", "sync_runs")
    op.drop_index("ix_fund_links_scope", "fund_links")
    op.drop_table("snapshot_tasks")
    op.drop_index("ix_snapshot_jobs_client", "snapshot_jobs")
    op.drop_table("snapshot_jobs")
    op.drop_table("job_snapshots")
