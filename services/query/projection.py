"""Writes consumed events into the database: idempotent upserts plus offsets, one transaction per batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from schemas import (
    AlertFired,
    ArticleReceived,
    ArticleRevised,
    ClaimDetected,
    ClusterMerged,
    ClusterUpdated,
    FeedbackRecorded,
    SentenceAnnotated,
)
from schemas.ids import claim_id
from services.query import feedlog
from services.query.db import (
    ArticleRevisionRow,
    ArticleRow,
    ClaimEntityRow,
    ClaimRow,
    ClusterRedirectRow,
    ClusterRow,
    ConsumedOffset,
    SentenceRow,
    rowcount,
)


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    event: BaseModel


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _columns(table, values: dict) -> dict:
    # Events may carry more than the projection keeps (new optional fields): keep the table's columns.
    return {k: v for k, v in values.items() if k in table.columns}


def _upsert(session: Session, table, values: dict, keys: list[str]) -> None:
    values = _columns(table, values)
    stmt = _insert(session, table).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=keys,
                                               set_={k: v for k, v in values.items() if k not in keys}))


def load_offsets(engine: Engine) -> dict[tuple[str, int], int]:
    with Session(engine) as session:
        return {(r.topic, r.partition): r.offset for r in session.scalars(select(ConsumedOffset))}


def apply(engine: Engine, batch: list[Consumed], rules: feedlog.LiveRules | None = None,
          effects: feedlog.Effects | None = None) -> list[ClaimDetected]:
    """Apply a batch; returns the claims that are new to the database (not replays).

    The live feed's events, fired alerts and the outbox are written in the same transaction
    (`feedlog`); `effects` counts them for the caller.
    """
    rules = rules or feedlog.LiveRules()
    effects = effects if effects is not None else feedlog.Effects()
    new_claims: list[ClaimDetected] = []
    offsets: dict[tuple[str, int], int] = {}
    with Session(engine) as session, session.begin():
        for item in batch:
            event = item.event
            if isinstance(event, ArticleReceived):
                _upsert(session, ArticleRow.__table__, event.model_dump(
                    include={"article_id", "version", "outlet", "url", "title", "credit", "body", "language",
                             "published_at", "received_at"}), ["article_id", "version"])
            elif isinstance(event, SentenceAnnotated):
                values = event.model_dump(include={"sentence_id", "article_id", "version", "index", "text", "start",
                                                   "end", "claim_score", "is_claim", "model_version", "cluster_id"})
                values["entities"] = [e.model_dump() for e in event.entities]
                if values.get("cluster_id") is None:
                    # The claim (another topic) may have arrived first and carries the cluster.
                    values.pop("cluster_id", None)
                    if event.is_claim:
                        known = session.scalar(select(ClaimRow.cluster_id)
                                               .where(ClaimRow.claim_id == claim_id(event.article_id, event.text)))
                        if known:
                            values["cluster_id"] = known
                _upsert(session, SentenceRow.__table__, values, ["sentence_id"])
            elif isinstance(event, ClaimDetected):
                if _insert_claim(session, event):
                    new_claims.append(event)
                    feedlog.record_claim(session, event, effects)
                # Clusters are decided after annotation: the sentence learns its cluster here.
                session.execute(update(SentenceRow).where(SentenceRow.sentence_id == event.sentence_id)
                                .values(cluster_id=surviving_cluster(session, event.cluster_id)))
            elif isinstance(event, ClusterMerged):
                _merge_cluster(session, event)
            elif isinstance(event, ClusterUpdated):
                if session.get(ClusterRedirectRow, event.cluster_id) is not None:
                    continue  # an older ledger of a cluster merged since (a replay): the survivor has it
                values = event.model_dump(mode="json", exclude={"schema_version"})
                for field in ("first_seen_at", "updated_at"):
                    values[field] = getattr(event, field)
                before = feedlog.ledger_before(session, event.cluster_id)
                _upsert(session, ClusterRow.__table__, values, ["cluster_id"])
                feedlog.record_cluster(session, event, before, rules, effects)
            elif isinstance(event, AlertFired):
                feedlog.record_alert(session, event, effects)
            elif isinstance(event, FeedbackRecorded):
                feedlog.record_feedback(session, event, effects)
            elif isinstance(event, ArticleRevised):
                _upsert(session, ArticleRevisionRow.__table__, {
                    "article_id": event.article_id, "version": event.version,
                    "previous_version": event.previous_version, "revised_at": event.revised_at,
                    "changes": event.model_dump(mode="json", include={"unchanged", "edited", "withdrawn", "added"}),
                }, ["article_id", "version"])
            offsets[(item.topic, item.partition)] = item.offset
        for (topic, partition), offset in offsets.items():
            _upsert(session, ConsumedOffset.__table__, {"topic": topic, "partition": partition, "offset": offset},
                    ["topic", "partition"])
    return new_claims


def _merge_cluster(session: Session, event: ClusterMerged) -> None:
    """Claims, sentences and feed views of the merged cluster move to the survivor; its old id redirects."""
    _upsert(session, ClusterRedirectRow.__table__, {"merged_id": event.merged_id, "cluster_id": event.cluster_id},
            ["merged_id"])
    # Earlier merges into the cluster that is now merged in turn point at the new survivor.
    session.execute(update(ClusterRedirectRow).where(ClusterRedirectRow.cluster_id == event.merged_id)
                    .values(cluster_id=event.cluster_id))
    for table in (ClaimRow, SentenceRow):
        session.execute(update(table).where(table.cluster_id == event.merged_id).values(cluster_id=event.cluster_id))
    session.execute(delete(ClusterRow).where(ClusterRow.cluster_id == event.merged_id))


def surviving_cluster(session: Session, cluster_id: str) -> str:
    """The id a cluster lives on as (itself unless it was merged)."""
    redirect = session.get(ClusterRedirectRow, cluster_id)
    return redirect.cluster_id if redirect is not None else cluster_id


def _insert_claim(session: Session, claim: ClaimDetected) -> bool:
    values = claim.model_dump(exclude={"schema_version", "sentence_id", "merged_clusters"})
    values["cluster_id"] = surviving_cluster(session, claim.cluster_id)
    values["entities"] = [e.model_dump() for e in claim.entities]
    values["seen_at"] = claim.published_at or claim.received_at
    values["claim_type"] = claim.enrichment.claim_type if claim.enrichment else None
    values = _columns(ClaimRow.__table__, values)
    stmt = _insert(session, ClaimRow.__table__).values(**values).on_conflict_do_nothing(index_elements=["claim_id"])
    if rowcount(session.execute(stmt)) != 1:
        return False  # replayed: keep its original feed position
    for canonical in sorted({e.canonical for e in claim.entities}):
        session.execute(_insert(session, ClaimEntityRow.__table__)
                        .values(claim_id=claim.claim_id, canonical=canonical, canonical_lower=canonical.lower())
                        .on_conflict_do_nothing())
    return True


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
