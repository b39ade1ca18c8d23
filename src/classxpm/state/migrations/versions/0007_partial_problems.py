"""Remember on a fund's link what keeps it partly unsynced: members held back, and values XPM refused.

``members_held_back`` counts the fund's members not sent because Class gives them no name: incremental runs
take such funds again, so the warning is in every report until the name is entered. ``refused_hash`` is the
payload hash of the fund's values that XPM refused (or did not take): they are not sent again until the fund
changes in Class. ``planned_funds.leftover`` marks the funds an earlier run deferred for the daily quota:
upsert sends them first.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add fund_links.members_held_back, fund_links.refused_hash and planned_funds.leftover."""
    with op.batch_alter_table("fund_links") as table:
        table.add_column(sa.Column("members_held_back", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("refused_hash", sa.String(64)))
    with op.batch_alter_table("planned_funds") as table:
        table.add_column(sa.Column("leftover", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop the three columns."""
    with op.batch_alter_table("planned_funds") as table:
        table.drop_column("leftover")
    with op.batch_alter_table("fund_links") as table:
        table.drop_column("refused_hash")
        table.drop_column("members_held_back")
