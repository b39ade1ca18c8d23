"""The Class watcher's trigger on real databases: it reads aggregates only and fires once per settled change.

The trigger runs in an event loop here as the triggerer runs it, with short intervals; the tests wait on
its events (a generous bound), never on time.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from classxpm.airflow.connections import database_connection
from classxpm.airflow.watch import ClassChangeTrigger
from classxpm.source import notify
from classxpm.source.demo_data import DEMO_BUSINESS_ID, write_demo_data

FAST = {"poll_seconds": 0.1, "quiet_seconds": 0.3, "max_wait_seconds": 5.0, "idle_seconds": 30.0}
BOUND = 60.0


@pytest.fixture
def class_db(db_url, monkeypatch) -> str:
    write_demo_data(db_url, 12, 3)
    monkeypatch.setenv("AIRFLOW_CONN_CLASS_DB", database_connection(db_url))
    return db_url


def _execute(url: str, statement: str, **params) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)
    engine.dispose()


class _Watching:
    """A running trigger, its events, and every statement it sent to the Class database."""

    def __init__(self, trigger: ClassChangeTrigger) -> None:
        self.events: asyncio.Queue = asyncio.Queue()
        self.statements: list[str] = []
        self._task = asyncio.create_task(self._run(trigger))

    async def _run(self, trigger: ClassChangeTrigger) -> None:
        async for event in trigger.run():
            await self.events.put(event.payload)

    async def next_event(self) -> dict:
        return await asyncio.wait_for(self.events.get(), BOUND)

    async def polls(self, count: int) -> None:
        """Wait until the trigger has read the fingerprint ``count`` more times."""
        target = self.reads() + count
        async with asyncio.timeout(BOUND):
            while self.reads() < target:
                await asyncio.sleep(0.02)

    def reads(self) -> int:
        return sum("GROUP BY" in s for s in self.statements)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def watching(**overrides):
    watcher = _Watching(ClassChangeTrigger(**{**FAST, **overrides}))

    def record(conn, _cursor, statement, *_args) -> None:
        if conn.engine.hide_parameters:  # the trigger's engine; the test's own writes are not recorded
            watcher.statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        yield watcher
    finally:
        await watcher.stop()
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _insert_funds(url: str, count: int) -> None:
    """A bulk import as Class makes it: one fund per transaction, back to back."""
    engine = sa.create_engine(url)
    for n in range(count):
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO funds (fund_id, business_id, scope_code, scope_description, created_at, "
                    "updated_at) VALUES (:id, :b, :code, 'Imported Super Fund', :t, :t)"
                ),
                {"id": f"imported-{n}", "b": DEMO_BUSINESS_ID, "code": f"IMP{n:05d}", "t": _now()},
            )
    engine.dispose()


def test_an_edited_fund_fires_one_event_naming_its_business_and_only_aggregates_are_read(class_db):
    async def scenario() -> None:
        async with watching() as watcher:
            await watcher.polls(2)
            _execute(
                class_db,
                "UPDATE funds SET phone = '0299990000', updated_at = :t "
                "WHERE fund_id = (SELECT min(fund_id) FROM funds)",
                t=_now(),
            )
            assert await watcher.next_event() == {"businesses": [DEMO_BUSINESS_ID]}
            await watcher.polls(5)
            assert watcher.events.empty(), "a settled change fires once"
            reads = [s for s in watcher.statements if "pg_trigger" not in s]
            assert reads
            assert all("count(" in s and "GROUP BY" in s for s in reads), "aggregates, never rows"

    asyncio.run(scenario())


def test_a_new_fund_and_a_removed_member_each_fire(class_db):
    async def scenario() -> None:
        async with watching() as watcher:
            await watcher.polls(2)
            _insert_funds(class_db, 1)
            assert await watcher.next_event() == {"businesses": [DEMO_BUSINESS_ID]}
            _execute(class_db, "DELETE FROM members WHERE member_id = (SELECT min(member_id) FROM members)")
            assert await watcher.next_event() == {"businesses": [DEMO_BUSINESS_ID]}

    asyncio.run(scenario())


def test_a_bulk_import_of_500_funds_fires_one_event_or_a_few(class_db):
    async def scenario() -> None:
        async with watching(quiet_seconds=2.0, max_wait_seconds=120.0) as watcher:
            await watcher.polls(2)
            await asyncio.to_thread(_insert_funds, class_db, 500)
            events = [await watcher.next_event()]
            await watcher.polls(40)
            while not watcher.events.empty():
                events.append(watcher.events.get_nowait())
            assert 1 <= len(events) <= 5, f"{len(events)} events for a burst of 500 inserts"

    asyncio.run(scenario())


def test_on_sqlite_no_connection_is_left_open_between_polls(sqlite_url, monkeypatch):
    write_demo_data(sqlite_url, 3, 3)
    monkeypatch.setenv("AIRFLOW_CONN_CLASS_DB", database_connection(sqlite_url))
    class_file = str(Path(sa.make_url(sqlite_url).database).resolve())
    open_to_class: set[int] = set()
    reads_of_class: list[int] = []

    # Only connections to the Class file count: the watcher also keeps its fingerprint in Airflow, whose
    # metadata DB pool may connect for the first time here and rightly keeps that connection.
    def opened(dbapi_connection, _record) -> None:
        files = {
            str(Path(row[2]).resolve()) for row in dbapi_connection.execute("PRAGMA database_list") if row[2]
        }
        if class_file in files:
            open_to_class.add(id(dbapi_connection))
            reads_of_class.append(id(dbapi_connection))

    def closed(dbapi_connection, _record) -> None:
        open_to_class.discard(id(dbapi_connection))

    async def scenario() -> None:
        async with watching() as watcher:
            await watcher.polls(3)
            assert open_to_class == set()
        assert len(reads_of_class) >= 3, "each poll opened its own connection to Class"

    sa.event.listen(sa.pool.Pool, "connect", opened)
    sa.event.listen(sa.pool.Pool, "close", closed)
    try:
        asyncio.run(scenario())
    finally:
        sa.event.remove(sa.pool.Pool, "connect", opened)
        sa.event.remove(sa.pool.Pool, "close", closed)


@pytest.fixture
def notifying_pg(pg_url, monkeypatch) -> str:
    """A PostgreSQL Class database with the change notification installed."""
    write_demo_data(pg_url, 5, 3)
    monkeypatch.setenv("AIRFLOW_CONN_CLASS_DB", database_connection(pg_url))
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        notify.install(conn)
    with engine.connect() as conn:
        assert notify.installed(conn)
    engine.dispose()
    return pg_url


@pytest.mark.postgres
def test_with_the_notification_installed_a_change_wakes_the_watcher_without_polling(notifying_pg):
    pg_url = notifying_pg

    async def scenario() -> None:
        # Idle polls 10 minutes apart: only the notification can bring the event within the bound.
        async with watching(idle_seconds=600.0) as watcher:
            await watcher.polls(1)
            _insert_funds(pg_url, 1)
            assert await watcher.next_event() == {"businesses": [DEMO_BUSINESS_ID]}

    asyncio.run(scenario())


@pytest.mark.postgres
def test_a_dropped_listening_connection_falls_back_to_polling(notifying_pg):
    pg_url = notifying_pg

    async def scenario() -> None:
        async with watching(idle_seconds=600.0) as watcher:
            await watcher.polls(1)
            _execute(
                pg_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
            )
            _insert_funds(pg_url, 1)
            assert await watcher.next_event() == {"businesses": [DEMO_BUSINESS_ID]}

    asyncio.run(scenario())
