"""Remember since when a fund has been gone from Class and a member rolled out of its fund.

Full runs list what is gone every night (a standing list); these stamps let the report's notice name only
what is new since the last run. ``fund_links.gone_at`` is set when a full run first finds the fund gone
and cleared when it is back; ``contact_links.rolled_out_at`` the same for a member no longer in its fund.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add fund_links.gone_at and contact_links.rolled_out_at."""
    with op.batch_alter_table("fund_links") as table:
        table.add_column(sa.Column("gone_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("contact_links") as table:
        table.add_column(sa.Column("rolled_out_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("contact_links") as table:
        table.drop_column("rolled_out_at")
    with op.batch_alter_table("fund_links") as table:
        table.drop_column("gone_at")
