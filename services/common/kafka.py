"""Kafka plumbing shared by the services: producer, topic creation, readiness.

aiokafka's defaults differ from the Java client's (acks=1, no idempotence,
auto_offset_reset=latest); every setting that matters is set explicitly here.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    IllegalStateError,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    UnknownProducerId,
)

from schemas.topics import TOPICS, topic_name
from services.common.logging import get_logger

log = get_logger("common.kafka")


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


async def ensure_topics(bootstrap_servers: str, namespace: str, replication_factor: int | None = None,
                        extra: dict[str, tuple[int, dict[str, str]]] | None = None) -> list[str]:
    """Create every registered topic, and each `extra` name -> (partitions, config), that does
    not exist yet; returns those created.

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
        ] + [
            NewTopic(name, partitions, replication_factor, topic_configs=durability | config)
            for name, (partitions, config) in (extra or {}).items()
            if name not in existing
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


async def _poll_cluster(bootstrap_servers: str, probe: Callable[[AIOKafkaAdminClient], Awaitable[object]],
                        timeout: float, pause: float) -> object:
    """Ask `probe` with a fresh admin client until it returns None (done): returns None, or after
    `timeout` what it last returned (what is still missing, or the error that stopped the client)."""
    deadline = time.monotonic() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="claimstream-topics",
                                    request_timeout_ms=5000)
        outcome: object
        try:
            await admin.start()
            outcome = await probe(admin)
        except (KafkaError, OSError) as exc:
            outcome = exc
        finally:
            try:
                await admin.close()
            except Exception:  # noqa: BLE001 - closing a client that never connected
                pass
        if outcome is None or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(pause)


async def wait_for_broker(bootstrap_servers: str, timeout: float = 60.0) -> None:
    """Return once the broker answers a metadata request, else raise TimeoutError."""
    async def answers(admin: AIOKafkaAdminClient) -> None:
        await admin.list_topics()

    last = await _poll_cluster(bootstrap_servers, answers, timeout, pause=0.5)
    if last is not None:
        raise TimeoutError(f"Kafka at {bootstrap_servers} did not answer within {timeout:.0f}s: {last}")


async def wait_for_topics(bootstrap_servers: str, partitions: dict[str, int], timeout: float = 60.0) -> None:
    """Return once the cluster describes each topic with its full partition count and a leader for
    every partition, else raise TimeoutError naming what is missing.

    A KRaft broker applies a new topic to its metadata cache asynchronously; on a loaded machine a
    topic created seconds earlier can still be unknown to the broker a consumer asks. faust's
    consumer then records 0 partitions for that changelog until its next metadata refresh, and every
    table write fails with PartitionsMismatch meanwhile. Any live broker may answer: one broker of
    three being down does not hold a worker back.
    """
    async def missing(admin: AIOKafkaAdminClient) -> dict[str, str] | None:
        # Every topic's metadata, not the named ones: a metadata request naming a topic the
        # broker lacks would auto-create it (auto.create.topics.enable) with default partitions.
        described = {t["topic"]: t for t in await admin.describe_topics()}
        out = {}
        for name, wanted in partitions.items():
            topic = described.get(name)
            if topic is None or topic["error_code"] != 0:
                out[name] = "unknown"
            elif len(topic["partitions"]) != wanted:
                out[name] = f"{len(topic['partitions'])}/{wanted} partitions"
            elif any(p["leader"] < 0 for p in topic["partitions"]):
                out[name] = "no leader"
        return out or None

    last = await _poll_cluster(bootstrap_servers, missing, timeout, pause=0.25)
    if last is not None:
        raise TimeoutError(f"topics not ready on {bootstrap_servers} after {timeout:.0f}s: {last}")


# Errors after which this producer instance cannot go on: its idempotence state (producer id,
# sequence numbers) no longer matches the broker's, typically after a broker restart (aiokafka
# issue #1017: OutOfOrderSequenceNumber on every later send). Only a new producer recovers.
PRODUCER_FATAL = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, InvalidProducerIdMapping,
                  ProducerFenced, ProducerClosed, IllegalStateError)
# Deterministic for the record: sending it again cannot help.
RECORD_FATAL = (MessageSizeTooLargeError, RecordListTooLargeError)


