"""Top entities and trending clusters, kept up to date from the projection every few seconds.

`Incremental` reads only the claims projected since its last tick (by `seq`), adds them to
per-window counters and takes out those that left the window, so a tick costs what arrived, not
what the windows hold; merged clusters are folded into their survivor when the redirects change.
`compute` is the same result from a full scan (the reference the tests compare it with).

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
import heapq
import sys
from collections import Counter
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from services.common.logging import get_logger
from services.common.metrics import TopK
from services.query.db import ClaimRow, ClusterRedirectRow, ClusterRow

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


def compute(engine, settings: LeaderboardSettings, now: datetime | None = None,
            max_scan: int = MAX_SCAN) -> Leaderboards:
    """The leaderboards by a full scan of the windows (the reference `Incremental` is tested against)."""
    now = now or datetime.now(timezone.utc)
    with Session(engine) as session:
        # Entities: names only (values such as dates and amounts are entities to spaCy too), each
        # counted once per claim, over the newest `max_scan` claims of the window (by received time) at most.
        # annotated: SQLAlchemy 2.1's stubs give mypy ScalarResult[Never] for a one-column select
        entity_lists: Sequence[list[Any]] = session.scalars(
            select(ClaimRow.entities)
            .where(ClaimRow.received_at >= now - timedelta(seconds=settings.entity_window_s))
            .order_by(ClaimRow.received_at.desc(), ClaimRow.seq.desc())
            .limit(max_scan)).all()
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
        counts.update(named_entities(entities))
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_ENTITIES_K]
    return Leaderboards(
        entity_window_s=settings.entity_window_s, cluster_window_s=settings.cluster_window_s, updated_at=now,
        entities=[{"entity": name, "claims": n} for name, n in top],
        clusters=[{"cluster_id": r.cluster_id, "text": texts.get(r.cluster_id) or r.any_text,
                   "appearances": r.appearances, "outlets": r.outlets} for r in cluster_rows],
    )


def named_entities(entities: list | None) -> set[str]:
    """The canonical names a claim counts for (values such as dates and amounts are not names)."""
    return {e["canonical"] for e in entities or () if e.get("canonical") and e.get("label") not in VALUE_LABELS}


@dataclass
class _Cluster:
    appearances: int = 0
    outlets: Counter = field(default_factory=Counter)
    seqs: set = field(default_factory=set)


_NEW_CLAIMS = select(ClaimRow.seq, ClaimRow.received_at, ClaimRow.cluster_id, ClaimRow.outlet, ClaimRow.entities) \
    .where(ClaimRow.seq > bindparam("after"), ClaimRow.seq <= bindparam("upto"),
           ClaimRow.received_at >= bindparam("since"))
_REDIRECTS = select(ClusterRedirectRow.merged_id, ClusterRedirectRow.cluster_id)
_TEXTS = select(ClusterRow.cluster_id, ClusterRow.text).where(
    ClusterRow.cluster_id.in_(bindparam("ids", expanding=True)))
_ANY_TEXT = select(ClaimRow.cluster_id, func.min(ClaimRow.text)) \
    .where(ClaimRow.cluster_id.in_(bindparam("ids", expanding=True)), ClaimRow.received_at >= bindparam("since")) \
    .group_by(ClaimRow.cluster_id)


class Incremental:
    """The leaderboards of one projection, updated from the claims projected since the last tick."""

    def __init__(self, settings: LeaderboardSettings, max_entity_claims: int = MAX_SCAN) -> None:
        self.settings = settings
        self.last_seq = 0
        # Bounded as `compute` is: the newest max_entity_claims claims of the entity window count. Without
        # it the heap held every claim of the last 24 hours (hundreds of MB at full load).
        self.max_entity_claims = max_entity_claims
        self.entity_heap: list[tuple] = []   # (received_at, seq, names) of the claims in the entity window
        self.cluster_heap: list[tuple] = []  # (received_at, seq, cluster id as read, outlet)
        self.entities: Counter[str] = Counter()
        self.clusters: dict[str, _Cluster] = {}
        self.alias: dict[str, str] = {}      # merged cluster id -> survivor, for the entries read before the merge
        self.redirect_count = 0

    def _cluster_of(self, cluster_id: str) -> str:
        while cluster_id in self.alias:
            cluster_id = self.alias[cluster_id]
        return cluster_id

    def refresh(self, engine, now: datetime | None = None) -> Leaderboards:
        now = now or datetime.now(timezone.utc)
        entity_since = now - timedelta(seconds=self.settings.entity_window_s)
        cluster_since = now - timedelta(seconds=self.settings.cluster_window_s)
        with Session(engine) as session:
            # Up to the newest seq read first: a claim committed meanwhile comes at the next tick.
            upto = session.scalar(select(func.max(ClaimRow.seq))) or 0
            rows = cast(list[tuple[int, datetime, str, str, list[Any] | None]],
                        session.execute(_NEW_CLAIMS, {"after": self.last_seq, "upto": upto,
                                                      "since": min(entity_since, cluster_since)}).all())
            redirects = session.scalar(select(func.count()).select_from(ClusterRedirectRow)) or 0
            if redirects != self.redirect_count:  # merges are rare: read the redirects only when they change
                self._merge(dict(session.execute(_REDIRECTS).all()))
                self.redirect_count = redirects
            self.last_seq = max(self.last_seq, upto)
            for seq, received_at, cluster_id, outlet, entities in rows:
                received_at = received_at if received_at.tzinfo else received_at.replace(tzinfo=timezone.utc)
                # Interned: every row brings its own copies of the same few names, outlets and ids.
                if received_at >= entity_since:
                    names = tuple(sys.intern(name) for name in named_entities(entities))
                    heapq.heappush(self.entity_heap, (received_at, seq, names))
                    self.entities.update(names)
                if received_at >= cluster_since:
                    cluster_id, outlet = sys.intern(cluster_id), sys.intern(outlet)
                    heapq.heappush(self.cluster_heap, (received_at, seq, cluster_id, outlet))
                    cluster = self.clusters.setdefault(self._cluster_of(cluster_id), _Cluster())
                    cluster.appearances += 1
                    cluster.outlets[outlet] += 1
                    cluster.seqs.add(seq)
            self._expire(entity_since, cluster_since)
            top = self._top_clusters()
            texts = dict(session.execute(_TEXTS, {"ids": top}).all()) if top else {}
            missing = [c for c in top if not texts.get(c)]
            if missing:  # no ledger yet: the smallest wording among the window's claims, as `compute` shows
                texts.update(session.execute(_ANY_TEXT, {"ids": missing, "since": cluster_since}).all())
        ranked = sorted(self.entities.items(), key=lambda item: (-item[1], item[0]))[:TOP_ENTITIES_K]
        return Leaderboards(
            entity_window_s=self.settings.entity_window_s, cluster_window_s=self.settings.cluster_window_s,
            updated_at=now, entities=[{"entity": name, "claims": n} for name, n in ranked],
            clusters=[{"cluster_id": c, "text": texts.get(c), "appearances": self.clusters[c].appearances,
                       "outlets": len(self.clusters[c].outlets)} for c in top])

    def _merge(self, redirects: dict[str, str]) -> None:
        for merged, survivor in redirects.items():
            if merged == survivor or self.alias.get(merged) == survivor:
                continue
            self.alias[merged] = survivor
            old = self.clusters.pop(merged, None)
            if old is not None:
                into = self.clusters.setdefault(self._cluster_of(survivor), _Cluster())
                into.appearances += old.appearances
                into.outlets.update(old.outlets)
                into.seqs |= old.seqs

    def _expire(self, entity_since: datetime, cluster_since: datetime) -> None:
        while self.entity_heap and (self.entity_heap[0][0] < entity_since
                                    or len(self.entity_heap) > self.max_entity_claims):
            _, _, names = heapq.heappop(self.entity_heap)
            self.entities.subtract(names)
            for name in names:
                if self.entities[name] <= 0:
                    del self.entities[name]
        while self.cluster_heap and self.cluster_heap[0][0] < cluster_since:
            _, seq, cluster_id, outlet = heapq.heappop(self.cluster_heap)
            key = self._cluster_of(cluster_id)
            cluster = self.clusters[key]
            cluster.appearances -= 1
            cluster.outlets[outlet] -= 1
            if cluster.outlets[outlet] <= 0:
                del cluster.outlets[outlet]
            cluster.seqs.discard(seq)
            if cluster.appearances <= 0:
                del self.clusters[key]

    def _top_clusters(self) -> list[str]:
        """Most appearances, then most outlets, then the latest claim: as `compute` orders them."""
        if not self.clusters:
            return []
        # The latest seq is only looked at for the clusters that tie with the k-th.
        kth = heapq.nlargest(TRENDING_K, ((c.appearances, len(c.outlets)) for c in self.clusters.values()))[-1]
        candidates = [(c.appearances, len(c.outlets), max(c.seqs), cid) for cid, c in self.clusters.items()
                      if (c.appearances, len(c.outlets)) >= kth]
        return [cid for *_, cid in sorted(candidates, reverse=True)[:TRENDING_K]]


def publish(boards: Leaderboards) -> None:
    TOP_ENTITIES.update(((e["entity"],), e["claims"]) for e in boards.entities)
    TRENDING_APPEARANCES.update(((c["cluster_id"], c["text"]), c["appearances"]) for c in boards.clusters)
    TRENDING_OUTLETS.update(((c["cluster_id"], c["text"]), c["outlets"]) for c in boards.clusters)


async def refresh_forever(app, settings: LeaderboardSettings) -> None:
    """Update, publish, sleep; a failure is logged and retried at the next tick."""
    boards_ = Incremental(settings)
    while True:
        try:
            boards = await asyncio.to_thread(boards_.refresh, app.state.engine)
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
