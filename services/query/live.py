"""Live delivery of the feed log to SSE and WebSocket clients.

One `FeedHub` per process reads each new batch of `feed_events` once, after the projection
commits, and offers every event to every subscriber whose filter accepts it. A subscriber keeps
a bounded queue of references to the shared events (each event is serialised once, for all
clients). Memory per client is bounded:

- a queue holds at most `stream_queue_size` events. A client that falls further behind (a burst,
  a slow link) does not grow it: its queue is emptied and it reads the log from where it is, one
  page at a time, then goes live again;
- a client whose socket accepts nothing for `stream_send_timeout_s` (it does not read) is
  dropped with reason `send_timeout`, and one that has been reading from the log for more than
  `stream_max_lag_s` without catching up is dropped with reason `lagging`;
- the transport's own write buffer is bounded by the server (flow control), and the number of
  clients by `stream_max_clients`.

A `FeedSession` gives one client a gap-free, repeat-free sequence: it subscribes, reads the log
from the resume position (`Last-Event-ID` or `after`) up to the hub's position at that moment,
then follows the queue, skipping any seq it already sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
from prometheus_client import Counter, Gauge
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from services.common.logging import get_logger
from services.query.db import FeedEventRow
from services.query.filters import Matcher

log = get_logger("query.live")

TRANSPORTS = ("sse", "ws")
DROP_REASONS = ("send_timeout", "lagging")
CLIENTS = Gauge("claimstream_query_stream_clients", "Live feed clients connected", ["transport"])
DROPS = Counter("claimstream_query_stream_drops_total", "Live feed clients dropped by the server",
                ["transport", "reason"])
OVERFLOWS = Counter("claimstream_query_stream_overflows_total",
                    "Times a live client's queue was full and it went back to reading the log", ["transport"])
REFUSED = Counter("claimstream_query_stream_refused_total", "Live feed clients refused: too many clients",
                  ["transport"])
SENT = Counter("claimstream_query_stream_events_sent_total", "Live feed events written to clients", ["transport"])
QUEUED = Gauge("claimstream_query_stream_queued_events", "Events waiting in the live clients' queues, all clients")
QUEUE_MAX = Gauge("claimstream_query_stream_queue_max_events", "Longest live client queue")
for _t in TRANSPORTS:
    CLIENTS.labels(_t)
    OVERFLOWS.labels(_t)
    REFUSED.labels(_t)
    SENT.labels(_t)
    for _r in DROP_REASONS:
        DROPS.labels(_t, _r)

PAGE = 500  # events the hub reads from the log at once
CLIENT_PAGE = 100  # events a catching-up client reads at once (bounds its memory)


@dataclass(slots=True, eq=False)
class FeedEvent:
    seq: int
    type: str
    facets: dict
    payload: dict
    _sse: bytes | None = field(default=None, repr=False)
    _ws: str | None = field(default=None, repr=False)

    def sse(self) -> bytes:
        if self._sse is None:
            data = json.dumps(self.payload, ensure_ascii=False, separators=(",", ":"))
            self._sse = f"event: {self.type}\nid: {self.seq}\ndata: {data}\n\n".encode()
        return self._sse

    def ws(self) -> str:
        if self._ws is None:
            self._ws = json.dumps({"seq": self.seq, "type": self.type, "data": self.payload}, ensure_ascii=False,
                                  separators=(",", ":"))
        return self._ws


def read_after(engine: Engine, seq: int, limit: int = PAGE, upto: int | None = None) -> list[FeedEvent]:
    with Session(engine) as session:
        stmt = select(FeedEventRow.seq, FeedEventRow.type, FeedEventRow.facets, FeedEventRow.payload) \
            .where(FeedEventRow.seq > seq)
        if upto is not None:
            stmt = stmt.where(FeedEventRow.seq <= upto)
        return [FeedEvent(row.seq, row.type, row.facets, row.payload)
                for row in session.execute(stmt.order_by(FeedEventRow.seq).limit(limit))]


def max_seq(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.max(FeedEventRow.seq))) or 0


class Subscriber:
    """A client's live queue. `overflowed` means: not live, read the log (the queue is not used)."""

    __slots__ = ("match", "key", "max_queue", "transport", "queue", "ready", "dropped", "drop_reason", "overflowed",
                 "overflowed_at")

    def __init__(self, match: Matcher, max_queue: int, transport: str, key: object = None) -> None:
        self.match = match
        self.key = key if key is not None else object()  # subscribers with equal keys have equal filters
        self.max_queue = max_queue
        self.transport = transport
        self.queue: deque[FeedEvent] = deque()
        self.ready = asyncio.Event()
        self.dropped = asyncio.Event()
        self.drop_reason: str | None = None
        self.overflowed = True  # a new subscriber starts by reading the log
        self.overflowed_at: float | None = None  # when it last fell behind while live

    def offer(self, event: FeedEvent, matched: bool | None = None) -> None:
        if self.overflowed or self.drop_reason is not None:
            return
        if not (self.match(event.type, event.facets, event.payload) if matched is None else matched):
            return
        if len(self.queue) >= self.max_queue:
            self.overflowed = True
            if self.overflowed_at is None:  # lag counts from the first time it fell behind
                self.overflowed_at = time.monotonic()
            self.queue.clear()  # the log has these events; the client reads them from there
            OVERFLOWS.labels(self.transport).inc()
        else:
            self.queue.append(event)
        self.ready.set()

    def go_live(self) -> None:
        """From now on queue new events (call right after reading the hub's position, without awaiting)."""
        self.overflowed = False
        self.queue.clear()

    def drop(self, reason: str) -> None:
        if self.drop_reason is not None:
            return
        self.drop_reason = reason
        self.queue.clear()
        self.dropped.set()
        self.ready.set()
        DROPS.labels(self.transport, reason).inc()


