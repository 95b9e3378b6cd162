"""Failed logins throttled per user and per client address: growing delays, then a lockout that
only an admin lifts (`users unlock`). API tokens are held to the same rules per address.

Kept in SQLite (ASSISTANT_DATA_DIR/logins.db), so that a restart lifts nothing and the app's
workers share one count. An attempt made while a delay runs is refused without checking the
password and counts as a failure: guessing fast only locks sooner.
"""

import math
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

FREE_FAILURES = 3  # typing mistakes: no delay
MAX_DELAY = 60.0  # seconds; the delay doubles after each failure past the free ones, up to this
LOCK_AFTER = {"user": 10, "address": 30}  # failures in a row; an address serves many users
_SCHEMA = """
CREATE TABLE IF NOT EXISTS failures (
    kind TEXT NOT NULL, key TEXT NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL, locked REAL,
    PRIMARY KEY (kind, key)
)
"""


class LoginGuard:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(_SCHEMA)

    def refusal(self, user: str | None, address: str | None) -> str | None:
        """Why an attempt is refused before its password is checked (locked, or too soon), or None."""
        now = time.time()
        for kind, key in _keys(user, address):
            row = self._row(kind, key)
            if row is None:
                continue
            count, last, locked = row
            if locked is not None:
                return f"{kind} {key} is locked after {count} failed attempts; an admin can lift it"
            wait = delay(count) - (now - last)
            if wait > 0:
                return f"too many failed attempts for {kind} {key}; wait {math.ceil(wait)} s"
        return None

    def failed(self, user: str | None, address: str | None) -> list[str]:
        """Count a failure; returns what it locked ("user NAME", "address IP"), to be audited."""
        now, locked = time.time(), []
        with self._lock, self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")  # count and lock as one step, whichever worker writes
            for kind, key in _keys(user, address):
                connection.execute(
                    "INSERT INTO failures (kind, key, count, last) VALUES (?, ?, 1, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET count = count + 1, last = excluded.last",
                    (kind, key, now),
                )
                (count, was_locked) = connection.execute(
                    "SELECT count, locked FROM failures WHERE kind = ? AND key = ?", (kind, key)
                ).fetchone()
                if was_locked is None and count >= LOCK_AFTER[kind]:
                    connection.execute("UPDATE failures SET locked = ? WHERE kind = ? AND key = ?", (now, kind, key))
                    locked.append(f"{kind} {key}")
            connection.execute("COMMIT")
        return locked

    def succeeded(self, user: str | None, address: str | None) -> None:
        with self._lock, self._connect() as connection:
            for kind, key in _keys(user, address):
                connection.execute("DELETE FROM failures WHERE kind = ? AND key = ? AND locked IS NULL", (kind, key))

    def unlock(self, user: str | None = None, address: str | None = None) -> bool:
        """Lift a lockout (and the count behind it); True if there was anything to lift."""
        with self._lock, self._connect() as connection:
            removed = sum(
                connection.execute("DELETE FROM failures WHERE kind = ? AND key = ?", (kind, key)).rowcount
                for kind, key in _keys(user, address)
            )
        return removed > 0

    def locked(self) -> list[tuple[str, str, int]]:
        """Every lockout: (kind, key, failed attempts)."""
        with self._connect() as connection:
            rows = connection.execute("SELECT kind, key, count FROM failures WHERE locked IS NOT NULL ORDER BY locked")
            return [(kind, key, count) for kind, key, count in rows.fetchall()]

    def _row(self, kind: str, key: str) -> tuple[int, float, float | None] | None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT count, last, locked FROM failures WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else (int(row[0]), float(row[1]), row[2])

    def _connect(self) -> "closing[sqlite3.Connection]":
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # autocommit: one statement each
        return closing(connection)


def delay(failures: int) -> float:
    """Seconds to wait after this many failures in a row."""
    return 0.0 if failures < FREE_FAILURES else min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY)


def _keys(user: str | None, address: str | None) -> list[tuple[str, str]]:
    return [(kind, key) for kind, key in (("user", user), ("address", address)) if key]
