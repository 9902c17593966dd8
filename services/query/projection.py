"""Writes consumed events into the database: idempotent upserts plus offsets, one transaction per batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from schemas import ArticleReceived, ClaimDetected, ClusterUpdated, SentenceAnnotated
from services.query.db import ArticleRow, ClaimEntityRow, ClaimRow, ClusterRow, ConsumedOffset, SentenceRow


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    event: BaseModel


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _upsert(session: Session, table, values: dict, keys: list[str]) -> None:
    stmt = _insert(session, table).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=keys,
                                               set_={k: v for k, v in values.items() if k not in keys}))


def load_offsets(engine: Engine) -> dict[tuple[str, int], int]:
    with Session(engine) as session:
        return {(r.topic, r.partition): r.offset for r in session.scalars(select(ConsumedOffset))}


def apply(engine: Engine, batch: list[Consumed]) -> list[ClaimDetected]:
    """Apply a batch; returns the claims that are new to the database (not replays)."""
    new_claims: list[ClaimDetected] = []
    offsets: dict[tuple[str, int], int] = {}
    with Session(engine) as session, session.begin():
        for item in batch:
            event = item.event
            if isinstance(event, ArticleReceived):
                _upsert(session, ArticleRow.__table__, event.model_dump(
                    include={"article_id", "version", "outlet", "url", "title", "credit", "body",
                             "published_at", "received_at"}), ["article_id", "version"])
            elif isinstance(event, SentenceAnnotated):
                values = event.model_dump(include={"sentence_id", "article_id", "version", "index", "text", "start",
                                                   "end", "claim_score", "is_claim", "model_version", "cluster_id"})
                values["entities"] = [e.model_dump() for e in event.entities]
                _upsert(session, SentenceRow.__table__, values, ["sentence_id"])
            elif isinstance(event, ClaimDetected):
                if _insert_claim(session, event):
                    new_claims.append(event)
            elif isinstance(event, ClusterUpdated):
                values = event.model_dump(mode="json", exclude={"schema_version"})
                for field in ("first_seen_at", "updated_at"):
                    values[field] = getattr(event, field)
                _upsert(session, ClusterRow.__table__, values, ["cluster_id"])
            offsets[(item.topic, item.partition)] = item.offset
        for (topic, partition), offset in offsets.items():
            _upsert(session, ConsumedOffset.__table__, {"topic": topic, "partition": partition, "offset": offset},
                    ["topic", "partition"])
    return new_claims


def _insert_claim(session: Session, claim: ClaimDetected) -> bool:
    values = claim.model_dump(exclude={"schema_version", "sentence_id"})
    values["entities"] = [e.model_dump() for e in claim.entities]
    values["seen_at"] = claim.published_at or claim.received_at
    stmt = _insert(session, ClaimRow.__table__).values(**values).on_conflict_do_nothing(index_elements=["claim_id"])
    if session.execute(stmt).rowcount != 1:
        return False  # replayed: keep its original feed position
    for canonical in sorted({e.canonical for e in claim.entities}):
        session.execute(_insert(session, ClaimEntityRow.__table__)
                        .values(claim_id=claim.claim_id, canonical=canonical, canonical_lower=canonical.lower())
                        .on_conflict_do_nothing())
    return True


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
