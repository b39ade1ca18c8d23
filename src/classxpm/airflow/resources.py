"""The one composition root: what tasks, pages and commands build from the Airflow connections.

Database engines, the token cipher and store, the XPM config and session, the Class businesses and the
sync's resources are built here and nowhere else. Tasks spend each XPM tenant's call budget on the state
database (``rate_governors``), so every task on every worker shares it. Every function runs inside a task,
a request or a command, never at DAG parse time; connections are read through the Task SDK, which also
reads ``AIRFLOW_CONN_*`` environment variables, so the CLI works without a running Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from classxpm.airflow.connections import (
    CLASS_API_CONN_ID,
    CLASS_DB_CONN_ID,
    STATE_CONN_ID,
    XPM_CONN_ID,
    chosen_source,
    database_url_from,
    get_connection,
)
from classxpm.xpm.auth import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from classxpm.source.class_api.config import ClassApiConfig
    from classxpm.source.class_api.source import ClassApiSource
    from classxpm.state.rate_budget import SharedGovernors
    from classxpm.state.tokens import TokenStore
    from classxpm.sync.run import SyncEnv
    from classxpm.xpm.auth import Clock
    from classxpm.xpm.config import XpmConfig
    from classxpm.xpm.session import XpmSession


def database_url(conn_id: str) -> str:
    """The SQLAlchemy URL of database connection ``conn_id``.

    Raises:
        ConfigurationError: The connection is not a database.
    """
    return database_url_from(get_connection(conn_id))


def open_engine(conn_id: str, url: str | None = None, **pool: int) -> Engine:
    """An engine on the database of connection ``conn_id`` (or on ``url`` when given); the caller disposes.

    ``pool`` (``pool_size``, ``max_overflow``) bounds the connections it keeps and opens on a database
    server; a SQLite file has no connection limit to keep within.

    Raises:
        ConfigurationError: The connection is not a database.
        DatabaseUrlError: The URL is not a database URL.
    """
    from classxpm.db import make_engine, parse_url

    url = url or database_url(conn_id)
    server = parse_url(url).get_backend_name() != "sqlite"
    return make_engine(url, hide_parameters=True, **(pool if server else {}))


@contextmanager
def engine(conn_id: str, url: str | None = None, **pool: int) -> Iterator[Engine]:
    """An engine as ``open_engine`` makes it, disposed on leaving."""
    opened = open_engine(conn_id, url, **pool)
    try:
        yield opened
    finally:
        opened.dispose()


def token_store(state: Engine, clock: Clock = utcnow) -> TokenStore:
    """The grants of every business, on the state database, encrypted with the configured Fernet key."""
    from classxpm.state.crypto import load_cipher
    from classxpm.state.tokens import TokenStore

    return TokenStore(state, load_cipher(), clock)


def xpm_config(conn_id: str = XPM_CONN_ID) -> XpmConfig:
    """The frozen XPM client config of connection ``conn_id`` (through the XPM hook)."""
    from classxpm.airflow.hooks.xpm import XpmHook

    return XpmHook(conn_id).get_config()


def rate_governors(state: Engine) -> SharedGovernors:
    """Each tenant's XPM call budget on the state database, shared by every process and worker."""
    from classxpm.state.rate_budget import SharedGovernors

    return SharedGovernors(state)


def xpm_session(conn_id: str = XPM_CONN_ID, state: Engine | None = None) -> XpmSession:
    """An XPM session (HTTP pool, identity calls) for connection ``conn_id``; the caller closes it.

    With ``state``, its API calls spend each tenant's budget shared on the state database; without, this
    process's own (commands that make a call or two).
    """
    from classxpm.xpm.session import XpmSession

    if state is None:
        return XpmSession(xpm_config(conn_id))
    return XpmSession(xpm_config(conn_id), governors=rate_governors(state))


def class_businesses(*, optional: bool = False) -> dict[str, str]:
    """The Class businesses of the chosen source: id to name, in id order.

    From the Class database (``class_db``), or, when the deployment reads the Class API, the businesses
    with a stored Class grant.

    Args:
        optional: Answer none, rather than raise, when the source's connection is missing (the pages).
    """
    from airflow.sdk.exceptions import AirflowNotFoundException

    from classxpm.source.businesses import business_names

    if chosen_source() == CLASS_API_CONN_ID:
        from classxpm.state.class_grants import ClassGrantStore
        from classxpm.state.crypto import load_cipher

        with engine(STATE_CONN_ID) as state:
            return ClassGrantStore(state, load_cipher()).business_names()
    try:
        connection = get_connection(CLASS_DB_CONN_ID)
    except AirflowNotFoundException:
        if optional:
            return {}
        raise
    with engine(CLASS_DB_CONN_ID, database_url_from(connection)) as source:
        return business_names(source)


