"""SQLAlchemy Core metadata that emits exactly the tables of ``shared/class-schema.sql``.

The Class database is the source contract: the pipeline only reads it. The demo and the tests create
and fill it from this metadata, so SQLite and PostgreSQL get the same tables, keys and indexes.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

businesses = sa.Table(
    "businesses",
    metadata,
    sa.Column("business_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
)

funds = sa.Table(
    "funds",
    metadata,
    sa.Column("fund_id", sa.String(36), primary_key=True),
    sa.Column("business_id", sa.String(36), sa.ForeignKey("businesses.business_id"), nullable=False),
    sa.Column("scope_code", sa.String(32), nullable=False),
    sa.Column("scope_description", sa.String(255), nullable=False),
    sa.Column("physical_address", sa.String(500)),
    sa.Column("physical_city", sa.String(100)),
    sa.Column("physical_state", sa.String(20)),
    sa.Column("physical_postcode", sa.String(10)),
    sa.Column("physical_country", sa.String(100)),
    sa.Column("postal_address", sa.String(500)),
    sa.Column("postal_city", sa.String(100)),
    sa.Column("postal_state", sa.String(20)),
    sa.Column("postal_postcode", sa.String(10)),
    sa.Column("postal_country", sa.String(100)),
    sa.Column("phone", sa.String(50)),
    sa.Column("fax", sa.String(50)),
    sa.Column("tfn", sa.String(20)),
    sa.Column("acn", sa.String(20)),
    sa.Column("abn", sa.String(20)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("business_id", "scope_code"),
    sa.Index("ix_funds_updated_at", "updated_at"),
)

members = sa.Table(
    "members",
    metadata,
    sa.Column("member_id", sa.String(36), primary_key=True),
    sa.Column("fund_id", sa.String(36), sa.ForeignKey("funds.fund_id"), nullable=False),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),
    sa.Column("salutation", sa.String(50)),
    sa.Column("preferred_name", sa.String(100)),
    sa.Column("mobile", sa.String(50)),
    sa.Column("email", sa.String(255)),
    sa.Column("direct_phone", sa.String(50)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_members_fund_id", "fund_id"),
    sa.Index("ix_members_updated_at", "updated_at"),
)

TABLES = (businesses, funds, members)


def column_names(table: sa.Table) -> tuple[str, ...]:
    """Return the column names of a source table, in contract order."""
    return tuple(column.name for column in table.columns)