def failure_action(exc: BaseException) -> str:
    """What a send failure calls for: "recreate" the producer, "retry" after a pause, or "raise"."""
    if isinstance(exc, PRODUCER_FATAL):
        return "recreate"
    if isinstance(exc, RECORD_FATAL):
        return "raise"
    if isinstance(exc, KafkaError) and not getattr(exc, "retriable", False) \
            and not isinstance(exc, (KafkaTimeoutError, KafkaConnectionError)):
        # An unknown broker error: a fresh producer (new id, new metadata) is the safe bet.
        return "recreate"
    return "retry"


def backoff_s(attempt: int, base: float = 0.1, cap: float = 5.0) -> float:
    """Exponential pause before attempt `attempt` (1 = the first retry), capped, with ±20 % jitter."""
    return min(cap, base * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


Record = tuple[str, bytes | None, bytes | None]  # topic, key, value


class ResilientProducer:
    """An idempotent producer whose `send_all` returns only once every record is acknowledged.

    Retriable errors are retried with backoff; after an error fatal to the producer instance,
    the instance is replaced (once, under a lock, however many senders saw the error) and the
    whole list is sent again. Resending is safe: ids are deterministic and every consumer's
    writes are idempotent. `deadline_s` bounds the wait (ingest answers a request), otherwise
    it retries until it succeeds or is cancelled (processors: an input offset must never be
    committed without its outputs).
    """

    def __init__(self, factory: Callable[[], AIOKafkaProducer], on_failure: Callable[[str], None] | None = None):
        self._factory = factory
        self._on_failure = on_failure or (lambda action: None)
        self._lock = asyncio.Lock()
        self._producer: AIOKafkaProducer | None = None
        self.generation = 0

    async def start(self) -> None:
        async with self._lock:
            if self._producer is None:
                await self._replace(None)

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer)

    async def _replace(self, old: AIOKafkaProducer | None) -> None:
        if old is not None:
            await _stop_quietly(old)
        producer = self._factory()
        try:
            await producer.start()
        except BaseException:
            await _stop_quietly(producer)
            raise
        self._producer = producer
        self.generation += 1

    async def _recreate(self, failed: AIOKafkaProducer | None) -> None:
        async with self._lock:
            if self._producer is failed:  # another sender may have replaced it already
                log.warning("recreating the Kafka producer", generation=self.generation)
                self._producer = None
                await self._replace(failed)

    async def send_all(self, records: Sequence[Record], deadline_s: float | None = None) -> int:
        """Send every record and wait for all acks; returns the attempts it took."""
        if not records:
            return 0
        give_up = None if deadline_s is None else time.monotonic() + deadline_s
        attempt = 0
        while True:
            attempt += 1
            producer = self._producer
            try:
                if give_up is None:
                    await _send_once(producer, records)
                else:
                    try:
                        await asyncio.wait_for(_send_once(producer, records), max(0.01, give_up - time.monotonic()))
                    except TimeoutError:
                        raise KafkaTimeoutError(f"no acknowledgement within {deadline_s:.0f} s") from None
                return attempt
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                action = failure_action(exc)
                self._on_failure(action)
                if action == "raise" or (give_up is not None and time.monotonic() >= give_up):
                    raise
                log.warning("send failed, sending the batch again", action=action, attempt=attempt,
                            records=len(records), error=repr(exc)[:300])
                pause = backoff_s(attempt)
                if give_up is not None:
                    pause = min(pause, max(0.0, give_up - time.monotonic()))
                await asyncio.sleep(pause)
                if action == "recreate":
                    try:
                        await self._recreate(producer)
                    except Exception as start_exc:  # noqa: BLE001 - broker still down: next attempt retries
                        log.warning("could not start a new producer", error=repr(start_exc)[:300])


async def _send_once(producer: AIOKafkaProducer | None, records: Sequence[Record]) -> None:
    if producer is None:
        raise ProducerClosed("no producer (the last start failed)")
    futures = [await producer.send(topic, key=key, value=value) for topic, key, value in records]
    # Wait for every future, so none is left failing unobserved, then raise the first error.
    results = await asyncio.gather(*futures, return_exceptions=True)
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        raise failed


async def _stop_quietly(producer: AIOKafkaProducer, timeout: float = 10.0) -> None:
    try:
        await asyncio.wait_for(producer.stop(), timeout)
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a broken producer may fail to stop cleanly
        pass
