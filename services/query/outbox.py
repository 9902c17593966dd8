"""Publishes the outbox (alerts, feedback) to Kafka after the rows are committed.

Rows are deleted only once Kafka acknowledged them (acks=all, idempotent producer), so an event
is published at least once, also across a crash between the commit and the send.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Counter
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from schemas import topic_name
from services.common.kafka import make_producer
from services.common.logging import get_logger
from services.query.db import OutboxRow

log = get_logger("query.outbox")

PUBLISHED = Counter("claimstream_query_outbox_published_total", "Events published from the outbox", ["topic"])
for _thing in ("alerts", "feedback"):
    PUBLISHED.labels(_thing)

BATCH = 100


def _pending(engine: Engine, limit: int) -> list[tuple[int, str, str, str]]:
    with Session(engine) as session:
        return [(r.id, r.thing, r.key, r.value) for r in session.execute(
            select(OutboxRow.id, OutboxRow.thing, OutboxRow.key, OutboxRow.value).order_by(OutboxRow.id).limit(limit))]


def _delete(engine: Engine, ids: list[int]) -> None:
    with Session(engine) as session, session.begin():
        session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))


class OutboxPublisher:
    def __init__(self, engine: Engine, bootstrap_servers: str, namespace: str) -> None:
        self.engine = engine
        self.bootstrap_servers = bootstrap_servers
        self.namespace = namespace
        self._wake = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        delay = 1.0
        while True:
            producer = make_producer(self.bootstrap_servers, client_id=f"{self.namespace}-query-outbox")
            try:
                await producer.start()
                delay = 1.0
                while True:
                    self._wake.clear()
                    await self._drain(producer)
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=5.0)
                    except TimeoutError:
                        pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Kafka or the database away: keep the rows, retry
                log.error("outbox publishing failed; retrying", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                await producer.stop()

    async def _drain(self, producer) -> None:
        while True:
            rows = await asyncio.to_thread(_pending, self.engine, BATCH)
            if not rows:
                return
            futures = [await producer.send(topic_name(thing, self.namespace), key=key.encode(), value=value.encode())
                       for _id, thing, key, value in rows]
            await asyncio.gather(*futures)
            await asyncio.to_thread(_delete, self.engine, [row[0] for row in rows])
            for _id, thing, _key, _value in rows:
                PUBLISHED.labels(thing).inc()
            if len(rows) < BATCH:
                return