class FeedHub:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.last_seq = 0
        self.ready = asyncio.Event()
        self.subscribers: set[Subscriber] = set()
        self.listeners: list[Callable[[FeedEvent], None]] = []
        self._wake = asyncio.Event()
        # Without a wake-up (no own commit) the log is read again after this long: a safety net, and
        # how a follower replica sees the writer's events.
        self.idle_poll_s = 5.0
        QUEUED.set_function(self.queued_total)
        QUEUE_MAX.set_function(self.queue_max)

    def _queue_lengths(self) -> list[int]:
        # Called by /metrics from a worker thread while the event loop may change the set: retry a copy.
        for _ in range(5):
            try:
                return [len(s.queue) for s in tuple(self.subscribers)]
            except RuntimeError:
                continue
        return []

    def queued_total(self) -> int:
        return sum(self._queue_lengths())

    def queue_max(self) -> int:
        return max(self._queue_lengths(), default=0)

    def notify(self) -> None:
        """Called after each committed projection batch."""
        self._wake.set()

    async def run(self) -> None:
        while not self.ready.is_set():
            try:
                self.last_seq = await asyncio.to_thread(max_seq, self.engine)
                self.ready.set()
            except Exception as exc:  # noqa: BLE001 - the database may be busy at start-up
                log.error("feed hub could not read the log's end; retrying", error=repr(exc))
                await asyncio.sleep(1.0)
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll_s)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._pump()
            except Exception as exc:  # noqa: BLE001 - a locked or failing database must not end the feed
                log.error("feed hub could not read the log; retrying", error=repr(exc))
                await asyncio.sleep(1.0)

    async def _pump(self) -> None:
        while True:
            events = await asyncio.to_thread(read_after, self.engine, self.last_seq)
            subscribers = tuple(self.subscribers)
            for event in events:
                self.last_seq = event.seq
                verdicts: dict[object, bool] = {}  # one filter evaluation per distinct filter
                for subscriber in subscribers:
                    if subscriber.overflowed or subscriber.drop_reason is not None:
                        continue
                    verdict = verdicts.get(subscriber.key)
                    if verdict is None:
                        verdict = verdicts[subscriber.key] = subscriber.match(event.type, event.facets, event.payload)
                    subscriber.offer(event, verdict)
                for listener in self.listeners:
                    try:
                        listener(event)
                    except Exception as exc:  # noqa: BLE001 - one listener's bug must not stop the feed
                        log.error("feed listener failed", error=repr(exc))
            if len(events) < PAGE:
                return

    def subscribe(self, match: Matcher, max_queue: int, transport: str, key: object = None) -> Subscriber:
        subscriber = Subscriber(match, max_queue, transport, key)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        subscriber.queue.clear()


