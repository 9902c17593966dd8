"""The query service's projection of the topics, through SQLAlchemy 2.

The consumed offsets are stored in the same transaction as the rows, so the
projection is exact across restarts and can be rebuilt from scratch by
deleting the database: the consumer then replays every topic from the start.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Stored as UTC, read back timezone-aware, on SQLite (which keeps no offset) and PostgreSQL alike.

    Comparisons bind through it too, so `since=...+01:00` means the same instant as its UTC spelling.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class ArticleRow(Base):
    __tablename__ = "articles"

    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    outlet: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    credit: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class SentenceRow(Base):
    __tablename__ = "sentences"

    sentence_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    article_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    claim_score: Mapped[float] = mapped_column(Float)
    is_claim: Mapped[bool] = mapped_column(Boolean)
    model_version: Mapped[str] = mapped_column(String(100))
    entities: Mapped[list] = mapped_column(JSON)
    cluster_id: Mapped[str | None] = mapped_column(String(40))


class ClaimRow(Base):
    __tablename__ = "claims"

    # seq orders the feed and is the SSE event id and the page cursor; it is
    # set once, on first insert, so a replayed claim keeps its place.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(40), unique=True)
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)
    article_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    outlet: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    claim_score: Mapped[float] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(100))
    entities: Mapped[list] = mapped_column(JSON)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), index=True)


class ClaimEntityRow(Base):
    """One row per (claim, canonical entity), for the entity filter."""

    __tablename__ = "claim_entities"

    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.claim_id"), primary_key=True)
    canonical: Mapped[str] = mapped_column(String(200), primary_key=True)
    canonical_lower: Mapped[str] = mapped_column(String(200), index=True)


class ClusterRow(Base):
    __tablename__ = "clusters"

    cluster_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_outlet: Mapped[str] = mapped_column(String(200))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    first_claim_id: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    outlets: Mapped[list] = mapped_column(JSON)
    appearance_count: Mapped[int] = mapped_column(Integer)
    appearances: Mapped[list] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class ConsumedOffset(Base):
    __tablename__ = "consumed_offsets"

    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(Integer)


Index("ix_claims_seen", ClaimRow.seen_at.desc())


def make_engine(db_url: str) -> Engine:
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(db_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the API read while the consumer writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
