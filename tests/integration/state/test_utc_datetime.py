"""Stored times come back aware UTC on SQLite and PostgreSQL, whatever offset they were written with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from classxpm.db import make_engine
from classxpm.state.tables import UtcDateTime

SYDNEY = timezone(timedelta(hours=10))


def test_times_are_stored_as_utc_and_read_back_aware(db_url):
    engine = make_engine(db_url)
    table = sa.Table(
        "stamps", sa.MetaData(), sa.Column("n", sa.Integer, primary_key=True), sa.Column("at", UtcDateTime())
    )
    table.create(engine)
    written = {
        1: datetime(2026, 11, 27, 2, 0, tzinfo=SYDNEY),  # 2026-11-26 16:00 UTC
        2: datetime(2026, 11, 26, 17, 0),  # naive: taken as UTC
        3: datetime(2026, 11, 26, 15, 0, tzinfo=UTC),
        4: None,
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(table), [{"n": n, "at": at} for n, at in written.items()])
    with engine.connect() as conn:
        read = dict(conn.execute(sa.select(table.c.n, table.c.at)).all())
        later = (
            conn.execute(
                sa.select(table.c.n)
                .where(table.c.at > datetime(2026, 11, 27, 2, 30, tzinfo=SYDNEY))
                .order_by(table.c.n)
            )
            .scalars()
            .all()
        )
    engine.dispose()

    assert read[1] == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)
    assert read[2] == datetime(2026, 11, 26, 17, 0, tzinfo=UTC)
    assert read[3] == written[3]
    assert read[4] is None
    assert all(at.tzinfo is UTC for at in read.values() if at is not None)
    assert later == [2], "comparisons in SQL see the same instants, SQLite included"
