"""Create the sync state: runs, staging, plans, quarantine, links, outcomes, watermarks, leases, XPM cache.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the sync tables."""
    op.create_table(
        "sync_runs",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("business_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36)),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("sync_mode", sa.String(20), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_watermark", sa.DateTime()),
        sa.Column("summary", sa.JSON()),
    )
    op.create_table(
        "sync_run_calls",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("step", sa.String(50), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
    )
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
    op.create_table(
        "fund_links",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("fund_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("fund_name", sa.String(255)),
        sa.Column("client_uuid", sa.String(36)),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("web_url", sa.String(500)),
        sa.Column("last_synced_at", UTC_DATETIME),
        sa.Column("last_status", sa.String(20)),
        sa.Column("last_error", sa.Text()),
        sa.Column("create_started_at", UTC_DATETIME),
    )
    op.create_index("ix_fund_links_client", "fund_links", ["tenant_id", "client_uuid"])
    op.create_table(
        "contact_links",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("fund_id", sa.String(36), nullable=False),
        sa.Column("contact_uuid", sa.String(36), nullable=False),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("last_synced_at", UTC_DATETIME),
    )
    op.create_table(
        "sync_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("business_id", sa.String(36), nullable=False),
        sa.Column("fund_id", sa.String(36), nullable=False),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_sync_outcomes_fund", "sync_outcomes", ["business_id", "fund_id"])
    op.create_index("ix_sync_outcomes_run", "sync_outcomes", ["run_id"])
    op.create_table(
        "watermarks",
        sa.Column("business_id", sa.String(36), primary_key=True),
        sa.Column("source_watermark", sa.DateTime(), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "tenant_leases",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("holder", sa.String(250), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
    )
    op.create_table(
        "remote_clients",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("client_uuid", sa.String(36), primary_key=True),
        sa.Column("export_code", sa.String(64)),
        sa.Column("name", sa.String(255)),
        sa.Column("business_number", sa.String(20)),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("read_at", UTC_DATETIME, nullable=False),
    )
    op.create_index("ix_remote_clients_export_code", "remote_clients", ["tenant_id", "export_code"])
    op.create_table(
        "remote_reads",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("full_read_at", UTC_DATETIME),
        sa.Column("modified_read_at", UTC_DATETIME),
    )
    op.create_table(
        "planned_funds",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("fund_id", sa.String(36), primary_key=True),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("fund_name", sa.String(255)),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("client_uuid", sa.String(36)),
        sa.Column("reason", sa.Text()),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("contact_steps", sa.JSON(), nullable=False),
        sa.Column("write_calls", sa.Integer(), nullable=False),
        sa.Column("diff", sa.JSON()),
    )
    op.create_table(
        "quarantined_funds",
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("fund_id", sa.String(36), primary_key=True),
        sa.Column("scope_code", sa.String(32), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    """Drop the sync tables."""
    for name in (
        "quarantined_funds",
        "planned_funds",
        "remote_reads",
        "remote_clients",
        "tenant_leases",
        "watermarks",
        "sync_outcomes",
        "contact_links",
        "fund_links",
        "staged_members",
        "staged_funds",
        "sync_run_calls",
        "sync_runs",
    ):
        op.drop_table(name)
