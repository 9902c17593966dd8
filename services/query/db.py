"""The query service's projection of the topics, through SQLAlchemy 2.

The consumed offsets are stored in the same transaction as the rows, so the
projection is exact across restarts and can be rebuilt from scratch by
deleting the database: the consumer then replays every topic from the start.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, cast
from weakref import WeakSet

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
    text,
)
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.database import create_engine_for, migrate
from services.query.folding import fold


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
    language: Mapped[str] = mapped_column(String(8), default="en")
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class ArticleRevisionRow(Base):
    """What changed, claim by claim, from the previous version (topic `revisions`)."""

    __tablename__ = "article_revisions"

    article_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    previous_version: Mapped[int] = mapped_column(Integer)
    revised_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


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
    entities: Mapped[list[Any]] = mapped_column(JSON)
    cluster_id: Mapped[str | None] = mapped_column(String(40))


def _folded_text(context) -> str | None:
    text_ = context.get_current_parameters().get("text")
    return fold(text_) if text_ is not None else None


class ClaimRow(Base):
    __tablename__ = "claims"

    # seq orders the feed and is the SSE event id and the page cursor; it is
    # set once, on first insert, so a replayed claim keeps its place.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(40), unique=True)
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)
    copy_of: Mapped[str | None] = mapped_column(String(40))
    update_of: Mapped[str | None] = mapped_column(String(40))
    claim_type: Mapped[str | None] = mapped_column(String(20), index=True)  # enrichment.claim_type
    article_id: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # The wording folded for free text (`folding.fold`), filled from `text` on insert by any writer;
    # PostgreSQL searches it through a trigram index (migration 0002), SQLite uses its FTS5 index.
    text_folded: Mapped[str | None] = mapped_column(Text, default=_folded_text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    outlet: Mapped[str] = mapped_column(String(200), index=True)
    url: Mapped[str | None] = mapped_column(Text)
    claim_score: Mapped[float] = mapped_column(Float)
    # Older events decode as 0.0 / False.
    checkworthy_score: Mapped[float] = mapped_column(Float, default=0.0)
    is_checkworthy: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[str] = mapped_column(String(100))
    entities: Mapped[list[Any]] = mapped_column(JSON)
    # ClaimDetected.enrichment as JSON (claim type, source, via, hedged, quantities, dates); null for
    # claims projected before the column existed. The projection fills it from the event's field of
    # the same name (`_columns` keeps every event field that has a column).
    enrichment: Mapped[dict | None] = mapped_column(JSON, nullable=True)
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
    outlets: Mapped[list[Any]] = mapped_column(JSON)
    appearance_count: Mapped[int] = mapped_column(Integer)
    independent_outlets: Mapped[int] = mapped_column(Integer, default=1)
    update_of: Mapped[str | None] = mapped_column(String(40))
    appearances: Mapped[list[Any]] = mapped_column(JSON)
    merged_from: Mapped[list | None] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class ClusterRedirectRow(Base):
    """A cluster merged into another (ClusterMerged): its old id keeps answering, as the survivor."""

    __tablename__ = "cluster_redirects"

    merged_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)


class ConsumedOffset(Base):
    __tablename__ = "consumed_offsets"

    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(Integer)


class FeedEventRow(Base):
    """The ordered log of the live feed: one row per `claim`, `appearance`, `cluster` or `alert` event.

    Written only by the projection, in the same transaction as the rows it describes, so `seq`
    grows in commit order and a stream resumes after any seq without gaps or repeats.
    `facets` holds what the filters look at, `payload` what clients receive.
    """

    __tablename__ = "feed_events"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse a seq

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16))
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)
    claim_id: Mapped[str | None] = mapped_column(String(40))
    facets: Mapped[dict[str, Any]] = mapped_column(JSON)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class AlertRow(Base):
    """A fired claim-velocity alert: fired once per cluster and rule, whoever fired it first."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class WatchlistRow(Base):
    __tablename__ = "watchlists"
    __table_args__ = {"sqlite_autoincrement": True}  # a deleted watchlist's id is never given to another

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # HMAC-SHA256 key of the webhook's X-ClaimStream-Signature; made by the API, never read back by GET.
    webhook_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


class FeedbackRow(Base):
    __tablename__ = "feedback"

    feedback_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    claim_id: Mapped[str] = mapped_column(String(40), index=True)
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)
    model_version: Mapped[str] = mapped_column(String(100))
    check_worthy: Mapped[bool | None] = mapped_column(Boolean)
    correct_member: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), index=True)


class OutboxRow(Base):
    """Events to publish to Kafka, written in the same transaction as the rows they describe.

    A publisher task sends them after the commit and deletes them once Kafka acknowledged, so an
    alert or a feedback is published at least once even if the process stops in between.
    """

    __tablename__ = "outbox"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    thing: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True))


Index("ix_claims_seen", ClaimRow.seen_at.desc())
Index("ix_claims_received", ClaimRow.received_at)


# A database with one of these tables and no alembic_version was made before the migrations
# existed: it is adopted at the first revision (services.common.database.migrate).
LEGACY_TABLES = frozenset({"articles", "sentences", "claims", "clusters", "consumed_offsets", "feed_events"})


def make_engine(db_url: str) -> Engine:
    """An engine on an up-to-date schema: the migrations (services/query/migrations) run first."""
    engine = create_engine_for(db_url)
    upgrade(engine)
    ensure_fts(engine)
    return engine


def upgrade(engine: Engine) -> str | None:
    return migrate(engine, "services.query", Base.metadata, legacy_tables=LEGACY_TABLES)


# Engines whose SQLite has the FTS5 index (set up by ensure_fts).
_FTS_ENGINES: WeakSet[Engine] = WeakSet()


def fts_enabled(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite" and bind.engine in _FTS_ENGINES


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched: Session.execute is typed as returning a Result,
    but for these statements it is a CursorResult."""
    return cast(CursorResult[Any], result).rowcount


def ensure_fts(engine: Engine) -> None:
    """SQLite: a contentless FTS5 index of claim texts (rowid = claims.seq), filled up to date.

    Without FTS5 (another database, or an SQLite built without it) free text falls back to LIKE.
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts USING fts5("
                              "text, content='', tokenize='unicode61 remove_diacritics 2')"))
            # Claims projected before the index existed (an older database).
            conn.execute(text("INSERT INTO claims_fts(rowid, text) SELECT seq, text FROM claims "
                              "WHERE seq > (SELECT coalesce(max(rowid), 0) FROM claims_fts)"))
    except OperationalError:  # no FTS5 in this SQLite build
        return
    _FTS_ENGINES.add(engine)
