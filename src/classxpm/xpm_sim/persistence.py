"""SQLite persistence for ``--state FILE``: every record and call is written through, so a restart resumes."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL,
                                    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS calls (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


class SqliteState:
    """A write-through copy of the simulator's state in one SQLite file.

    Args:
        path: The file; created with its tables when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def load(self) -> tuple[dict[str, dict[str, dict[str, Any]]], list[dict[str, Any]], dict[str, Any]]:
        """Return every stored record by kind and key, the call log in order, and the meta values."""
        with self._lock:
            tables: dict[str, dict[str, dict[str, Any]]] = {}
            for kind, key, body in self._db.execute("SELECT kind, key, body FROM records"):
                tables.setdefault(kind, {})[key] = json.loads(body)
            calls = [json.loads(body) for (body,) in self._db.execute("SELECT body FROM calls ORDER BY seq")]
            meta = {key: json.loads(body) for key, body in self._db.execute("SELECT key, body FROM meta")}
        return tables, calls, meta

    def put(self, kind: str, key: str, record: dict[str, Any]) -> None:
        """Insert or replace one record."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records (kind, key, body) VALUES (?, ?, ?)",
                (kind, key, json.dumps(record)),
            )

    def delete(self, kind: str, key: str) -> None:
        """Remove one record, if present."""
        with self._lock:
            self._db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def put_meta(self, key: str, value: Any) -> None:
        """Store one meta value (counters, the signing key, the clock offset)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, body) VALUES (?, ?)", (key, json.dumps(value))
            )

    def append_call(self, entry: dict[str, Any]) -> None:
        """Append one call-log entry."""
        with self._lock:
            self._db.execute("INSERT INTO calls (body) VALUES (?)", (json.dumps(entry),))

    def clear(self, calls: bool = True) -> None:
        """Remove every record and meta value, and the call log too unless ``calls`` is False."""
        with self._lock:
            self._db.execute("DELETE FROM records")
            self._db.execute("DELETE FROM meta")
            if calls:
                self._db.execute("DELETE FROM calls")

    def clear_calls(self) -> None:
        """Remove the call log only."""
        with self._lock:
            self._db.execute("DELETE FROM calls")

    def close(self) -> None:
        """Close the database file."""
        with self._lock:
            self._db.close()
