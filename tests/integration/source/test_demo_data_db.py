from __future__ import annotations

import pytest
import sqlalchemy as sa

from classxpm.source.demo_data import (
    DEMO_BUSINESS_ID,
    DEMO_BUSINESS_NAME,
    DatabaseNotEmpty,
    DatabaseUnavailable,
    DemoSummary,
    generate,
    write_demo_data,
)
from classxpm.source.schema import businesses, funds, members


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        result = {
            t.name: conn.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (businesses, funds, members)
        }
    engine.dispose()
    return result


def read_funds(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(sa.select(funds).order_by(funds.c.fund_id))]
    engine.dispose()
    return rows


def test_writes_what_generate_yields_into_a_fresh_database(db_url):
    summary = write_demo_data(db_url, funds=60, seed=11)

    expected = DemoSummary()
    generated = []
    for chunk in generate(60, seed=11):
        expected += DemoSummary.of(chunk)
        generated.extend(chunk.funds)
    assert summary == expected
    assert counts(db_url) == {"businesses": 1, "funds": 60, "members": summary.members}
    assert read_funds(db_url) == sorted(generated, key=lambda f: f["fund_id"])


def test_the_business_is_the_fixed_demo_business(db_url):
    write_demo_data(db_url, funds=3, seed=1)
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(businesses)).all() == [(DEMO_BUSINESS_ID, DEMO_BUSINESS_NAME)]
    engine.dispose()


def test_refuses_a_database_that_already_holds_class_rows(db_url):
    write_demo_data(db_url, funds=5, seed=1)
    with pytest.raises(DatabaseNotEmpty, match="5 funds"):
        write_demo_data(db_url, funds=8, seed=2)
    assert counts(db_url)["funds"] == 5


def test_replace_empties_the_tables_first(db_url):
    write_demo_data(db_url, funds=5, seed=1)
    summary = write_demo_data(db_url, funds=8, seed=2, replace=True)
    assert counts(db_url) == {"businesses": 1, "funds": 8, "members": summary.members}


def test_an_unreachable_database_is_one_line_without_the_password():
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseUnavailable) as caught:
        write_demo_data(url, funds=1)
    assert "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)
