"""One writer per projection database: the replica that holds the lease projects, fires alerts,
publishes the outbox and sends webhooks; the others serve the API and the live feed from the
rows it writes.

Several query replicas may share one PostgreSQL database. If each projected the topics itself,
two transactions could both see a cluster "before" an update and both log it, both fire its
alert, and feed-event seqs would no longer follow commit order. So the writer holds a
session-level advisory lock (`pg_try_advisory_lock`) on a connection of its own for as long as
it writes. PostgreSQL releases the lock when that connection ends (a stopped or killed replica),
and another replica takes it over at its next try, resuming from the offsets stored in the
database. A SQLite file has one replica by construction: the lease is always held.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from services.common.logging import get_logger

log = get_logger("query.lease")

# Advisory lock key of the projection writer ("csproj" in ASCII); migrations use another key.
WRITER_LOCK = 0x6373_7072_6F6A


class WriterLease:
    def __init__(self, engine: Engine, key: int = WRITER_LOCK) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None
        self.shared = engine.dialect.name == "postgresql"

    @property
    def held(self) -> bool:
        return not self.shared or self._conn is not None

    def try_acquire(self) -> bool:
        """Take the lease if no other replica holds it; True when this replica holds it now."""
        if self.held:
            return True
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar()
            conn.commit()  # the lock is the session's, not the transaction's: end the transaction
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        log.info("projection writer lease taken")
        return True

    def still_held(self) -> bool:
        """False when the lease's connection is gone (the lock went with it): stop writing."""
        if not self.shared:
            return True
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND granted AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": self.key}).scalar()
            self._conn.commit()
        except Exception as exc:  # noqa: BLE001 - any failure of the lease's connection ends the lease
            log.error("projection writer lease lost", error=repr(exc))
            self._drop()
            return False
        if not held:
            log.error("projection writer lease lost: the lock is no longer held")
            self._drop()
        return bool(held)

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._conn.commit()
        except Exception:  # noqa: BLE001 - closing the connection releases it anyway
            pass
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool: a pooled session would keep the lock
            finally:
                conn.close()
