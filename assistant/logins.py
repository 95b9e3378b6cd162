"""Failed logins throttled per user and per client address: growing delays, then a lockout that
only an admin lifts (`users unlock`). API tokens are held to the same rules per address.

Kept in SQLite (ASSISTANT_DATA_DIR/logins.db), so that a restart lifts nothing and the app's
workers share one count. An attempt made while a delay runs is refused without checking the
password and counts as a failure: guessing fast only locks sooner. Fifteen quiet minutes forgive
earlier failures; a lockout stays until it is lifted. Anyone can lock a user by guessing (the
price of a lockout), so lockouts are audited and `users list` shows them.
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
QUIET_RESET = 15 * 60.0  # seconds without a failure after which the count starts again
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

    def attempt(self, user: str | None, address: str | None) -> tuple[str | None, list[str]]:
        """Begin an attempt: (why it is refused, or None to check the password; what it locked).

        Counted as a failure at once, in one transaction, so that guesses sent in parallel cannot
        all be checked before the count catches up; `succeeded` takes the count back.
        """
        now, refusal, locked = time.time(), None, []
        with self._lock, self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")  # read, count and lock as one step, whichever worker writes
            for kind, key in _keys(user, address):
                row = connection.execute(
                    "SELECT count, last, locked FROM failures WHERE kind = ? AND key = ?", (kind, key)
                ).fetchone()
                count, last, was_locked = row if row else (0, now, None)
                if was_locked is None and now - last > QUIET_RESET:
                    count = 0  # a quiet spell forgives earlier mistakes; a lockout it does not
                if refusal is None and was_locked is not None:
                    refusal = f"{kind} {key} is locked after {count} failed attempts; an admin can lift it"
                elif refusal is None and (wait := delay(count) - (now - last)) > 0:
                    refusal = f"too many failed attempts for {kind} {key}; wait {math.ceil(wait)} s"
                lock_now = was_locked is None and count + 1 >= LOCK_AFTER[kind]
                connection.execute(
                    "INSERT OR REPLACE INTO failures (kind, key, count, last, locked) VALUES (?, ?, ?, ?, ?)",
                    (kind, key, count + 1, now, now if lock_now else was_locked),
                )
                if lock_now:
                    locked.append(f"{kind} {key}")
            connection.execute("COMMIT")
        return refusal, locked

    def succeeded(self, user: str | None, address: str | None) -> None:
        """The password was right: the user's count is cleared; the address keeps its other failures."""
        with self._lock, self._connect() as connection:
            if user:
                connection.execute("DELETE FROM failures WHERE kind = 'user' AND key = ? AND locked IS NULL", (user,))
            if address:
                connection.execute(
                    "UPDATE failures SET count = max(count - 1, 0) "
                    "WHERE kind = 'address' AND key = ? AND locked IS NULL",
                    (address,),
                )

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

    def _connect(self) -> "closing[sqlite3.Connection]":
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # autocommit: one statement each
        return closing(connection)


def delay(failures: int) -> float:
    """Seconds to wait after this many failures in a row."""
    return 0.0 if failures < FREE_FAILURES else min(2.0 ** (failures - FREE_FAILURES), MAX_DELAY)


def _keys(user: str | None, address: str | None) -> list[tuple[str, str]]:
    return [(kind, key) for kind, key in (("user", user), ("address", address)) if key]
