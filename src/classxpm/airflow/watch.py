"""Instant sync: an asset the triggerer updates when Class changes, and the incremental DAG's schedule.

``ClassChangeTrigger`` runs in the triggerer (an ``AssetWatcher`` on ``CLASS_CHANGES_URI``). Every
``poll_seconds`` it reads the Class fingerprint (counts and newest ``updated_at`` of funds and members per
business: one grouped statement, no rows) and fires once a change has stood still for ``quiet_seconds``
(at most ``max_wait_seconds`` after a burst began). Where ``classxpm watch install-trigger`` put a
change notification on a PostgreSQL Class database, it sleeps on ``LISTEN`` instead and polls only every
``idle_seconds`` as a safety net. Either way it reads Class at most once every ``poll_seconds``.

``class_xpm_incremental`` runs on that asset or hourly; ``CLASSXPM_INSTANT_SYNC=off`` (read from the
environment at parse time, nothing else is) leaves it on its 15-minute schedule with no watcher.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from classxpm.airflow.connections import CLASS_DB_CONN_ID
from classxpm.errors import Fatal

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from classxpm.source.changes import Fingerprint

INSTANT_SYNC_ENV = "CLASSXPM_INSTANT_SYNC"
CLASS_CHANGES_NAME = "classxpm_class_changes"
CLASS_CHANGES_URI = "x-classxpm-watch://class_db/changes"
WATCHER_NAME = "class_db_changes"
SAFETY_NET_CRON = "0 * * * *"
INCREMENTAL_CRON = "*/15 * * * *"
_STATE_KEY = "fingerprint"
_ON, _OFF = {"on", "true", "1", "yes"}, {"off", "false", "0", "no"}


class InstantSyncSettingError(Fatal, ValueError):
    """``CLASSXPM_INSTANT_SYNC`` holds neither on nor off."""


class ClassChangeTrigger(BaseEventTrigger):
    """Fires an event when the Class database changes, debounced, for the incremental sync to run on.

    Args:
        conn_id: The Class database connection, read in the triggerer when the trigger starts.
        poll_seconds: Least time between two reads of the fingerprint.
        quiet_seconds: Fire once the fingerprint stood still this long.
        max_wait_seconds: Fire at the latest this long after a burst's first change.
        idle_seconds: With a change notification installed, the safety-net poll when nothing is notified.
    """

    def __init__(
        self,
        conn_id: str = CLASS_DB_CONN_ID,
        poll_seconds: float = 5.0,
        quiet_seconds: float = 5.0,
        max_wait_seconds: float = 60.0,
        idle_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.poll_seconds, self.quiet_seconds = poll_seconds, quiet_seconds
        self.max_wait_seconds, self.idle_seconds = max_wait_seconds, idle_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The trigger's class path and arguments (the triggerer re-creates it from them)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "poll_seconds": self.poll_seconds,
                "quiet_seconds": self.quiet_seconds,
                "max_wait_seconds": self.max_wait_seconds,
                "idle_seconds": self.idle_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll (or listen), debounce, and yield one event per settled change naming the businesses."""
        from sqlalchemy.exc import OperationalError

        from classxpm.source.changes import Debounce

        engine, wake = await self._open()
        debounce = Debounce(self.quiet_seconds, self.max_wait_seconds, await self._stored())
        stored = debounce.baseline
        try:
            while True:
                polled = time.monotonic()
                try:
                    changed = debounce.observe(await asyncio.to_thread(_read, engine), polled)
                except OperationalError as exc:
                    self.log.warning(
                        "Class database not readable (%s): polling again", type(exc.orig).__name__
                    )
                    changed = []
                if debounce.baseline is not stored:
                    stored = debounce.baseline
                    await self._store(stored)
                if changed:
                    self.log.info(
                        "Class changed for %d business(es): starting the incremental sync", len(changed)
                    )
                    yield TriggerEvent({"businesses": changed})
                await wake.wait(self.poll_seconds if debounce.pending or wake.polls else self.idle_seconds)
                await asyncio.sleep(max(0.0, self.poll_seconds - (time.monotonic() - polled)))
        finally:
            await wake.close()
            engine.dispose()

    async def _open(self) -> tuple[Engine, _Wake]:
        from airflow.sdk.bases.hook import BaseHook

        from classxpm.source.notify import CHANNEL

        connection = await BaseHook.aget_connection(self.conn_id)
        # Building the engine imports and connects: off the triggerer's event loop, which others share.
        engine, conninfo = await asyncio.to_thread(_open_engine, connection)
        if conninfo is None:
            return engine, _Wake()
        self.log.info("Class change notification installed: listening on %s", CHANNEL)
        return engine, await _Listen.open(conninfo, CHANNEL)

    async def _stored(self) -> Fingerprint | None:
        from classxpm.source.changes import from_json

        if self.asset_state_store is None:
            return None
        return from_json(await self.asset_state_store.aget(_STATE_KEY))

    async def _store(self, fingerprint: Fingerprint | None) -> None:
        from classxpm.source.changes import to_json

        if self.asset_state_store is not None and fingerprint is not None:
            await self.asset_state_store.aset(_STATE_KEY, to_json(fingerprint))


