"""Alembic environment: runs online on the connection handed over by ``classxpm.state.migrations.upgrade``."""

from __future__ import annotations

from alembic import context

from classxpm.state.migrations import VERSION_TABLE
from classxpm.state.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