class TooManyClients(Exception):
    pass


class FeedSession:
    """One client's view of the feed: the log from its resume point, then live; `None` items are idle ticks."""

    def __init__(self, hub: FeedHub, match: Matcher, position: int | None, *, transport: str, queue_size: int,
                 max_clients: int, ping_s: float, max_lag_s: float = 120.0, key: object = None) -> None:
        if len(hub.subscribers) >= max_clients:
            REFUSED.labels(transport).inc()
            raise TooManyClients(f"more than {max_clients} live clients")
        self.hub = hub
        # Without a resume point, start at the current end; a seq beyond the end (a rebuilt
        # database numbers its events again) also starts at the end.
        self.position = hub.last_seq if position is None else min(position, hub.last_seq)
        self.transport = transport
        self.queue_size = queue_size
        self.ping_s = ping_s
        self.max_lag_s = max_lag_s
        self.subscriber = hub.subscribe(match, queue_size, transport, key)
        self._closed = False
        CLIENTS.labels(transport).inc()

    @property
    def dropped(self) -> asyncio.Event:
        return self.subscriber.dropped

    @property
    def reason(self) -> str | None:
        return self.subscriber.drop_reason

    def drop(self, reason: str) -> None:
        self.subscriber.drop(reason)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.hub.unsubscribe(self.subscriber)
        CLIENTS.labels(self.transport).dec()

    async def _from_log(self, upto: int) -> AsyncIterator[list[FeedEvent]]:
        subscriber = self.subscriber
        while self.position < upto:
            page = await asyncio.to_thread(read_after, self.hub.engine, self.position, CLIENT_PAGE, upto)
            if not page:
                return
            self.position = page[-1].seq
            matched = [event for event in page if subscriber.match(event.type, event.facets, event.payload)]
            if matched:
                yield matched
            if subscriber.overflowed_at is not None and time.monotonic() - subscriber.overflowed_at > self.max_lag_s:
                subscriber.drop("lagging")
                return

    async def batches(self, most: int = 64) -> AsyncIterator[list[FeedEvent] | None]:
        """Events in seq order, in batches of what is ready (one write each); `None` when idle for ping_s."""
        subscriber = self.subscriber
        while subscriber.drop_reason is None:
            if subscriber.overflowed:
                # Catch up from the log to the hub's position, then take the queue from there on.
                # No await between reading the position and go_live: nothing is broadcast in between.
                target = self.hub.last_seq
                subscriber.go_live()
                async for page in self._from_log(target):
                    yield page
                if not subscriber.overflowed:
                    subscriber.overflowed_at = None
                continue
            if not subscriber.queue:
                subscriber.ready.clear()
                try:
                    await asyncio.wait_for(subscriber.ready.wait(), timeout=self.ping_s)
                except TimeoutError:
                    yield None
                continue
            batch: list[FeedEvent] = []
            while subscriber.queue and len(batch) < most:
                event = subscriber.queue.popleft()
                if event.seq > self.position:  # else already sent from the log
                    self.position = event.seq
                    batch.append(event)
            if batch:
                yield batch


# --------------------------------------------------------------------------------------------------
# Server-sent events


SSE_HELLO = b": claimstream feed\nretry: 2000\n\n"
SSE_PING = b": ping\n\n"


def _sse_error(reason: str, detail: str) -> bytes:
    data = json.dumps({"reason": reason, "detail": detail})
    return f": dropped: {reason}\nevent: error\ndata: {data}\n\n".encode()


