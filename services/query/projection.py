"""Writes consumed batches into the database: one transaction per batch, one statement per table.

`apply` reads what the batch's events name in a few `IN (...)` queries (`load`), replays the
events in memory in order (`services/query/replay.py`), then writes each table with one
executemany statement (`write`): rows, the live feed's events, the full-text index, fired alerts,
the outbox and the consumed offsets, all in the same transaction. The result is the same as
applying the events one by one (tests/unit/test_projection_batch.py). Statements are SQLAlchemy
Core, upserts through the dialect's `INSERT ... ON CONFLICT` (SQLite and PostgreSQL alike), built
once per dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import BindParameter

from schemas import AlertFired, ClaimDetected, ClusterMerged, ClusterUpdated, FeedbackRecorded, SentenceAnnotated
from schemas.ids import claim_id
from services.query import feedlog
from services.query.db import (
    AlertRow,
    ArticleRevisionRow,
    ArticleRow,
    ClaimEntityRow,
    ClaimRow,
    ClusterRedirectRow,
    ClusterRow,
    ConsumedOffset,
    FeedbackRow,
    FeedEventRow,
    OutboxRow,
    SentenceRow,
    fts_enabled,
)
from services.query.replay import Known, Ledger, Replay, Writes, claim_row

# Ids per `IN (...)` query: well below SQLite's oldest bound-parameter limit (999).
CHUNK = 500
TABLES = (ArticleRow, ArticleRevisionRow, SentenceRow, ClaimRow, ClusterRow)
COLUMNS = {model.__tablename__: frozenset(model.__table__.columns.keys()) for model in TABLES}


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    event: BaseModel


def load_offsets(engine: Engine) -> dict[tuple[str, int], int]:
    with Session(engine) as session:
        return {(r.topic, r.partition): r.offset for r in session.scalars(select(ConsumedOffset))}


def apply(engine: Engine, batch: list[Consumed], rules: feedlog.LiveRules | None = None,
          effects: feedlog.Effects | None = None) -> list[ClaimDetected]:
    """Apply a batch; returns the claims that are new to the database (not replays).

    The live feed's events, fired alerts and the outbox are written in the same transaction;
    `effects` counts them for the caller.
    """
    rules = rules or feedlog.LiveRules()
    effects = effects if effects is not None else feedlog.Effects()
    offsets: dict[tuple[str, int], int] = {}
    with engine.begin() as conn:
        replay = Replay(load(conn, [item.event for item in batch], rules), rules, effects, COLUMNS)
        for item in batch:
            replay.apply(item.event)
            offsets[(item.topic, item.partition)] = item.offset
        writes = replay.finish()
        write(conn, writes, offsets)
    return writes.new_claims


# --------------------------------------------------------------------------------------------------
# Reading what the batch names


_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_Q_CLAIMS = select(ClaimRow.claim_id, ClaimRow.cluster_id).where(ClaimRow.claim_id.in_(_IDS))
_Q_SENTENCES = select(SentenceRow.sentence_id, SentenceRow.cluster_id).where(SentenceRow.sentence_id.in_(_IDS))
_Q_REDIRECTS = select(ClusterRedirectRow.merged_id, ClusterRedirectRow.cluster_id) \
    .where(ClusterRedirectRow.merged_id.in_(_IDS))
_Q_LEDGERS = select(ClusterRow.cluster_id, ClusterRow.first_outlet, ClusterRow.first_seen_at, ClusterRow.first_claim_id,
                    ClusterRow.outlets, ClusterRow.independent_outlets, ClusterRow.appearance_count,
                    ClusterRow.updated_at).where(ClusterRow.cluster_id.in_(_IDS))
_Q_APPEARANCES = select(ClusterRow.cluster_id, ClusterRow.appearances).where(ClusterRow.cluster_id.in_(_IDS))
# Claims per cluster and claim type: the counts, and for facets the best score and the types.
_Q_COUNTS = select(ClaimRow.cluster_id, ClaimRow.claim_type, func.count(), func.max(ClaimRow.claim_score)) \
    .where(ClaimRow.cluster_id.in_(_IDS)).group_by(ClaimRow.cluster_id, ClaimRow.claim_type)
_Q_ENTITIES = select(ClaimRow.cluster_id, ClaimEntityRow.canonical_lower).distinct() \
    .join(ClaimRow, ClaimRow.claim_id == ClaimEntityRow.claim_id).where(ClaimRow.cluster_id.in_(_IDS))
_Q_ARTICLES = select(ArticleRow.article_id, ArticleRow.version, ArticleRow.language) \
    .where(ArticleRow.article_id.in_(_IDS))
_Q_REVISIONS = select(ArticleRevisionRow.article_id, ArticleRevisionRow.version, ArticleRevisionRow.previous_version,
                      ArticleRevisionRow.revised_at, ArticleRevisionRow.changes) \
    .where(ArticleRevisionRow.article_id.in_(_IDS))
_Q_ALERTS = select(AlertRow.alert_id).where(AlertRow.alert_id.in_(_IDS))
_Q_FEEDBACK = select(FeedbackRow.feedback_id).where(FeedbackRow.feedback_id.in_(_IDS))


def _rows(conn: Connection, query, ids: Iterable) -> Iterable:
    ids = sorted(set(ids))
    for i in range(0, len(ids), CHUNK):
        yield from conn.execute(query, {"ids": ids[i:i + CHUNK]})


def load(conn: Connection, events: list[BaseModel], rules: feedlog.LiveRules) -> Known:
    """What the database holds now for every id the events name."""
    claims, sentences, clusters, alert_clusters, articles, alerts, feedback = (set() for _ in range(7))
    faceted: set[str] = set()  # clusters whose facets the batch may show (their ledger changes, an alert, a merge)
    for event in events:
        if isinstance(event, SentenceAnnotated):
            sentences.add(event.sentence_id)
            if event.cluster_id is None and event.is_claim:
                claims.add(claim_id(event.article_id, event.text))
        elif isinstance(event, ClaimDetected):
            claims.add(event.claim_id)
            sentences.add(event.sentence_id)
            clusters.add(event.cluster_id)
            articles.add(event.article_id)
        elif isinstance(event, ClusterMerged):
            clusters.update((event.cluster_id, event.merged_id))
            faceted.update((event.cluster_id, event.merged_id))
        elif isinstance(event, ClusterUpdated):
            clusters.add(event.cluster_id)
            faceted.add(event.cluster_id)
            alerts.add(feedlog.alert_id(event.cluster_id, rules.velocity_outlets, rules.velocity_window_minutes))
        elif isinstance(event, AlertFired):
            alerts.add(event.alert_id)
            clusters.add(event.cluster_id)
            faceted.add(event.cluster_id)
            alert_clusters.add(event.cluster_id)
        elif isinstance(event, FeedbackRecorded):
            feedback.add(event.feedback_id)
    known = Known()
    known.claims.update(_rows(conn, _Q_CLAIMS, claims))
    known.sentences.update(_rows(conn, _Q_SENTENCES, sentences))
    known.redirects.update(_rows(conn, _Q_REDIRECTS, clusters))
    clusters |= set(known.redirects.values())  # where the claims of a merged cluster go
    for row in _rows(conn, _Q_LEDGERS, clusters):
        known.ledgers[row[0]] = Ledger(*row[1:])
    for cluster, appearances in _rows(conn, _Q_APPEARANCES, alert_clusters):
        known.ledgers[cluster].appearances = appearances
    for cluster, claim_type, count, score in _rows(conn, _Q_COUNTS, clusters):
        known.claim_counts[cluster] = known.claim_counts.get(cluster, 0) + count
        if cluster in faceted:
            known.cluster_claims.setdefault(cluster, feedlog.ClusterClaims()).add(
                score, [claim_type] if claim_type else ())
    # The claims of the other clusters add to facets nobody reads in this batch: not loaded.
    for cluster, entity in _rows(conn, _Q_ENTITIES, faceted):
        known.cluster_claims.setdefault(cluster, feedlog.ClusterClaims()).entities.add(entity)
    for article, version, language in _rows(conn, _Q_ARTICLES, articles):
        known.articles.setdefault(article, {})[version] = language
    for article, version, previous, revised_at, changes in _rows(conn, _Q_REVISIONS, articles):
        known.revisions.setdefault(article, {})[version] = (version, previous, revised_at, changes)
    known.alerts.update(row[0] for row in _rows(conn, _Q_ALERTS, alerts))
    known.feedback.update(row[0] for row in _rows(conn, _Q_FEEDBACK, feedback))
    return known


# --------------------------------------------------------------------------------------------------
# Writing: one statement per table


_STATEMENTS: dict[tuple[str, Hashable], Any] = {}


def _insert(dialect: str, table):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _statement(conn: Connection, name: Hashable, build: Callable[[str], Any]) -> Any:
    """A statement built once per dialect: building costs more than executing it for a few rows."""
    key = (conn.dialect.name, name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build(conn.dialect.name)
    return stmt


def _upsert(conn: Connection, model, rows: list[dict], keys: tuple[str, ...]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE, one executemany per set of columns (one set in practice)."""
    by_columns: dict[tuple, list[dict]] = {}
    for row in rows:
        by_columns.setdefault(tuple(row), []).append(row)
    for columns, same in by_columns.items():
        def build(dialect: str, columns=columns):
            stmt = _insert(dialect, model.__table__)
            return stmt.on_conflict_do_update(index_elements=list(keys),
                                              set_={c: stmt.excluded[c] for c in columns if c not in keys})

        conn.execute(_statement(conn, (model.__tablename__, columns), build), same)


