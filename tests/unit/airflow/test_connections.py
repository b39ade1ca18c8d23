"""Database connections become SQLAlchemy URLs; a postgres one through the Postgres provider's hook."""

from __future__ import annotations

import pytest
from airflow.sdk import Connection

from classxpm.airflow.connections import database_url_from
from classxpm.xpm.errors import ConfigurationError

POSTGRES = {
    "conn_type": "postgres",
    "host": "127.0.0.1",
    "port": 5432,
    "login": "etl",
    "schema": "classxpm_state",
}


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        (
            {**POSTGRES, "password": "p@ss:word"},
            "postgresql+psycopg://etl:p%40ss%3Aword@127.0.0.1:5432/classxpm_state",
        ),
        (
            {**POSTGRES, "extra": '{"sqlalchemy_query": {"sslmode": "require"}}'},
            "postgresql+psycopg://etl@127.0.0.1:5432/classxpm_state?sslmode=require",
        ),
        ({"conn_type": "sqlite", "host": "/data/class.db"}, "sqlite:////data/class.db"),
        ({"conn_type": "generic", "extra": '{"sqlalchemy_url": "sqlite://"}'}, "sqlite://"),
    ],
)
def test_a_database_connection_becomes_its_url(fields, url):
    assert database_url_from(Connection(conn_id="db", **fields)) == url


def test_a_connection_that_is_no_database_is_refused_by_name():
    with pytest.raises(ConfigurationError, match="connection web has type http: not a database"):
        database_url_from(Connection(conn_id="web", conn_type="http", host="example.test"))
