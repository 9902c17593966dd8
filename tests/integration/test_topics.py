"""Topic creation against the real broker: every registered topic, with the configured replication."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import TOPICS, topic_name
from services.common.kafka import ensure_topics

pytestmark = pytest.mark.integration


async def test_creates_every_registered_topic_once(kafka_bootstrap):
    namespace = f"tt{uuid.uuid4().hex[:8]}"
    created = await ensure_topics(kafka_bootstrap, namespace)
    assert sorted(created) == sorted(topic_name(thing, namespace) for thing in TOPICS)
    assert await ensure_topics(kafka_bootstrap, namespace) == []  # idempotent
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic_name("claims", namespace)])
        assert len(described[0]["partitions"]) == TOPICS["claims"].partitions
    finally:
        await admin.close()


async def test_replication_factor_comes_from_the_settings(kafka_bootstrap, monkeypatch):
    """One broker cannot hold three copies: the setting reaches the broker, which refuses it clearly."""
    monkeypatch.setenv("KAFKA_REPLICATION_FACTOR", "3")
    with pytest.raises(RuntimeError, match="could not create topic"):
        await ensure_topics(kafka_bootstrap, f"tr{uuid.uuid4().hex[:8]}")