def _insert_new(conn: Connection, model, rows: list[dict], keys: tuple[str, ...]) -> None:
    """One executemany INSERT ... ON CONFLICT DO NOTHING."""
    if rows:
        conn.execute(_statement(conn, (model.__tablename__, "new"), lambda dialect: _insert(dialect, model.__table__)
                                .on_conflict_do_nothing(index_elements=list(keys))), rows)


_SENTENCE_TABLE = cast(Table, SentenceRow.__table__)
_SENTENCE_MOVE = update(_SENTENCE_TABLE).where(_SENTENCE_TABLE.c.sentence_id == bindparam("sid")) \
    .values(cluster_id=bindparam("cid"))
_FTS_INSERT = text("INSERT INTO claims_fts(rowid, text) VALUES (:seq, :text)")
_FEED_INSERT = cast(Table, FeedEventRow.__table__).insert()
_OUTBOX_INSERT = cast(Table, OutboxRow.__table__).insert()


def write(conn: Connection, writes: Writes, offsets: dict[tuple[str, int], int]) -> None:
    for event in writes.merges:  # rare: one at a time, in order, before the rows that already follow them
        merge_cluster(conn, event)
    _upsert(conn, ArticleRow, list(writes.articles.values()), ("article_id", "version"))
    _upsert(conn, SentenceRow, list(writes.sentences.values()), ("sentence_id",))
    if writes.moved:
        conn.execute(_SENTENCE_MOVE, [{"sid": sid, "cid": cluster} for sid, cluster in writes.moved.items()])
    seqs = _insert_claims(conn, list(writes.claims.values()))
    _upsert(conn, ClusterRow, list(writes.ledgers.values()), ("cluster_id",))
    _upsert(conn, ArticleRevisionRow, list(writes.revisions.values()), ("article_id", "version"))
    _insert_new(conn, AlertRow, writes.alerts, ("alert_id",))
    if writes.outbox:
        conn.execute(_OUTBOX_INSERT, writes.outbox)
    _insert_new(conn, FeedbackRow, writes.feedback, ("feedback_id",))
    feed = []
    now = datetime.now(timezone.utc)
    for item in writes.feed:
        if item.claim_id is not None and item.type in ("claim", "appearance"):
            if item.claim_id not in seqs:
                continue  # inserted meanwhile by another writer of the database: its event is logged there
            item.payload["seq"] = seqs[item.claim_id]
        feed.append({"type": item.type, "cluster_id": item.cluster_id, "claim_id": item.claim_id,
                     "facets": item.facets, "payload": item.payload, "created_at": now})
    if feed:
        conn.execute(_FEED_INSERT, feed)
    _upsert(conn, ConsumedOffset, [{"topic": t, "partition": p, "offset": o} for (t, p), o in offsets.items()],
            ("topic", "partition"))


