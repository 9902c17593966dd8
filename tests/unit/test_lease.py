"""The projection writer lease: one holder per PostgreSQL database, always held on SQLite."""

from __future__ import annotations

from services.common.database import create_engine_for
from services.query.lease import WriterLease


def test_one_writer_per_postgres_database_and_the_lease_moves_when_released(postgres_server):
    url = postgres_server.create_database("lease")
    first, second = create_engine_for(url), create_engine_for(url)  # two replicas: two pools
    a, b = WriterLease(first), WriterLease(second)
    try:
        assert a.try_acquire() and a.held
        assert not b.try_acquire() and not b.held
        assert a.still_held() and a.still_held()  # checking does not lose it
        assert not b.still_held()
        a.release()
        assert not a.held and not a.still_held()
        assert b.try_acquire() and b.still_held()
        assert not a.try_acquire()
        # The holder's connection ends (a killed replica): the lock goes with it.
        b._conn.invalidate()
        assert not b.still_held() and not b.held
        assert a.try_acquire()
    finally:
        a.release()
        b.release()
        first.dispose()
        second.dispose()


def test_a_sqlite_file_has_its_one_writer(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'q.db'}")
    lease = WriterLease(engine)
    assert not lease.shared and lease.held and lease.try_acquire() and lease.still_held()
    engine.dispose()
