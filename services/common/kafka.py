"""Kafka plumbing shared by the services: producer, topic creation, readiness.

aiokafka's defaults differ from the Java client's (acks=1, no idempotence,
auto_offset_reset=latest); every setting that matters is set explicitly here.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from schemas.topics import TOPICS, topic_name


def make_producer(bootstrap_servers: str, client_id: str, **overrides) -> AIOKafkaProducer:
    options = dict(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=None,
        request_timeout_ms=30_000,
        max_request_size=4 * 1024 * 1024,
    )
    options.update(overrides)
    return AIOKafkaProducer(**options)


async def ensure_topics(bootstrap_servers: str, namespace: str, replication_factor: int | None = None) -> list[str]:
    """Create every registered topic that does not exist yet; returns those created.

    The replication factor defaults to KAFKA_REPLICATION_FACTOR."""
    if replication_factor is None:
        from services.common.settings import KafkaSettings

        replication_factor = KafkaSettings().replication_factor
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="claimstream-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # With three or more copies, acks=all waits for two: one broker may be down, none lost.
        durability = {"min.insync.replicas": "2"} if replication_factor >= 3 else {}
        wanted = [
            NewTopic(topic_name(thing, namespace), spec.partitions, replication_factor,
                     topic_configs=durability | spec.config)
            for thing, spec in TOPICS.items()
            if topic_name(thing, namespace) not in existing
        ]
        if not wanted:
            return []
        try:
            response = await admin.create_topics(wanted)
        except TopicAlreadyExistsError:
            return []
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"could not create topic {name}: error code {code}")
        return created
    finally:
        await admin.close()


async def wait_for_broker(bootstrap_servers: str, timeout: float = 60.0) -> None:
    """Return once the broker answers a metadata request, else raise TimeoutError."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
        finally:
            try:
                await admin.close()
            except Exception:  # closing a client that never connected
                pass
        await asyncio.sleep(0.5)
    raise TimeoutError(f"Kafka at {bootstrap_servers} did not answer within {timeout:.0f}s: {last}")
