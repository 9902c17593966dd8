"""Consumes articles, annotations, claims and clusters into the database.

Partitions are assigned manually (no consumer group) and positions live in the
database: a replica with its own SQLite file keeps a full projection; replicas
sharing a PostgreSQL database run it in the one that holds the writer lease
(`lease.py`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram
from pydantic import BaseModel
from sqlalchemy.orm import Session

from schemas import (
    TOPICS,
    AlertFired,
    ArticleReceived,
    ArticleRevised,
    ClaimDetected,
    ClusterEvent,
    DecodeError,
    FeedbackRecorded,
    SentenceAnnotated,
    decode,
    topic_name,
)
from schemas.codec import DECODE_REASONS
from services.common.logging import get_logger
from services.common.metrics import LATENCY_BUCKETS, init_labels
from services.query import feedlog, projection
from services.query.db import ConsumedOffset

log = get_logger("query.consumer")

MODELS: dict[str, type[BaseModel]] = {
    "articles": ArticleReceived, "annotations": SentenceAnnotated, "claims": ClaimDetected,
    "clusters": ClusterEvent, "alerts": AlertFired, "feedback": FeedbackRecorded, "revisions": ArticleRevised}
# Read to their end before anything else at start-up: a rebuilt database then knows every alert
# fired before (and does not fire it again while replaying the clusters).
BOOTSTRAP = ("alerts",)
CONSUMED = Counter("claimstream_query_messages_in_total", "Messages projected", ["topic"])
REJECTED = Counter("claimstream_query_messages_rejected_total", "Messages that could not be decoded",
                   ["topic", "reason"])
FRESHNESS = Histogram("claimstream_query_freshness_seconds",
                      "Article received by ingest to claim visible in the query API",
                      buckets=LATENCY_BUCKETS)
LAG = Gauge("claimstream_query_consumer_lag_messages", "Messages not yet projected", ["topic", "partition"])
WRITE_TIME = Histogram("claimstream_query_write_duration_seconds", "Time to write one batch",
                       buckets=LATENCY_BUCKETS)
# Every series a dashboard or alert reads exists from the first scrape, at 0 (not "No data").
init_labels(CONSUMED, MODELS)
init_labels(REJECTED, MODELS, DECODE_REASONS)
for _thing in MODELS:
    init_labels(LAG, (_thing,), [str(p) for p in range(TOPICS[_thing].partitions)])  # set to the real lag once assigned


class Projector:
    def __init__(self, engine, bootstrap_servers: str, namespace: str, batch: int = 500,
                 rules: feedlog.LiveRules | None = None, on_commit=(), fetch_min_bytes: int = 1,
                 fetch_max_wait_ms: int = 500) -> None:
        self.engine = engine
        self.rules = rules or feedlog.LiveRules()
        # Called with the batch's feedlog.Effects after each commit (feed hub, outbox, gauges).
        self.on_commit = list(on_commit)
        self.bootstrap_servers = bootstrap_servers
        self.namespace = namespace
        self.topics = {topic_name(thing, namespace): thing for thing in MODELS}
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, client_id=f"{namespace}-query", group_id=None,
            enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed",
            # Each fetch costs the same Python work whatever it brings: let the broker gather live
            # traffic into fewer, larger fetches (and transactions) instead of one per few messages.
            fetch_min_bytes=fetch_min_bytes, fetch_max_wait_ms=fetch_max_wait_ms,
        )
        self.fetch = (fetch_min_bytes, fetch_max_wait_ms)
        self.batch = batch
        # Woken after each committed batch; SSE streams wait on it.
        self.changed = asyncio.Condition()
        self.ready = asyncio.Event()
        self.positions: dict[tuple[str, int], int] = {}  # next offset to project, per partition

    def clone(self) -> Projector:
        """A fresh consumer with the same settings, callbacks and condition (after a failure)."""
        fresh = Projector(self.engine, self.bootstrap_servers, self.namespace, self.batch, self.rules, self.on_commit,
                          *self.fetch)
        fresh.changed = self.changed
        return fresh

    async def run(self) -> None:
        await self.consumer.start()
        try:
            await self._assign()
            self.ready.set()
            while True:
                records = await self.consumer.getmany(timeout_ms=500, max_records=self.batch)
                if records:
                    await self._project(records)
                self._report_lag()
        finally:
            await self.consumer.stop()

    async def _assign(self) -> None:
        partitions = []
        for topic in self.topics:
            for _ in range(60):  # the topics may be created moments after we start
                found = self.consumer.partitions_for_topic(topic)
                if found:
                    break
                await self.consumer._client.force_metadata_update()
                await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"topic {topic} does not exist")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        await self._bootstrap([tp for tp in partitions if self.topics[tp.topic] in BOOTSTRAP])
        self.consumer.assign(partitions)
        stored = await asyncio.to_thread(projection.load_offsets, self.engine)
        for tp in partitions:
            if (tp.topic, tp.partition) in stored:
                self.consumer.seek(tp, stored[(tp.topic, tp.partition)] + 1)
                self.positions[(tp.topic, tp.partition)] = stored[(tp.topic, tp.partition)] + 1
            else:
                await self.consumer.seek_to_beginning(tp)
        log.info("projection assigned", partitions=len(partitions), resumed=len(stored))

    async def _bootstrap(self, partitions: list[TopicPartition]) -> None:
        """Project the bootstrap topics up to their current end, alone."""
        if not partitions:
            return
        stored = await asyncio.to_thread(projection.load_offsets, self.engine)
        ends = await self.consumer.end_offsets(partitions)
        begins = await self.consumer.beginning_offsets(partitions)
        starts = {tp: max(stored[(tp.topic, tp.partition)] + 1, begins[tp]) if (tp.topic, tp.partition) in stored
                  else begins[tp] for tp in partitions}
        if all(starts[tp] >= ends[tp] for tp in partitions):
            return
        self.consumer.assign(partitions)
        for tp in partitions:
            self.consumer.seek(tp, starts[tp])
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            behind = [tp for tp in partitions if await self.consumer.position(tp) < ends[tp]]
            if not behind:
                return
            if asyncio.get_running_loop().time() > deadline:  # the rest comes with the other topics
                log.warning("bootstrap topics not read to their end in time", behind=[str(tp) for tp in behind])
                return
            records = await self.consumer.getmany(*behind, timeout_ms=500, max_records=self.batch)
            if records:
                await self._project(records)

    async def _project(self, records) -> None:
        batch: list[projection.Consumed] = []
        skipped: dict[tuple[str, int], int] = {}  # last undecodable offset per partition
        for tp, messages in records.items():
            thing = self.topics[tp.topic]
            for message in messages:
                self.positions[(tp.topic, tp.partition)] = message.offset + 1
                try:
                    event = decode(MODELS[thing], message.value)
                    if isinstance(event, ClusterEvent):
                        event = event.root  # a ledger or a merged cluster's redirect
                except DecodeError as exc:
                    # Upstream stages dead-letter what they cannot read; a bad
                    # message written straight to an output topic is skipped here, loudly.
                    REJECTED.labels(thing, exc.reason).inc()
                    log.warning("skipped undecodable message", topic=tp.topic, offset=message.offset, error=str(exc))
                    skipped[(tp.topic, tp.partition)] = message.offset
                    continue
                batch.append(projection.Consumed(tp.topic, tp.partition, message.offset, event))
                CONSUMED.labels(thing).inc()
        # Offsets of skipped messages that no projected message of the batch covers: stored too,
        # or a restart would read (and count) them again, and a partition of nothing but poison
        # would never move its stored position.
        for item in batch:
            if skipped.get((item.topic, item.partition), -1) < item.offset:
                skipped.pop((item.topic, item.partition), None)
        if not batch:
            if skipped:
                await asyncio.to_thread(_store_offsets, self.engine, skipped)
            return
        effects = feedlog.Effects()
        with WRITE_TIME.time():
            new_claims = await asyncio.to_thread(projection.apply, self.engine, batch, self.rules, effects)
        if skipped:  # after the batch's own offsets, which are lower
            await asyncio.to_thread(_store_offsets, self.engine, skipped)
        now = datetime.now(timezone.utc)
        for claim in new_claims:
            FRESHNESS.observe(max(0.0, (now - claim.received_at).total_seconds()))
        for callback in self.on_commit:
            try:
                callback(effects)
            except Exception as exc:  # noqa: BLE001 - a listener's bug must not stop the projection
                log.error("on_commit callback failed", error=repr(exc))
        async with self.changed:
            self.changed.notify_all()

    def progress(self) -> dict[tuple[str, int], tuple[int, int]]:
        """(topic, partition) -> (messages waiting, next offset to project), where the end is known."""
        out = {}
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                position = self.positions.get((tp.topic, tp.partition), 0)
                out[(tp.topic, tp.partition)] = (max(0, highwater - position), position)
        return out

    def _report_lag(self) -> None:
        for (topic, partition), (lag, _) in self.progress().items():
            LAG.labels(self.topics[topic], str(partition)).set(lag)


def _store_offsets(engine, offsets: dict[tuple[str, int], int]) -> None:
    """Record `offsets` as projected; never moves a stored position backwards."""
    with Session(engine) as session, session.begin():
        for (topic, partition), offset in offsets.items():
            row = session.get(ConsumedOffset, (topic, partition))
            if row is None:
                session.add(ConsumedOffset(topic=topic, partition=partition, offset=offset))
            elif row.offset < offset:
                row.offset = offset
