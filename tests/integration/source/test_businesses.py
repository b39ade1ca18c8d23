"""Class's businesses, id to name, read from SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from classxpm.source import schema
from classxpm.source.businesses import business_names, resolve_business


def test_business_names_reads_every_business_in_id_order(db_url):
    engine = sa.create_engine(db_url)
    schema.metadata.create_all(engine, tables=[schema.businesses])
    with engine.begin() as conn:
        conn.execute(
            sa.insert(schema.businesses),
            [{"business_id": "b-2", "name": "Jones Partners"}, {"business_id": "b-1", "name": "Smith & Co"}],
        )

    names = business_names(engine)
    engine.dispose()

    assert list(names.items()) == [("b-1", "Smith & Co"), ("b-2", "Jones Partners")]
    assert resolve_business("smith & co", names) == "b-1"
