"""What the simulator holds: tenants, users, apps, OAuth records, XPM records and the call log.

Records are plain JSON-ready dicts keyed by kind and id, kept in memory and, with ``--state FILE``,
written through to SQLite. XPM records use XPM's element names; keys that start with ``_`` are the
simulator's own bookkeeping (owning tenant, timestamps, links).
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any

from classxpm.xpm_sim.persistence import SqliteState

KINDS = (
    "tenants",
    "users",
    "apps",
    "codes",
    "grants",
    "refresh_tokens",
    "connections",
    "clients",
    "contacts",
    "jobs",
)


class Store:
    """The simulator's records, safe to use from several threads.

    Args:
        persistence: Where to write every change through to; None keeps everything in memory only.
    """

    def __init__(self, persistence: SqliteState | None = None) -> None:
        self.lock = threading.RLock()
        self._persistence = persistence
        self._tables: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in KINDS}
        self._by_tenant: dict[str, dict[str, dict[str, None]]] = {kind: {} for kind in KINDS}
        self._calls: list[dict[str, Any]] = []
        self._meta: dict[str, Any] = {}
        if persistence is not None:
            tables, self._calls, self._meta = persistence.load()
            for kind, records in tables.items():
                for key, record in records.items():
                    self._tables.setdefault(kind, {})[key] = record
                    self._index(kind, key, record)

    @property
    def is_empty(self) -> bool:
        """True when nothing has been stored yet (a fresh start, not a restart)."""
        return not any(self._tables.values())

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        """Return the live record, or None; change it only through :meth:`put`."""
        return self._tables[kind].get(key)

    def values(self, kind: str) -> list[dict[str, Any]]:
        """Return every record of a kind, in the order they were first stored."""
        with self.lock:
            return list(self._tables[kind].values())

    def tenant_values(self, kind: str, tenant: str) -> list[dict[str, Any]]:
        """Every record of a kind that belongs to ``tenant`` (``_tenant``), in the order first stored.

        Indexed by tenant: a simulator holding thousands of tenants answers without scanning the others.
        """
        with self.lock:
            table = self._tables[kind]
            return [table[key] for key in self._by_tenant.get(kind, {}).get(tenant, ())]

    def _index(self, kind: str, key: str, record: dict[str, Any]) -> None:
        tenant = record.get("_tenant") if isinstance(record, dict) else None
        if tenant is not None:
            self._by_tenant.setdefault(kind, {}).setdefault(tenant, {})[key] = None

    def put(self, kind: str, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store (or replace) a record and return it."""
        with self.lock:
            self._tables[kind][key] = record
            self._index(kind, key, record)
            if self._persistence is not None:
                self._persistence.put(kind, key, record)
        return record

    def delete(self, kind: str, key: str) -> None:
        """Remove a record, if present."""
        with self.lock:
            record = self._tables[kind].pop(key, None)
            tenant = record.get("_tenant") if isinstance(record, dict) else None
            self._by_tenant.get(kind, {}).get(tenant, {}).pop(key, None)
            if self._persistence is not None:
                self._persistence.delete(kind, key)

    def meta(self, key: str, default: Any = None) -> Any:
        """Return a meta value (a counter, the signing key), or ``default``."""
        return self._meta.get(key, default)

    def set_meta(self, key: str, value: Any) -> None:
        """Store a meta value."""
        with self.lock:
            self._meta[key] = value
            if self._persistence is not None:
                self._persistence.put_meta(key, value)

    def next_number(self, counter: str) -> int:
        """Return the next value of a named counter (job numbers), starting at 1."""
        with self.lock:
            value = int(self.meta(counter, 0)) + 1
            self.set_meta(counter, value)
            return value

    def clear(self) -> None:
        """Forget every record and meta value (the call log is kept; see :meth:`clear_calls`)."""
        with self.lock:
            self._tables = {kind: {} for kind in KINDS}
            self._by_tenant = {kind: {} for kind in KINDS}
            self._meta = {}
            if self._persistence is not None:
                self._persistence.clear(calls=False)

    def log_call(self, entry: dict[str, Any]) -> None:
        """Append one entry to the call log."""
        with self.lock:
            self._calls.append(entry)
            if self._persistence is not None:
                self._persistence.append_call(entry)

    def clear_calls(self) -> None:
        """Empty the call log."""
        with self.lock:
            self._calls = []
            if self._persistence is not None:
                self._persistence.clear_calls()

    def call_summary(self) -> dict[str, Any]:
        """Return the call log, its counts by endpoint, tenant and status, and response bytes by endpoint."""
        with self.lock:
            entries = list(self._calls)
        bytes_by_endpoint: Counter[str] = Counter()
        for entry in entries:
            bytes_by_endpoint[entry["endpoint"]] += entry.get("bytes", 0)
        return {
            "total": len(entries),
            "bytes": sum(bytes_by_endpoint.values()),
            "bytes_by_endpoint": dict(bytes_by_endpoint),
            "by_endpoint": dict(Counter(entry["endpoint"] for entry in entries)),
            "by_tenant": dict(Counter(entry["tenant"] or "" for entry in entries)),
            "by_status": dict(Counter(str(entry["status"]) for entry in entries)),
            "entries": entries,
        }

    def dump(self) -> dict[str, Any]:
        """Return a deep copy of every record by kind, for the admin state dump."""
        with self.lock:
            return copy.deepcopy(self._tables)

    def close(self) -> None:
        """Close the persistence file, if any."""
        if self._persistence is not None:
            self._persistence.close()
