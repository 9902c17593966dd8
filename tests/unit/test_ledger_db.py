"""The ingest ledger on SQLite and PostgreSQL: versions, repeats and its schema migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.common.database import create_engine_for, current, head
from services.ingest.ledger import Base, Ledger, PublishedVersion


def test_the_ledger_numbers_versions_and_knows_repeats(fresh_db_url):
    ledger = Ledger(fresh_db_url("ledger"))
    assert current(ledger.engine) == head("services.ingest")
    assert ledger.lookup("a1", "h1") == (1, False) and not ledger.known("a1")
    ledger.record([("a1", "h1", 1)])
    assert ledger.lookup("a1", "h1") == (1, True) and ledger.known("a1")
    assert ledger.lookup("a1", "h2") == (2, False)  # new content under a known id: the next version
    ledger.record([("a1", "h2", 2), ("a1", "h2", 2)])  # recording twice is harmless
    assert ledger.lookup("a1", "h2") == (2, True)
    ledger.engine.dispose()


def test_a_ledger_made_before_the_migrations_is_adopted_with_its_rows(fresh_db_url):
    url = fresh_db_url("old-ledger")
    old = create_engine_for(url)
    Base.metadata.create_all(old)  # what the last version without migrations did
    with Session(old) as session, session.begin():
        session.add(PublishedVersion(article_id="a1", content_hash="h1", version=3, published_at=datetime(2026, 1, 1)))  # noqa: DTZ001 - the naive times the old version stored
    old.dispose()
    ledger = Ledger(url)
    assert current(ledger.engine) == "0001"
    assert ledger.lookup("a1", "h1") == (3, True) and ledger.lookup("a1", "h9") == (4, False)
    ledger.engine.dispose()
