"""Top entities and trending clusters: recomputed from the projection every few seconds.

The result is kept for the page (`GET /leaderboards`) and exported as two
bounded gauges (never more than k series each, see `services.common.metrics.TopK`):

    claimstream_query_top_entity_claims{entity}                     top 20 named entities (no dates or
                                                                    amounts) by claims received in the
                                                                    last `entity_window_s`
    claimstream_query_trending_cluster_appearances{cluster_id,claim} top 10 clusters by appearances
    claimstream_query_trending_cluster_outlets{cluster_id,claim}     received in the last `cluster_window_s`
                                                                    (then by distinct outlets, then the most
                                                                    recent), and their distinct outlets

`claim` is the cluster's text cut to 80 characters, so a table shows what the
cluster says. The windows use `received_at` (ingest time, always "now"-based)
rather than `published_at`, which a back-filled article sets in the past.
Every query replica computes its own copy from its own projection; aggregate
with `max by (...)` across replicas.

Started by the page router's lifespan (services/query/routers/page.py), so it
runs inside the query app once `app.state.engine` exists.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.logging import get_logger
from services.common.metrics import TopK
from services.query.db import ClaimRow, ClusterRow

log = get_logger("query.leaderboards")

TOP_ENTITIES_K = 20
TRENDING_K = 10
MAX_SCAN = 50_000  # newest claims of the window read for the entity counts, at most
# spaCy labels of values rather than names (as in services/nlp/entities.py): not "top entities".
VALUE_LABELS = frozenset("CARDINAL ORDINAL QUANTITY MONEY PERCENT DATE TIME".split())

TOP_ENTITIES = TopK("claimstream_query_top_entity_claims",
                    f"Claims received in the entity window that name the entity (top {TOP_ENTITIES_K})",
                    ["entity"], TOP_ENTITIES_K)
TRENDING_APPEARANCES = TopK("claimstream_query_trending_cluster_appearances",
                            f"Appearances received in the cluster window (top {TRENDING_K} clusters)",
                            ["cluster_id", "claim"], TRENDING_K)
TRENDING_OUTLETS = TopK("claimstream_query_trending_cluster_outlets",
                        f"Distinct outlets among those appearances (same top {TRENDING_K} clusters)",
                        ["cluster_id", "claim"], TRENDING_K)


class LeaderboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_LEADERBOARD_", extra="ignore")

    interval_s: float = Field(5.0, gt=0, description="Seconds between two recomputations")
    entity_window_s: float = Field(24 * 3600, gt=0, description="Top entities over claims received this recently")
    cluster_window_s: float = Field(6 * 3600, gt=0, description="Trending clusters over this window")


@dataclass
class Leaderboards:
    entity_window_s: float
    cluster_window_s: float
    updated_at: datetime | None = None
    entities: list[dict] = field(default_factory=list)   # {"entity", "claims"}
    clusters: list[dict] = field(default_factory=list)   # {"cluster_id", "text", "appearances", "outlets"}

    def as_json(self) -> dict:
        out = asdict(self)
        out["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return out


def compute(engine, settings: LeaderboardSettings, now: datetime | None = None) -> Leaderboards:
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session:
        # Entities: names only (values such as dates and amounts are entities to spaCy too), each
        # counted once per claim, over the newest MAX_SCAN claims of the window at most.
        # annotated: SQLAlchemy 2.1's stubs give mypy ScalarResult[Never] for a one-column select
        entity_lists: Sequence[list[Any]] = session.scalars(
            select(ClaimRow.entities)
            .where(ClaimRow.received_at >= now - timedelta(seconds=settings.entity_window_s))
            .order_by(ClaimRow.seq.desc())
            .limit(MAX_SCAN)).all()
        appearances = func.count().label("appearances")
        outlets = func.count(func.distinct(ClaimRow.outlet)).label("outlets")
        cluster_rows = session.execute(
            select(ClaimRow.cluster_id, appearances, outlets, func.min(ClaimRow.text).label("any_text"))
            .where(ClaimRow.received_at >= now - timedelta(seconds=settings.cluster_window_s))
            .group_by(ClaimRow.cluster_id)
            .order_by(appearances.desc(), outlets.desc(), func.max(ClaimRow.seq).desc())
            .limit(TRENDING_K)).all()
        texts = dict(session.execute(select(ClusterRow.cluster_id, ClusterRow.text).where(
            ClusterRow.cluster_id.in_([r.cluster_id for r in cluster_rows]))).all()) if cluster_rows else {}
    counts: Counter[str] = Counter()
    for entities in entity_lists:
        counts.update({e["canonical"] for e in entities or ()
                       if e.get("canonical") and e.get("label") not in VALUE_LABELS})
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_ENTITIES_K]
    return Leaderboards(
        entity_window_s=settings.entity_window_s, cluster_window_s=settings.cluster_window_s, updated_at=now,
        entities=[{"entity": name, "claims": n} for name, n in top],
        clusters=[{"cluster_id": r.cluster_id, "text": texts.get(r.cluster_id) or r.any_text,
                   "appearances": r.appearances, "outlets": r.outlets} for r in cluster_rows],
    )


def publish(boards: Leaderboards) -> None:
    TOP_ENTITIES.update(((e["entity"],), e["claims"]) for e in boards.entities)
    TRENDING_APPEARANCES.update(((c["cluster_id"], c["text"]), c["appearances"]) for c in boards.clusters)
    TRENDING_OUTLETS.update(((c["cluster_id"], c["text"]), c["outlets"]) for c in boards.clusters)


async def refresh_forever(app, settings: LeaderboardSettings) -> None:
    """Recompute, publish, sleep; a failure is logged and retried at the next tick."""
    while True:
        try:
            boards = await asyncio.to_thread(compute, app.state.engine, settings)
            publish(boards)
            app.state.leaderboards = boards
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a metric must not take the service down
            log.warning("could not compute the leaderboards", error=repr(exc))
        await asyncio.sleep(settings.interval_s)


@asynccontextmanager
async def lifespan(app):
    settings = LeaderboardSettings()
    app.state.leaderboards = Leaderboards(settings.entity_window_s, settings.cluster_window_s)
    task = asyncio.create_task(refresh_forever(app, settings), name="leaderboards")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