def _open_engine(connection: Any) -> tuple[Engine, str | None]:
    """The Class engine, and the libpq URL to listen on when the change notification is installed."""
    from sqlalchemy.pool import NullPool

    from classxpm.airflow.connections import database_url_from
    from classxpm.db import make_engine, parse_url
    from classxpm.source import notify

    url = parse_url(database_url_from(connection))
    if url.get_backend_name() == "sqlite":
        # No connection is held between polls: the file stays free for Class's writers.
        return make_engine(url, poolclass=NullPool, hide_parameters=True), None
    engine = make_engine(url, pool_size=1, max_overflow=0, hide_parameters=True)
    with engine.connect() as conn:
        listening = notify.installed(conn)
    return engine, url.set(drivername="postgresql").render_as_string(
        hide_password=False
    ) if listening else None


def _read(engine: Engine) -> Fingerprint:
    from classxpm.source.changes import read_fingerprint

    with engine.connect() as conn:
        return read_fingerprint(conn)


class _Wake:
    """Polling: the wait between two reads is plain time."""

    polls = True

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        return None


class _Listen(_Wake):
    """Listening: the wait ends early when PostgreSQL notifies a change on the channel."""

    polls = False

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, conninfo: str, channel: str) -> _Listen:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
        await conn.execute(f"LISTEN {channel}")
        return cls(conn)

    async def wait(self, seconds: float) -> None:
        import psycopg

        if self.polls:
            await asyncio.sleep(seconds)
            return
        try:
            async for _ in self._conn.notifies(timeout=seconds, stop_after=1):
                pass
        except psycopg.OperationalError:
            # The listening connection dropped (a Class restart): poll until the triggerer restarts us.
            self.polls = True

    async def close(self) -> None:
        await self._conn.close()


def changed_businesses(triggering_events: Mapping[Any, Iterable[Any]]) -> frozenset[str] | None:
    """The Class businesses the watcher's events named, for a run to sync those only.

    ``triggering_events`` is the run's ``triggering_asset_events``: the asset events the run was created for,
    each with the ``extra`` Airflow gives an event raised by a trigger (``{"from_trigger": True, "payload":
    {"businesses": [...]}}``). Events queued while a run was going all come to the next run, so it syncs every
    business any of them named.

    Returns:
        The businesses named, or ``None`` (every business) when the run has no triggering event (scheduled,
        manual) or any of its events names none (an asset event raised by hand, or by an older watcher).
    """
    named: set[str] = set()
    events = [event for batch in triggering_events.values() for event in batch]
    for event in events:
        payload = (getattr(event, "extra", None) or {}).get("payload")
        businesses = payload.get("businesses") if isinstance(payload, Mapping) else None
        if not isinstance(businesses, list) or not all(isinstance(b, str) for b in businesses):
            return None
        named.update(businesses)
    return frozenset(named) if events else None


def instant_sync_enabled() -> bool:
    """Whether the deployment runs the watcher (``CLASSXPM_INSTANT_SYNC``, on unless set off).

    Raises:
        InstantSyncSettingError: The variable holds something else than on/off (true/false, 1/0, yes/no).
    """
    value = os.environ.get(INSTANT_SYNC_ENV, "on").strip().lower()
    if value not in _ON | _OFF:
        raise InstantSyncSettingError(f"{INSTANT_SYNC_ENV}={value!r}: set it to on or off")
    return value in _ON


def incremental_schedule() -> Any:
    """The incremental DAG's schedule: Class changes (the watched asset) or hourly; every 15 min when off."""
    if not instant_sync_enabled():
        return INCREMENTAL_CRON
    from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher, CronTriggerTimetable

    watcher = AssetWatcher(name=WATCHER_NAME, trigger=ClassChangeTrigger())
    changes = Asset(name=CLASS_CHANGES_NAME, uri=CLASS_CHANGES_URI, watchers=[watcher])
    return AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SAFETY_NET_CRON, timezone="Australia/Sydney"), assets=changes
    )
