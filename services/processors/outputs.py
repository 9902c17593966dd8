"""The processors' own producer: idempotent, acks=all, and the dead-letter path.

faust's producer enables idempotence only inside transactions (exactly_once),
so outputs go through an aiokafka producer made like ingest's.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import mode
from pydantic import BaseModel

from schemas import DeadLetterKey, MessageDeadLettered, encode, topic_name
from services.common.kafka import ResilientProducer, make_producer
from services.common.logging import get_logger
from services.processors.app import app, common, kafka
from services.processors.metrics import DEADLETTERS, MESSAGES_OUT, SEND_RETRIES

log = get_logger("processors.outputs")
PAYLOAD_LIMIT = 64 * 1024


@app.service
class Outputs(mode.Service):
    producer: ResilientProducer | None = None

    async def on_start(self) -> None:
        # No linger: the agents wait for each event's acknowledgements before the next event, so a
        # 5 ms linger was 5 ms of idle per send (matching made two per claim, on one partition:
        # the stream's throughput ceiling). Records queued together still leave in one request.
        producer = ResilientProducer(lambda: make_producer(kafka.bootstrap_servers, f"{app.conf.id}-outputs",
                                                           linger_ms=0),
                                     on_failure=lambda action: SEND_RETRIES.labels(action).inc())
        await producer.start()
        Outputs.producer = producer

    async def on_stop(self) -> None:
        if Outputs.producer is not None:
            await Outputs.producer.stop()


async def send_all(stage: str, thing: str, messages: list[tuple[BaseModel, BaseModel]]) -> None:
    """Send (key, value) pairs to one topic; see send_groups."""
    await send_groups([(stage, thing, messages)])


async def send_groups(groups: list[tuple[str, str, list[tuple[BaseModel, BaseModel]]]]) -> None:
    """Send each (stage, topic thing, [(key, value)]) group in one go, and return only once every
    record is acknowledged: one round trip to the broker for all of them.

    faust acks an event even when the agent raises (the stream's `finally`), and commits it:
    an exception here would lose the event's outputs. So failures are retried, with a new
    producer when the old one is broken, until the broker takes them; a stuck partition then
    shows as lag without commits (the watchdog), never as a silent loss.
    """
    records = [(topic_name(thing, common.namespace), encode(k), encode(v))
               for _, thing, messages in groups for k, v in messages]
    if not records:
        return
    # an agent may get its first event before the service started
    while Outputs.producer is None:  # noqa: ASYNC110 - set once at start-up; an Event would be one more global
        await asyncio.sleep(0.1)
    await Outputs.producer.send_all(records)
    for stage, _, messages in groups:
        MESSAGES_OUT.labels(stage).inc(len(messages))


async def dead_letter(stage: str, source_topic: str, raw: bytes | None, reason: str, error: str,
                      key: bytes | None = None, partition: int | None = None, offset: int | None = None) -> None:
    raw = raw or b""
    letter = MessageDeadLettered(
        source_topic=source_topic, partition=partition, offset=offset, stage=stage, reason=reason,
        error=error[:2000], key=key.decode("utf-8", "replace")[:500] if key else None,
        payload=raw[:PAYLOAD_LIMIT].decode("utf-8", "replace"), payload_size=len(raw),
        failed_at=datetime.now(timezone.utc),
    )
    DEADLETTERS.labels(stage, reason).inc()
    log.warning("dead-lettered", stage=stage, reason=reason, error=error[:200], topic=source_topic, offset=offset)
    await send_all(stage, "deadletter", [(DeadLetterKey(source_topic=source_topic, stage=stage), letter)])
