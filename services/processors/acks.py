"""Offsets are committed only for events whose outputs were sent.

faust acks an event in its stream's `finally`, and `take_events` acks the whole batch there,
even when the agent was cancelled half-way (a worker stopping for a scale-down or a deploy).
The stop then commits those offsets, and the outputs that were still being produced are lost
(seen in the chaos run: one whole article gone after a graceful scale-down).

`held(events)` takes one more reference on each event's message for the duration of the
block and gives it back only when the block completes. faust's own ack then drops the count
to one instead of zero, so the offset is not marked safe to commit; the next owner of the
partition replays the event, which is harmless (deterministic ids, idempotent writes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from services.common.logging import get_logger

log = get_logger("processors.acks")


@contextmanager
def held(events: Sequence) -> Iterator[None]:
    for event in events:
        event.message.incref()
    try:
        yield
    except BaseException as exc:  # CancelledError included: the references stay taken
        log.warning("events left unacked for a replay", error=repr(exc),
                    offsets=[f"{e.message.topic}[{e.message.partition}]@{e.message.offset}" for e in events])
        raise
    for event in events:
        event.ack()
