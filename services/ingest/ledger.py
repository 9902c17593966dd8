"""Which article versions ingest has published, so a repeat is published once.

A row is written only after Kafka acknowledged the message: a crash between
the two re-publishes on retry (at-least-once), and the processors' ids are
deterministic, so the repeat creates nothing new downstream.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common.database import create_engine_for, migrate


class Base(DeclarativeBase):
    pass


class PublishedVersion(Base):
    __tablename__ = "published_versions"

    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime())  # UTC


class Ledger:
    def __init__(self, db_url: str) -> None:
        self.engine = create_engine_for(db_url)
        upgrade(self.engine)

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


def upgrade(engine) -> str | None:
    """Bring the ledger's schema up to date (services/ingest/migrations); a pre-migration ledger is adopted."""
    return migrate(engine, "services.ingest", Base.metadata, legacy_tables=frozenset({"published_versions"}))