def class_api_config(conn_id: str = CLASS_API_CONN_ID) -> ClassApiConfig:
    """The frozen Class API client config of connection ``conn_id``.

    Login is the client id, password the secret, host the API base URL; extras as
    ``ClassApiConfig.from_settings`` reads them.
    """
    from classxpm.source.class_api.config import ClassApiConfig

    connection = get_connection(conn_id)
    return ClassApiConfig.from_settings(
        connection.login or "", connection.password or "", connection.host or None, connection.extra_dejson
    )


def class_api_source(conn_id: str = CLASS_API_CONN_ID) -> ClassApiSource:
    """The Class API source of ``conn_id`` with the shipped source mapping; the caller closes it."""
    from classxpm.mapping.api_source import load_api_source_mapping
    from classxpm.source.class_api.source import ClassApiSource
    from classxpm.xpm.session import http_client

    config = class_api_config(conn_id)
    return ClassApiSource(config, load_api_source_mapping(), http_client(config.timeout_seconds))


@dataclass(frozen=True)
class SyncResources:
    """What every business of a task shares: config, cipher, databases, mappings, the Class API source.

    Built once per task on the task's main thread (reading connections goes through the Task SDK), then
    shared by the threads that work a shard's businesses: engines and the HTTP clients are thread-safe.
    """

    config: XpmConfig
    cipher: Any
    source: Engine | None
    state: Engine
    mappings: Any
    reports_dir: Any
    class_api: ClassApiSource | None


def shard_pool() -> dict[str, int]:
    """The connection pool of each database a sync task opens, sized by its shard threads.

    A task works ``CLASSXPM_SHARD_THREADS`` businesses at once; each mostly holds one connection to a
    database at a time, but may briefly hold a second (a tenant lease's heartbeat, the shared call budget).
    So ``threads + 1`` connections are kept and as many more opened on demand: a worker slot holds at most
    ``4 * (threads + 1)`` connections, usually ``2 * (threads + 1)`` (docs/operating.md, "Database
    connections"). SQLAlchemy's default (5 kept, 10 more) is not tied to the threads: 8 tasks of 8 threads
    at once opened more than PostgreSQL's default 100, and Airflow's scheduler, refused one, stopped.
    """
    from classxpm.airflow.shards import shard_threads

    threads = shard_threads()
    return {"pool_size": threads + 1, "max_overflow": threads + 1}


@contextmanager
def sync_resources() -> Iterator[SyncResources]:
    """The shared resources from the ``class_db``, ``classxpm_state`` and ``xpm_default`` connections."""
    from classxpm.mapping import load_default_mappings
    from classxpm.state.crypto import load_cipher
    from classxpm.validation.report import reports_root

    config, cipher = xpm_config(), load_cipher()
    api_source = class_api_source() if chosen_source() == CLASS_API_CONN_ID else None
    pool = shard_pool()
    try:
        with _class_db(api_source is None, pool) as source, engine(STATE_CONN_ID, **pool) as state:
            yield SyncResources(
                config, cipher, source, state, load_default_mappings(), reports_root(), api_source
            )
    finally:
        if api_source is not None:
            api_source.close()


@contextmanager
def business_env(shared: SyncResources) -> Iterator[SyncEnv]:
    """One business's sync resources on ``shared``: its own XPM session and call counter.

    Each business counts its own XPM calls (a step records them per run), so businesses worked at once in
    one task each get their HTTP client; the tenant's call budget is on the state database as always.
    """
    from classxpm.state.tokens import StoredTokenSource, TokenStore
    from classxpm.sync.run import CallCounter, SyncEnv
    from classxpm.xpm.session import XpmSession, http_client

    config, counter = shared.config, CallCounter()
    http = http_client(config.timeout_seconds, event_hooks={"request": [counter]})
    with XpmSession(config, http=http, governors=rate_governors(shared.state)) as session:

        def open_api(business_id: str) -> Any:
            tokens = StoredTokenSource(
                TokenStore(shared.state, shared.cipher), business_id, session.identity, session.clock
            )
            return session.api(tokens)

        yield SyncEnv(
            shared.source,
            shared.state,
            shared.cipher,
            shared.mappings,
            open_api,
            shared.reports_dir,
            calls=counter,
            gone_from_class=config.gone_from_class,
            rolled_out_members=config.rolled_out_members,
            class_api=shared.class_api,
        )


@contextmanager
def sync_env() -> Iterator[SyncEnv]:
    """The sync's resources for one business's step (``sync_resources`` and ``business_env`` in one)."""
    with sync_resources() as shared, business_env(shared) as env:
        yield env


@contextmanager
def _class_db(wanted: bool, pool: dict[str, int]) -> Iterator[Engine | None]:
    """An engine on ``class_db`` when the deployment reads the Class database, else None."""
    if not wanted:
        yield None
        return
    with engine(CLASS_DB_CONN_ID, **pool) as source:
        yield source
