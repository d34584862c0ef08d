"""An optimistic store's state: reading outside a transaction, then saved or upgraded.

An optimistic store (PostgreSQL, uow.attempt_engine) reads without locks, and when its one
write is the case save, that is a single version-checked statement committed by itself
(store.py, `_save_pg`). A first write of any other kind turns it into an ordinary
transaction here: it takes the locks the locking path takes (pending deadline rows, then
the case) and checks each case it read is still at the version it read. A case changed
since the read raises NeedsTransaction with nothing written, and the command runs again
under the locking path (service/cases.py, `_command`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from aftersales.adapters.db.statements import LOCK_CASE_PG, raw_reads
from aftersales.service.errors import NeedsTransaction

# An optimistic store puts itself in its connection's info (the unit of work removes it when
# the connection goes back to the pool): uow.attempt_engine's listener asks it before any
# write sent through SQLAlchemy (AttemptMixin.before_write).
ATTEMPT = "aftersales_attempt"


def driver(conn: Connection) -> Any:
    """The psycopg connection under `conn` (attempts switch its autocommit themselves)."""
    return conn.connection.driver_connection


class AttemptMixin:
    conn: Connection

    def _start(self, optimistic: bool) -> None:
        self.optimistic = optimistic  # reading without a transaction (until before_write)
        self.saved = False  # its one-statement save has committed: it may write no more
        self.upgraded = False  # it became a transaction: the unit of work commits it
        self._read_versions: dict[tuple[str, str], int] = {}  # cases it read, unlocked

    def _read_unlocked(self, shop_id: str, case_id: str, version: int) -> None:
        if self.optimistic:
            self._read_versions[shop_id, case_id] = version

    def _refuse_after_save(self) -> None:
        if self.saved:
            raise RuntimeError("a write after an optimistic attempt's save: make it part of "
                               "the save, or leave the command to the locking path")

    def before_write(self, *then: tuple[Any, dict[str, Any]]) -> list[Any]:
        """An optimistic store's first write other than its one-statement save: from here
        on it is an ordinary transaction, holding the locks the locking path would hold on
        each case it read — the pending deadline rows, then the case — with each case still
        at the version it read; or NeedsTransaction if one changed (nothing is written).

        `then`: selects to run right after (more locks, what they protect), sent with the
        BEGIN and the case locks in one round trip; their first rows."""
        if not self.optimistic:
            return raw_reads(self.conn, list(then)) if then else []
        self._refuse_after_save()
        self.optimistic, self.upgraded = False, True
        driver(self.conn).autocommit = False  # (the next statement BEGINs)
        read = list(self._read_versions.items())
        rows = raw_reads(self.conn, [
            (LOCK_CASE_PG, {"k_shop": shop_id, "k_id": case_id}) for (shop_id, case_id), _ in read
        ] + list(then))
        for (_, version), row in zip(read, rows, strict=False):
            if row is None or row.version != version:
                raise NeedsTransaction("version")
        return rows[len(read):]
