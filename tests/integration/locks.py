"""A case row held locked from outside the app, for tests of what waits on it."""

from __future__ import annotations

import threading
import time

import psycopg


def plain(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return url.replace("postgresql+psycopg", "postgresql")


class Held:
    """A row lock on one case, taken on a connection of its own; let go by `release` or,
    at the latest, by a timer after `after` seconds (so a test whose work should not have
    waited fails an assertion instead of hanging)."""

    def __init__(self, url: str, case_id: str, after: float = 4.0) -> None:
        self.conn = psycopg.connect(plain(url))
        self.conn.execute("SELECT id FROM cases WHERE id = %s FOR UPDATE", (case_id,))
        self._lock = threading.Lock()
        self.released = threading.Event()
        self.released_at: float | None = None
        self.timer = threading.Timer(after, self.release)
        self.timer.start()

    def release(self) -> None:
        with self._lock:
            if not self.released.is_set():
                self.conn.rollback()
                self.released_at = time.monotonic()
                self.released.set()

    def close(self) -> None:
        self.timer.cancel()
        self.release()
        self.conn.close()
