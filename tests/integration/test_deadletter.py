"""Poison messages on the input topics go to the dead-letter topic with a reason; the stream goes on."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import MessageDeadLettered, decode, topic_name
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


async def test_poison_is_dead_lettered_with_its_reason_and_the_stream_continues(stack):
    marker = uuid.uuid4().hex[:8]
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        poison = [
            ("articles", b"\x00\x01 not json " + marker.encode()),
            ("articles", json.dumps({"article_id": marker, "surprise": True}).encode()),
            ("candidates", json.dumps({"claim_id": marker}).encode()),
            ("articles", b'{"pad": "' + marker.encode() + b"x" * (3 * 1024 * 1024) + b'"}'),
        ]
        for thing, payload in poison:
            await producer.send_and_wait(topic_name(thing, stack.namespace), key=marker.encode(), value=payload)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(topic_name("deadletter", stack.namespace), bootstrap_servers=stack.bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    letters: list[MessageDeadLettered] = []
    try:
        import asyncio
        import time

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(letters) < len(poison):
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                letters += [m for m in (decode(MessageDeadLettered, msg.value) for msg in messages)
                            if m.key == marker]
            await asyncio.sleep(0)
    finally:
        await consumer.stop()

    reasons = sorted((letter.stage, letter.reason) for letter in letters)
    assert reasons == sorted([("split", "not_json"), ("split", "schema_mismatch"),
                              ("match", "schema_mismatch"), ("split", "oversized")]), reasons
    assert all(letter.error and letter.source_topic.startswith(stack.namespace) for letter in letters)
    assert all(letter.offset is not None and letter.partition is not None for letter in letters)

    # The stream did not stall: a good article still comes through.
    article = {"id": f"after-poison-{marker}", "outlet": "After Poison Post",
               "body": "The central bank raised its main interest rate to 4.5% on Thursday."}
    assert httpx.post(f"{stack.ingest}/articles", json=article, timeout=30).status_code == 202  # noqa: ASYNC210 - the Kafka clients are stopped: nothing else runs on this loop
    wait_for(lambda: httpx.get(f"{stack.query}/claims", params={"outlet": "After Poison Post"}).json()["items"],  # noqa: ASYNC210 - the Kafka clients are stopped: nothing else runs on this loop
             timeout=60, message="a claim after the poison")
