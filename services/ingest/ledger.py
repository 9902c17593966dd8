"""Which article versions ingest has published, so a repeat is published once.

A row is written only after Kafka acknowledged the message: a crash between
the two re-publishes on retry (at-least-once), and the processors' ids are
deterministic, so the repeat creates nothing new downstream.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class _Base(DeclarativeBase):
    pass


class PublishedVersion(_Base):
    __tablename__ = "published_versions"

    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime())  # UTC


class Ledger:
    def __init__(self, db_url: str) -> None:
        if db_url.startswith("sqlite:///"):
            Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(db_url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self.engine)

    def lookup(self, article_id: str, content_hash: str) -> tuple[int, bool]:
        """(version, already_published) for this content under this id."""
        with Session(self.engine) as session:
            row = session.get(PublishedVersion, (article_id, content_hash))
            if row is not None:
                return row.version, True
            latest = session.scalar(select(func.max(PublishedVersion.version))
                                    .where(PublishedVersion.article_id == article_id))
            return (latest or 0) + 1, False

    def known(self, article_id: str) -> bool:
        with Session(self.engine) as session:
            return session.scalar(select(PublishedVersion.version)
                                  .where(PublishedVersion.article_id == article_id).limit(1)) is not None

    def record(self, rows: list[tuple[str, str, int]]) -> None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        with Session(self.engine) as session, session.begin():
            for article_id, content_hash, version in rows:
                session.merge(PublishedVersion(article_id=article_id, content_hash=content_hash,
                                               version=version, published_at=now))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
