"""State tables of the jobs snapshot: one snapshot per business, its open jobs and their tasks.

A snapshot is replaced whole in one transaction, so a reader sees either the previous snapshot or the new
one, never a mix. Also declares the pages' indexes on ``fund_links`` (scope codes) and ``sync_runs``
(a business's latest run).
"""

from __future__ import annotations

import sqlalchemy as sa

from classxpm.state.tables import UtcDateTime, metadata
from classxpm.sync.tables import fund_links, sync_runs

job_snapshots = sa.Table(
    "job_snapshots",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("taken_at", UtcDateTime(), nullable=False),
    sa.Column("jobs", sa.Integer, nullable=False),
    sa.Column("tasks", sa.Integer, nullable=False),
    sa.Column("api_calls", sa.Integer, nullable=False),
)

snapshot_jobs = sa.Table(
    "snapshot_jobs",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("job_number", sa.String(32), primary_key=True),
    sa.Column("job_uuid", sa.String(36)),
    sa.Column("client_uuid", sa.String(36), nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("state", sa.String(64)),
    sa.Column("start_date", sa.Date),
    sa.Column("due_date", sa.Date),
    sa.Column("manager", sa.String(255)),
    sa.Index("ix_snapshot_jobs_client", "business_id", "client_uuid"),
)

snapshot_tasks = sa.Table(
    "snapshot_tasks",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("job_number", sa.String(32), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("task_uuid", sa.String(36)),
    sa.Column("name", sa.String(255)),
    sa.Column("completed", sa.Boolean, nullable=False),
    sa.Column("start_date", sa.Date),
    sa.Column("due_date", sa.Date),
)

fund_links_by_scope = sa.Index("ix_fund_links_scope", fund_links.c.business_id, fund_links.c.scope_code)
sync_runs_by_business = sa.Index("ix_sync_runs_business", sync_runs.c.business_id, sync_runs.c.started_at)
