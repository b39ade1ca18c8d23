from __future__ import annotations

import click
import pytest
import sqlalchemy as sa

from classxpm.airflow.connections import database_connection
from classxpm.cli.auth import _business
from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data
from classxpm.source.schema import businesses


@pytest.fixture
def class_db(sqlite_url, monkeypatch):
    write_demo_data(sqlite_url, 2, 1)
    monkeypatch.setenv("AIRFLOW_CONN_CLASS_DB", database_connection(sqlite_url))
    return sqlite_url


def test_the_business_defaults_to_the_one_in_class_db(class_db):
    assert _business(None) == DEMO_BUSINESS_ID
    assert _business("named") == "named"


def test_several_businesses_must_be_named(class_db):
    engine = sa.create_engine(class_db)
    with engine.begin() as conn:
        conn.execute(sa.insert(businesses).values(business_id="b-2", name="Another practice"))
    engine.dispose()
    with pytest.raises(click.UsageError, match="2 businesses"):
        _business(None)
