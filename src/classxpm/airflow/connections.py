"""The project's fixed Airflow connection ids, and how a database connection becomes a SQLAlchemy URL.

Connections are read through the Task SDK, which also reads ``AIRFLOW_CONN_*`` environment variables, so the
CLI works without a running Airflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from classxpm.xpm.errors import ConfigurationError

if TYPE_CHECKING:
    from airflow.sdk import Connection

CLASS_DB_CONN_ID = "class_db"
STATE_CONN_ID = "classxpm_state"
XPM_CONN_ID = "xpm_default"
CLASS_API_CONN_ID = "class_api"
SOURCE_ENV = "CLASSXPM_SOURCE"
SOURCES = ("class_db", "class_api")
"""Where the sync reads Class: the database (``class_db`` connection) or the Class API (``class_api``)."""

_SQLITE_TYPES = {"sqlite"}
_POSTGRES_TYPES = {"postgres", "postgresql"}


def get_connection(conn_id: str) -> Connection:
    """Look a connection up through the Task SDK (environment variables, secrets backends, the API)."""
    from airflow.sdk.bases.hook import BaseHook

    return BaseHook.get_connection(conn_id)


def chosen_source() -> str:
    """The source this deployment reads Class from: ``$CLASSXPM_SOURCE``, else the Class database.

    Raises:
        ConfigurationError: The variable names neither source.
    """
    import os

    source = os.environ.get(SOURCE_ENV, "").strip() or SOURCES[0]
    if source not in SOURCES:
        raise ConfigurationError(f"{SOURCE_ENV} must be one of {', '.join(SOURCES)}, not {source!r}")
    return source


def database_url_from(connection: Connection) -> str:
    """Turn a database connection into a SQLAlchemy URL.

    An ``sqlalchemy_url`` extra wins; a sqlite connection's host is the file path; a postgres connection's
    URL is built by the Postgres provider's hook (its ``sqlalchemy_query`` and IAM extras included), with
    psycopg 3 as the driver.

    Raises:
        ConfigurationError: The connection type is neither SQLite nor PostgreSQL and has no sqlalchemy_url.
    """
    if url := connection.extra_dejson.get("sqlalchemy_url"):
        return url
    if connection.conn_type in _SQLITE_TYPES:
        return f"sqlite:///{connection.host}"
    if connection.conn_type in _POSTGRES_TYPES:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        hook = PostgresHook(connection=connection, sqlalchemy_scheme="postgresql+psycopg")
        return hook.sqlalchemy_url.render_as_string(hide_password=False)
    kind = connection.conn_type
    raise ConfigurationError(f"connection {connection.conn_id} has type {kind}: not a database")


def database_connection(url: str) -> str:
    """An ``AIRFLOW_CONN_*`` value (JSON) for a database given by its SQLAlchemy URL."""
    import json

    return json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}})
