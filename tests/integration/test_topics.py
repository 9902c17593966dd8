"""Topic creation against the real broker: every registered topic, with the configured replication."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import TOPICS, topic_name
from services.common.kafka import ensure_topics, wait_for_topics

pytestmark = pytest.mark.integration


async def test_creates_every_registered_topic_once(kafka_bootstrap):
    namespace = f"tt{uuid.uuid4().hex[:8]}"
    created = await ensure_topics(kafka_bootstrap, namespace)
    assert sorted(created) == sorted(topic_name(thing, namespace) for thing in TOPICS)
    assert await ensure_topics(kafka_bootstrap, namespace) == []  # idempotent
    # A just-started broker may describe a just-made topic before it knows its partitions.
    await wait_for_topics(kafka_bootstrap, {topic_name("claims", namespace): TOPICS["claims"].partitions}, timeout=30)
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


async def test_wait_for_topics_returns_once_the_broker_describes_them(kafka_bootstrap):
    namespace = f"tw{uuid.uuid4().hex[:8]}"
    changelog = {f"{namespace}-changelog": (4, {"cleanup.policy": "compact"})}
    await ensure_topics(kafka_bootstrap, namespace, extra=changelog)
    expected = {topic_name(thing, namespace): spec.partitions for thing, spec in TOPICS.items()}
    await wait_for_topics(kafka_bootstrap, expected | {f"{namespace}-changelog": 4}, timeout=30)


async def test_wait_for_topics_names_what_is_missing_or_short(kafka_bootstrap):
    namespace = f"tw{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, namespace)
    claims = topic_name("claims", namespace)
    with pytest.raises(TimeoutError, match=r"never-made.*unknown"):
        await wait_for_topics(kafka_bootstrap, {claims: TOPICS["claims"].partitions, f"{namespace}.never-made": 1},
                              timeout=1)
    with pytest.raises(TimeoutError, match=rf"{claims}.*{TOPICS['claims'].partitions}/99 partitions"):
        await wait_for_topics(kafka_bootstrap, {claims: 99}, timeout=1)
