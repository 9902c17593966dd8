"""Consumer lag of the processors' consumer group, as the broker sees it.

A background service of the worker asks the broker every few seconds for the
group's committed offsets (admin OffsetFetch) and for the end offsets of every
topic an agent of the app reads, and publishes

    claimstream_processor_consumer_lag_messages{topic,partition}     end offset - committed offset
    claimstream_processor_consumer_committed_offset{topic,partition}  the committed offset itself

(`topic` is the topic thing, e.g. `articles`, not the namespaced name). Measuring from
committed offsets rather than from the worker's in-memory positions means the
number also covers what a crashed or rebalancing worker has not finished: it
is what a restart would have to process again. A partition without a commit
yet counts from the start of its log, where `auto_offset_reset=earliest`
starts. faust commits every `broker_commit_interval` (1 s here, see app.py), so a
busy partition shows a small lag even when the worker keeps up.

Every worker of the group reports the same numbers: aggregate with
`max by (topic, partition)`, never `sum`, across processor instances.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping

import mode
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import TOPICS, topic_name
from services.common.liveness import ProgressWatch, Stall
from services.common.logging import get_logger
from services.processors.app import app, common, kafka, settings
from services.processors.metrics import (
    CONSUMER_COMMITTED,
    CONSUMER_LAG,
    LAG_POLL_ERRORS,
    STALLED_PARTITIONS,
    WATCHDOG_TRIPS,
)

log = get_logger("processors.lag")
# Set once by the watchdog; /healthz answers 503 from then on.
TRIPPED: list[Stall[tuple[str, int]]] = []


async def stop_for_restart(error: BaseException) -> None:
    """Stop the worker with exit code 1, for its supervisor to start a fresh one.

    A clean stop leaves the group at once; if the stuck part keeps the stop from finishing,
    the timer (a thread: it fires even with the loop blocked) ends the process anyway.
    """
    backstop = threading.Timer(settings.watchdog_exit_after_s, os._exit, args=(1,))
    backstop.daemon = True
    backstop.start()
    await app.crash(error)


class LagSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROCESSORS_LAG_", extra="ignore")

    interval_s: float = Field(5.0, gt=0, description="Seconds between two reads of the group's offsets")
    timeout_s: float = Field(10.0, gt=0, description="Longest wait for one read")


def partition_positions(end: Mapping[TopicPartition, int], begin: Mapping[TopicPartition, int],
                        committed: Mapping[TopicPartition, int]) -> dict[TopicPartition, tuple[int, int]]:
    """(lag, position) per partition of `end`.

    The position is the committed offset; without one (or -1), or when retention
    has already deleted the committed offset, it is the start of the log.
    """
    out = {}
    for tp, end_offset in end.items():
        start = begin.get(tp, 0)
        position = committed.get(tp, -1)
        position = start if position is None or position < start else position
        out[tp] = (max(0, end_offset - position), position)
    return out


@app.service
class ConsumerLagMonitor(mode.Service):
    """Publishes the lag gauges; a failed read counts an error, keeps the last values and retries."""

    settings = LagSettings()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.group_id = app.conf.id
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        # The watchdog reads the same committed offsets, restricted to this worker's partitions.
        self.watch: ProgressWatch[tuple[str, int]] = ProgressWatch(settings.watchdog_stall_s)

    async def on_stop(self) -> None:
        await self._close_clients()

    async def _close_clients(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        for client in (consumer, admin):
            if client is None:
                continue
            try:
                await client.stop() if isinstance(client, AIOKafkaConsumer) else await client.close()
            except Exception:  # noqa: BLE001 - closing a broken client
                pass

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            client_id = f"{self.group_id}-lag"
            self._admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, client_id=client_id,
                                              request_timeout_ms=int(self.settings.timeout_s * 1000))
            await self._admin.start()
            # No group and no subscription: only used for ListOffsets, never consumes.
            self._consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, client_id=client_id,
                                              group_id=None, enable_auto_commit=False,
                                              request_timeout_ms=int(self.settings.timeout_s * 1000))
            await self._consumer.start()
        return self._admin, self._consumer

    @staticmethod
    def consumed_topics() -> dict[str, str]:
        """Topic name -> label for every topic an agent reads (the agents register at import)."""
        things = {topic_name(thing, common.namespace): thing for thing in TOPICS}
        names = {name for agent in app.agents.values() for name in getattr(agent.channel, "topics", ())}
        return {name: things.get(name, name) for name in sorted(names)}

    async def poll_once(self) -> dict[TopicPartition, tuple[int, int]]:
        topics = self.consumed_topics()
        if not topics:
            return {}
        admin, consumer = await self._clients()
        partitions = []
        for described in await admin.describe_topics(list(topics)):
            if described.get("error_code"):
                continue  # not created yet: no lag to report
            partitions += [TopicPartition(described["topic"], p["partition"]) for p in described["partitions"]]
        if not partitions:
            return {}
        committed = await admin.list_consumer_group_offsets(self.group_id, partitions=partitions)
        end = await consumer.end_offsets(partitions)
        begin = await consumer.beginning_offsets(partitions)
        positions = partition_positions(end, begin, {tp: meta.offset for tp, meta in committed.items()})
        for tp, (lag, position) in positions.items():
            labels = (topics[tp.topic], str(tp.partition))
            CONSUMER_LAG.labels(*labels).set(lag)
            CONSUMER_COMMITTED.labels(*labels).set(position)
        await self.check_progress(positions)
        return positions

    def assigned(self) -> set[tuple[str, int]]:
        try:
            return {(tp.topic, tp.partition) for tp in app.consumer.assignment()}
        except Exception:  # noqa: BLE001 - no consumer yet (starting) means nothing assigned
            return set()

    async def check_progress(self, positions: Mapping[TopicPartition, tuple[int, int]]) -> None:
        """Stop the worker when one of its partitions has lag and no new commit for `watchdog_stall_s`.

        A consumer that stopped fetching or an agent stuck on one message would otherwise hold
        its partitions forever: faust only logs. Stopping makes the worker leave the group (its
        partitions move to the others at once) and its supervisor (compose, k8s, scripts/stack.sh)
        start a fresh one, which resumes from the last commit: at-least-once, nothing lost.
        """
        if settings.watchdog_stall_s <= 0:
            return
        mine = self.assigned()
        stalls = self.watch.observe({(tp.topic, tp.partition): value for tp, value in positions.items()
                                     if (tp.topic, tp.partition) in mine})
        if getattr(app, "rebalancing", False):  # joining, seeking, restoring tables: give it longer
            stalls = [stall for stall in stalls if stall.stalled_s >= settings.watchdog_rebalance_stall_s]
        STALLED_PARTITIONS.set(len(stalls))
        if not stalls or TRIPPED:
            return
        TRIPPED.extend(stalls)
        WATCHDOG_TRIPS.inc()
        log.error("watchdog: partitions with lag and no commit; stopping the worker for a restart",
                  stalled=[f"{topic}[{partition}] lag={stall.lag} at {stall.position} for {stall.stalled_s:.0f}s"
                           for stall in stalls for topic, partition in [stall.key]])
        await stop_for_restart(RuntimeError(f"watchdog: {len(stalls)} partition(s) without progress"))

    async def poll_failed(self, exc: BaseException) -> None:
        LAG_POLL_ERRORS.inc()
        log.warning("could not read the consumer group's offsets", error=repr(exc))
        await self._close_clients()
        # The broker is away, not this worker stuck: the clocks start again when it answers.
        # Otherwise the first reading after an outage longer than the stall time finds the
        # position from before it and stops the worker at once (chaos broker_restart).
        self.watch.reset()

    @mode.Service.task
    async def _poll_forever(self) -> None:
        while not self.should_stop:
            try:
                await asyncio.wait_for(self.poll_once(), timeout=self.settings.timeout_s * 3)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - metrics must never take the worker down
                await self.poll_failed(exc)
            await self.sleep(self.settings.interval_s)
