#!/usr/bin/env python
"""CPU of the query projection alone, on the messages of a real run.

    .venv/bin/python scripts/bench_projection.py NAMESPACE [--batch 500] [--db-url URL] [--profile N]

Reads every message of NAMESPACE's projected topics from the broker (KAFKA_BOOTSTRAP_SERVERS,
default 127.0.0.1:9092; e.g. the namespace a `scripts/bench.py` run left behind), decodes them,
then applies them to a fresh database in batches of --batch, interleaved by topic as the
consumer's fetches interleave them. Prints decode and apply CPU seconds per article; --profile N
prints the N most expensive functions of the apply phase (cProfile; PROFILE_SORT=tottime to sort
by own time instead of cumulative).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import TOPICS, ClusterEvent, decode, topic_name
from services.query import projection
from services.query.consumer import MODELS
from services.query.db import make_engine
from services.query.feedlog import Effects, LiveRules


async def read_all(bootstrap: str, namespace: str) -> list[tuple[str, int, int, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic_name(thing, namespace), p) for thing in MODELS
                      for p in range(TOPICS[thing].partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for tp, messages in (await consumer.getmany(timeout_ms=1000, max_records=500)).items():
                out += [(tp.topic, tp.partition, m.offset, m.value) for m in messages]
        return out
    finally:
        await consumer.stop()


def interleave(records: list[tuple[str, int, int, bytes]], chunk: int = 50) -> list[tuple[str, int, int, bytes]]:
    """Round-robin over partitions in chunks, as a consumer's fetches mix them."""
    by_partition: dict[tuple[str, int], list] = {}
    for record in records:
        by_partition.setdefault(record[:2], []).append(record)
    queues = [sorted(v, key=lambda r: r[2]) for v in by_partition.values()]
    out = []
    while any(queues):
        for queue in queues:
            out += queue[:chunk]
            del queue[:chunk]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("namespace")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db-url", default=None, help="an empty database (default: a fresh SQLite file)")
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    records = interleave(asyncio.run(read_all(bootstrap, args.namespace)))
    things = {topic_name(thing, args.namespace): thing for thing in MODELS}
    cpu0 = time.process_time()
    batch = []
    for topic, partition, offset, value in records:
        event = decode(MODELS[things[topic]], value)
        batch.append(projection.Consumed(topic, partition, offset, event.root if isinstance(event, ClusterEvent)
                                         else event))
    decode_s = time.process_time() - cpu0
    articles = sum(1 for item in batch if things[item.topic] == "articles")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(args.db_url or f"sqlite:///{tmp}/bench.db")
        profiler = cProfile.Profile() if args.profile else None
        cpu0, wall0 = time.process_time(), time.monotonic()
        if profiler:
            profiler.enable()
        for i in range(0, len(batch), args.batch):
            projection.apply(engine, batch[i:i + args.batch], LiveRules(), Effects())
        if profiler:
            profiler.disable()
        apply_s, wall_s = time.process_time() - cpu0, time.monotonic() - wall0
    print(f"messages={len(batch)} articles={articles} batch={args.batch} decode_cpu_s_per_article="
          f"{decode_s / max(1, articles):.4f} apply_cpu_s_per_article={apply_s / max(1, articles):.4f} "
          f"apply_wall_s={wall_s:.2f}")
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(args.profile)


if __name__ == "__main__":
    main()
