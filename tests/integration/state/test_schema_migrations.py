"""The Alembic migrations build exactly the tables the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import classxpm.jobs.tables  # registers the jobs snapshot tables on the state metadata
import classxpm.sync.tables  # noqa: F401  (registers the sync tables on the state metadata)
from classxpm.db import make_engine
from classxpm.state.migrations import VERSION_TABLE, upgrade
from classxpm.state.tables import metadata


def test_upgrade_to_head_matches_the_declared_metadata(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}), metadata
        )
    engine.dispose()
    assert diff == []


def test_upgrade_is_repeatable(db_url):
    upgrade(db_url)
    upgrade(db_url)
    engine = make_engine(db_url)
    assert {"xpm_grants", "fund_links", "sync_outcomes"} <= set(sa.inspect(engine).get_table_names())
    engine.dispose()