DROP_DETAIL = {
    "send_timeout": "the client accepted no data for {timeout:g} s; reconnect with Last-Event-ID to resume",
    "lagging": "the client stayed behind the feed for more than {lag:g} s; reconnect with Last-Event-ID to resume",
}


class FeedSSEResponse(Response):
    """text/event-stream of feed events (`event:` type, `id:` seq, `data:` JSON), closed on a drop."""

    media_type = "text/event-stream"

    def __init__(self, session: FeedSession, send_timeout_s: float) -> None:
        super().__init__(content=None, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        # Streamed: no Content-Length (Response would declare 0 for the empty initial body).
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.session = session
        self.send_timeout_s = send_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = self.session
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})

            async def write(data: bytes) -> None:
                with anyio.fail_after(self.send_timeout_s):
                    await send({"type": "http.response.body", "body": data, "more_body": True})

            async def pump(scope_: anyio.CancelScope) -> None:
                try:
                    await write(SSE_HELLO)
                    async for batch in session.batches():
                        await write(SSE_PING if batch is None else b"".join(event.sse() for event in batch))
                        if batch:
                            SENT.labels("sse").inc(len(batch))
                except TimeoutError:
                    session.drop("send_timeout")
                scope_.cancel()

            async def until_disconnect(scope_: anyio.CancelScope) -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                scope_.cancel()

            async def until_dropped(scope_: anyio.CancelScope) -> None:
                await session.dropped.wait()
                scope_.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(pump, tg.cancel_scope)
                tg.start_soon(until_disconnect, tg.cancel_scope)
                tg.start_soon(until_dropped, tg.cancel_scope)
        finally:
            session.close()
        reason = session.reason
        if reason:
            log.info("live client dropped", transport="sse", reason=reason, last_seq=session.position)
            detail = DROP_DETAIL[reason].format(lag=session.max_lag_s, timeout=self.send_timeout_s)
            # Said if the socket takes it; a client that reads nothing gets the connection closed.
            with anyio.move_on_after(1.0):
                await send({"type": "http.response.body", "body": _sse_error(reason, detail),
                            "more_body": False})


# --------------------------------------------------------------------------------------------------
# WebSocket

WS_SLOW = 1008  # policy violation: the client does not read
WS_BUSY = 1013  # try again later: too many clients


async def serve_websocket(websocket: WebSocket, session: FeedSession, send_timeout_s: float) -> None:
    """Send feed events as JSON text messages until the client leaves or is dropped (close 1008)."""

    async def pump(scope_: anyio.CancelScope) -> None:
        try:
            async for batch in session.batches():
                if batch is None:
                    continue  # idle: the server's WebSocket pings keep the connection alive
                for event in batch:
                    with anyio.fail_after(send_timeout_s):
                        await websocket.send_text(event.ws())
                SENT.labels("ws").inc(len(batch))
        except TimeoutError:
            session.drop("send_timeout")
        except (WebSocketDisconnect, RuntimeError):
            pass
        scope_.cancel()

    async def until_disconnect(scope_: anyio.CancelScope) -> None:
        try:
            while (await websocket.receive())["type"] != "websocket.disconnect":
                pass  # the client has nothing to say; its messages are read and ignored
        except RuntimeError:
            pass
        scope_.cancel()

    async def until_dropped(scope_: anyio.CancelScope) -> None:
        await session.dropped.wait()
        scope_.cancel()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump, tg.cancel_scope)
            tg.start_soon(until_disconnect, tg.cancel_scope)
            tg.start_soon(until_dropped, tg.cancel_scope)
    finally:
        session.close()
    reason = session.reason
    if reason:
        log.info("live client dropped", transport="ws", reason=reason, last_seq=session.position)
        with anyio.move_on_after(1.0):
            try:
                # The close reason is limited to 123 bytes.
                await websocket.close(code=WS_SLOW, reason=f"{reason}: reconnect with after=<last seq received>")
            except (WebSocketDisconnect, RuntimeError):
                pass  # the client went away meanwhile
