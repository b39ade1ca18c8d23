"""State tables of the sync: runs, run-scoped staging, links, the outcome log, watermarks and leases.

TFNs live only inside ``staged_chunks.payload`` (the whole staged extract, Fernet-encrypted),
``planned_payloads.payload`` (what the plan writes, encrypted the same way) and as keyed hashes inside
payload hashes; every other column is TFN-free, so the state database can be inspected and
backed up as it is.
"""

from __future__ import annotations

import sqlalchemy as sa

from classxpm.state.tables import UtcDateTime, metadata

# Operational times are aware UTC (UtcDateTime); times copied from Class (updated_at, watermarks) stay
# naive UTC, as Class gives them.

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("dag_id", sa.String(250), nullable=False),
    sa.Column("business_id", sa.String(36), nullable=False),
    sa.Column("tenant_id", sa.String(36)),
    sa.Column("mode", sa.String(20), nullable=False),
    sa.Column("sync_mode", sa.String(20), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime()),
    sa.Column("status", sa.String(20), nullable=False, default="running"),
    sa.Column("source_watermark", sa.DateTime),
    sa.Column("summary", sa.JSON),
)

sync_run_calls = sa.Table(
    "sync_run_calls",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("step", sa.String(50), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
)


def _sealed_chunk(name: str, *counts: str) -> sa.Table:
    """A run's chunks of funds, each sealed as one blob, with the fund-id range that finds a fund's chunk."""
    return sa.Table(
        name,
        metadata,
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("chunk_no", sa.Integer, primary_key=True),
        sa.Column("first_fund_id", sa.String(36), nullable=False),
        sa.Column("last_fund_id", sa.String(36), nullable=False),
        *(sa.Column(count, sa.Integer, nullable=False) for count in counts),
        sa.Column("payload", sa.LargeBinary, nullable=False),
    )


staged_chunks = _sealed_chunk("staged_chunks", "funds", "members")
"""One extract chunk per row: its funds and their members, compressed and encrypted (Fernet) as one blob."""

fund_links = sa.Table(
    "fund_links",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("fund_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("scope_code", sa.String(32), nullable=False),
    sa.Column("fund_name", sa.String(255)),
    sa.Column("client_uuid", sa.String(36)),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("web_url", sa.String(500)),
    sa.Column("last_synced_at", UtcDateTime()),
    sa.Column("last_status", sa.String(20)),
    sa.Column("last_error", sa.Text),
    sa.Column("create_started_at", UtcDateTime()),
    sa.Column("members_held_back", sa.Integer, nullable=False, server_default="0"),
    sa.Column("refused_hash", sa.String(64)),
    sa.Column("gone_at", UtcDateTime()),
    sa.Index("ix_fund_links_client", "tenant_id", "client_uuid"),
)

contact_links = sa.Table(
    "contact_links",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("member_id", sa.String(36), primary_key=True),
    sa.Column("fund_id", sa.String(36), nullable=False),
    sa.Column("contact_uuid", sa.String(36), nullable=False),
    sa.Column("payload_hash", sa.String(64)),
    sa.Column("last_synced_at", UtcDateTime()),
    sa.Column("rolled_out_at", UtcDateTime()),
)

sync_outcomes = sa.Table(
    "sync_outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("business_id", sa.String(36), nullable=False),
    sa.Column("fund_id", sa.String(36), nullable=False),
    sa.Column("scope_code", sa.String(32), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index("ix_sync_outcomes_run", "run_id"),
    sa.Index("ix_sync_outcomes_fund", "business_id", "fund_id"),
)

watermarks = sa.Table(
    "watermarks",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("source_watermark", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

tenant_leases = sa.Table(
    "tenant_leases",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("holder", sa.String(250), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("acquired_at", UtcDateTime()),
)

remote_clients = sa.Table(
    "remote_clients",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("client_uuid", sa.String(36), primary_key=True),
    sa.Column("export_code", sa.String(64)),
    sa.Column("name", sa.String(255)),
    sa.Column("business_number", sa.String(20)),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("contacts", sa.JSON, nullable=False),
    sa.Column("read_at", UtcDateTime(), nullable=False),
    sa.Index("ix_remote_clients_export_code", "tenant_id", "export_code"),
)

remote_reads = sa.Table(
    "remote_reads",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("full_read_at", UtcDateTime()),
    sa.Column("modified_read_at", UtcDateTime()),
)

planned_funds = sa.Table(
    "planned_funds",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("fund_id", sa.String(36), primary_key=True),
    sa.Column("scope_code", sa.String(32), nullable=False),
    sa.Column("fund_name", sa.String(255)),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("client_uuid", sa.String(36)),
    sa.Column("reason", sa.Text),
    sa.Column("changed_fields", sa.JSON, nullable=False),
    sa.Column("contact_steps", sa.JSON, nullable=False),
    sa.Column("write_calls", sa.Integer, nullable=False),
    sa.Column("diff", sa.JSON),
    sa.Column("leftover", sa.Boolean, nullable=False, server_default=sa.false()),
)

planned_payloads = _sealed_chunk("planned_payloads", "funds")
"""What a run's plan writes: the mapped fields and contacts of each fund it writes, a chunk of funds per
row, compressed and encrypted (Fernet) as one blob, as staging is. Upsert sends these, never re-maps."""

quarantined_funds = sa.Table(
    "quarantined_funds",
    metadata,
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("fund_id", sa.String(36), primary_key=True),
    sa.Column("scope_code", sa.String(32), nullable=False),
    sa.Column("rules", sa.JSON, nullable=False),
)

fund_choices = sa.Table(
    "fund_choices",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("fund_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("choice", sa.String(10), nullable=False),
    sa.Column("client_uuid", sa.String(36)),
    sa.Column("chosen_at", UtcDateTime(), nullable=False),
)
"""A person's answer to a fund that needed review: ``link`` to ``client_uuid``, or ``create`` a client."""
