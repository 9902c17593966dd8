"""Offsets that faust would mark as done without ever delivering them.

faust fills a jump in a partition's offsets (a "gap") as if the skipped records had been
processed; that is meant for compacted topics and transaction markers, and the input topics
here have neither. After a rebalance, though, faust's fetch loop can still be iterating
records fetched before it sought back to the committed offset: the first stale record then
looks like a jump past the committed offset, and the gap marks the records in between (never
processed) as done, so the next commit skips them. Chaos runs that scaled workers 1 -> 2 -> 1
lost whole articles this way, with every input offset committed.

The stale records come from a fetch that was already waiting when the rebalance began: faust
checks the consumer generation only after the fetch returns, so records read from the old
position pass as the new generation's; and faust resumes the flow before it seeks, so a fetch
made in between is still handed out after the seek. `fresh_records` drops the result of a fetch
during which the generation changed or the consumer sought, `fresh_getmany` stops handing out a
fetch once a seek happens; the next fetch reads from the new position.

faust's `_new_offset` also lets a commit pass one record that was never acked: it refuses a
hole at the head of the acked offsets only when it is longer than one record (`min(acked) -
committed > 1`, while the committed offset is itself the next record to read). With record C
unacked and C+1... acked it commits past C, and C is gone unless this worker still processes it.
`commit_only_contiguous` refuses that commit too; the partition then waits for C's ack or, if C
never comes, for the watchdog's restart, which replays from C.

A stream also acks the records it skips because they belong to an earlier consumer generation
(fetched before a rebalance) or came while the flow was paused: faust counts them as processed,
so the new generation's next commit can pass records it has only just been handed again, and a
second rebalance or a kill before it processes them loses them. `ack_current_generation` does
not record such acks (the records are replayed from the committed offset and processed then).

`refuse_gap` stays as the safety net: for the pipeline's topics nothing is marked, the stale
record is not delivered, and the worker stops with exit code 1 for its supervisor to start a
fresh one, which resumes from the committed offset (at-least-once).
"""

from __future__ import annotations

from faust.transport import consumer as faust_consumer

from schemas import TOPICS, topic_name
from services.common.logging import get_logger
from services.processors import lag
from services.processors.app import common
from services.processors.metrics import HEAD_GAPS, SKIPPED_OFFSETS, STALE_ACKS, STALE_FETCHES

log = get_logger("processors.gaps")
INPUT_TOPICS = frozenset(topic_name(thing, common.namespace) for thing in TOPICS)
_faust_add_gap = faust_consumer.Consumer._add_gap
_faust_wait_next_records = faust_consumer.Consumer._wait_next_records
_faust_perform_seek = faust_consumer.Consumer.perform_seek
_faust_getmany = faust_consumer.Consumer.getmany
_faust_new_offset = faust_consumer.Consumer._new_offset
_faust_ack = faust_consumer.Consumer.ack


class RecordsSkipped(RuntimeError):
    """A partition's delivery jumped past records that were never processed."""


async def refuse_gap(consumer, tp, offset_from: int, offset_to: int) -> None:
    if tp.topic not in INPUT_TOPICS:
        return await _faust_add_gap(consumer, tp, offset_from, offset_to)
    SKIPPED_OFFSETS.labels(tp.topic).inc(offset_to - offset_from + 1)
    log.error("delivery jumped past unprocessed records; stopping the worker to replay them",
              partition=f"{tp.topic}[{tp.partition}]", skipped=f"{offset_from}..{offset_to}",
              committed=consumer._committed_offset[tp])
    error = RecordsSkipped(f"{tp.topic}[{tp.partition}] jumped past {offset_from}..{offset_to}")
    await lag.stop_for_restart(error)
    raise error  # ends the fetch loop before the stale record is delivered


async def fresh_records(consumer, timeout: float):
    generation, seeks = consumer.app.consumer_generation_id, getattr(consumer, "_claimstream_seeks", 0)
    records, active = await _faust_wait_next_records(consumer, timeout)
    if records and (consumer.app.consumer_generation_id != generation
                    or getattr(consumer, "_claimstream_seeks", 0) != seeks):
        STALE_FETCHES.inc()
        log.info("dropped a fetch from before a rebalance or seek",
                 records=sum(len(batch) for batch in records.values()))
        return None, active
    return records, active


async def fresh_getmany(consumer, timeout: float):
    """faust's getmany, ended as soon as a seek happens while its records are being handed out.

    faust resumes the flow before it seeks back to the committed offsets, so a fetch made in
    between is read from the old position and would still be iterated after the seek."""
    seeks = getattr(consumer, "_claimstream_seeks", 0)
    async for tp, message in _faust_getmany(consumer, timeout):
        if getattr(consumer, "_claimstream_seeks", 0) != seeks:
            STALE_FETCHES.inc()
            log.info("ended a fetch that a seek made stale")
            break
        yield tp, message


async def counted_seek(consumer) -> None:
    consumer._claimstream_seeks = getattr(consumer, "_claimstream_seeks", 0) + 1
    await _faust_perform_seek(consumer)


def commit_only_contiguous(consumer, tp):
    """faust's next offset to commit for `tp`, or None while the committed record itself is unacked.

    `_committed_offset` is the next record to read (what Kafka stores), so the acked offsets may
    only be committed when they start at it."""
    acked = consumer._acked[tp]
    committed = consumer._committed_offset[tp]
    if tp.topic in INPUT_TOPICS and acked and committed is not None and min(acked) > committed:
        if getattr(consumer, "_claimstream_head_gap", {}).get(tp) != committed:  # once per position
            consumer._claimstream_head_gap = {**getattr(consumer, "_claimstream_head_gap", {}), tp: committed}
            HEAD_GAPS.labels(tp.topic).inc()
            log.warning("not committing past an unacked record", partition=f"{tp.topic}[{tp.partition}]",
                        committed=committed, first_acked=min(acked))
        return None
    return _faust_new_offset(consumer, tp)


def ack_current_generation(consumer, message) -> bool:
    """faust's ack, except that an input record of an earlier generation is never marked done."""
    if message.topic in INPUT_TOPICS and message.generation_id != consumer.app.consumer_generation_id:
        message.acked = True  # as faust does, so the record is not acked twice ...
        consumer._unacked_messages.discard(message)  # ... nor waited for, but its offset is not recorded
        STALE_ACKS.labels(message.topic).inc()
        return False
    return _faust_ack(consumer, message)


def install() -> None:
    # Replacing faust's methods is the point of this module (see its docstring); mypy rightly
    # objects to assigning to methods, so each line says it is meant.
    Consumer = faust_consumer.Consumer
    Consumer.ack = ack_current_generation  # type: ignore[method-assign,assignment]  # deliberate patch
    Consumer._new_offset = commit_only_contiguous  # type: ignore[method-assign,assignment]  # deliberate patch
    Consumer._wait_next_records = fresh_records  # type: ignore[method-assign,assignment]  # deliberate patch
    Consumer.getmany = fresh_getmany  # type: ignore[method-assign,assignment]  # deliberate patch
    Consumer.perform_seek = counted_seek  # type: ignore[method-assign,assignment]  # deliberate patch
    Consumer._add_gap = refuse_gap  # type: ignore[method-assign,assignment]  # deliberate patch