def _insert_claims(conn: Connection, rows: list[dict]) -> dict[str, int]:
    """Insert the new claims, their entities and their full-text entries; claim id -> seq of those inserted."""
    if not rows:
        return {}
    table = ClaimRow.__table__
    stmt = _statement(conn, ("claims", "new"), lambda dialect: _insert(dialect, table)
                      .on_conflict_do_nothing(index_elements=["claim_id"]).returning(table.c.claim_id, table.c.seq))
    seqs = dict(conn.execute(stmt, rows).all())
    entities, fts = [], []
    for row in rows:
        if row["claim_id"] not in seqs:
            continue
        fts.append({"seq": seqs[row["claim_id"]], "text": row["text"]})
        for canonical in sorted({e["canonical"] for e in row["entities"]}):
            entities.append({"claim_id": row["claim_id"], "canonical": canonical, "canonical_lower": canonical.lower()})
    _insert_new(conn, ClaimEntityRow, entities, ("claim_id", "canonical"))
    if fts and fts_enabled(conn.engine):
        conn.execute(_FTS_INSERT, fts)
    return seqs


def merge_cluster(conn: Connection, event: ClusterMerged) -> None:
    """Claims, sentences and feed views of the merged cluster move to the survivor; its old id redirects."""
    _upsert(conn, ClusterRedirectRow, [{"merged_id": event.merged_id, "cluster_id": event.cluster_id}],
            ("merged_id",))
    # Earlier merges into the cluster that is now merged in turn point at the new survivor.
    conn.execute(update(ClusterRedirectRow).where(ClusterRedirectRow.cluster_id == event.merged_id)
                 .values(cluster_id=event.cluster_id))
    for table in (ClaimRow, SentenceRow):
        conn.execute(update(table).where(table.cluster_id == event.merged_id).values(cluster_id=event.cluster_id))
    conn.execute(delete(ClusterRow).where(ClusterRow.cluster_id == event.merged_id))


def surviving_cluster(session: Session, cluster_id: str) -> str:
    """The id a cluster lives on as (itself unless it was merged)."""
    redirect = session.get(ClusterRedirectRow, cluster_id)
    return redirect.cluster_id if redirect is not None else cluster_id


def _insert_claim(session: Session, claim: ClaimDetected) -> bool:
    """Insert one claim outside a batch (tests); False when it was there already."""
    conn = session.connection()
    row = claim_row(claim, surviving_cluster(session, claim.cluster_id), COLUMNS["claims"])
    return bool(_insert_claims(conn, [row]))
