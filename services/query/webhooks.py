"""Watchlist webhooks: matching feed events are POSTed as JSON, off the projection's path.

The hub hands every new event to `WebhookDispatcher.on_event`, which only matches it against the
watchlists that have a webhook and puts (watchlist, event) pairs on a bounded queue; when the
queue is full the delivery is dropped and counted. `webhook_concurrency` workers send them, each
with up to `webhook_max_attempts` attempts and exponential backoff (tenacity) on timeouts,
connection errors, 408, 429 and 5xx; other answers are final.

Each POST carries `X-ClaimStream-Delivery` (`<watchlist id>-<seq>`, the same on every retry, so
a receiver can deduplicate), `X-ClaimStream-Event` (the event type) and `X-ClaimStream-Signature`:
`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + the raw body, keyed with the watchlist's
webhook_secret>` (see `sign`; a receiver recomputes it, compares in constant time and refuses
an old `t`). The body is
`{"delivery_id", "watchlist": {"id", "name"}, "event": {"seq", "type", "data"}}`.

Unless QUERY_WEBHOOK_ALLOW_PRIVATE is set, a webhook may only reach public addresses: the host
is resolved at connect time and every address must be public, IPv4 inside IPv6 included, and
the connection goes to one of the checked addresses. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.common.addresses import AddressRefused, PublicOnlyTransport, address_refusal
from services.common.logging import get_logger
from services.query.db import WatchlistRow
from services.query.filters import FeedFilter, Matcher, matcher
from services.query.live import FeedEvent
from services.query.settings import QuerySettings

log = get_logger("query.webhooks")

FAILURE_REASONS = ("status", "timeout", "connection", "refused", "queue_full")
DELIVERIES = Counter("claimstream_query_webhook_deliveries_total", "Webhook deliveries the receiver accepted (2xx)")
FAILURES = Counter("claimstream_query_webhook_failures_total",
                   "Failed webhook attempts (status, timeout, connection, refused) and deliveries dropped "
                   "because the queue was full (queue_full)", ["reason"])
GIVEN_UP = Counter("claimstream_query_webhook_given_up_total",
                   "Deliveries abandoned: attempts exhausted or a final answer")
PENDING = Gauge("claimstream_query_webhook_queued_deliveries", "Webhook deliveries waiting for a worker")
for _reason in FAILURE_REASONS:
    FAILURES.labels(_reason)

USER_AGENT = "ClaimStream/0.1 (+watchlist webhook)"


class WebhookRefused(AddressRefused):
    """The webhook's host is not a public address."""


class _Retry(Exception):
    pass


class _Final(Exception):
    pass


def host_refusal(host: str) -> str | None:
    """Checks that need no DNS, for the API: a literal non-public address or a localhost name."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a local name"
    try:
        return address_refusal(host)
    except ValueError:
        return None  # a name: resolved and checked when connecting


@dataclass(frozen=True)
class Target:
    watchlist_id: int
    name: str
    url: str
    match: Matcher
    secret: str | None = None


SIGNATURE_HEADER = "X-ClaimStream-Signature"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, body: bytes, header: str, tolerance_s: float = 300.0, now: float | None = None) -> bool:
    """What a receiver does (also in the README): recompute, compare in constant time, refuse an old stamp."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, t), f"t={t},v1={parts.get('v1', '')}")


def _load_targets(engine: Engine) -> list[Target]:
    with Session(engine) as session:
        rows = session.execute(select(WatchlistRow.id, WatchlistRow.name, WatchlistRow.filters,
                                      WatchlistRow.webhook_url, WatchlistRow.webhook_secret)
                               .where(WatchlistRow.webhook_url.is_not(None))).all()
    return [Target(r.id, r.name, r.webhook_url, matcher([FeedFilter.model_validate(r.filters)]), r.webhook_secret)
            for r in rows]


class WebhookDispatcher:
    def __init__(self, engine: Engine, settings: QuerySettings) -> None:
        self.engine = engine
        self.settings = settings
        self.queue: asyncio.Queue[tuple[Target, FeedEvent]] = asyncio.Queue(maxsize=settings.webhook_queue_size)
        self.targets: list[Target] = []
        # False on a replica that is not the projection writer: the writer sends every delivery once.
        self.active = True
        PENDING.set_function(self.queue.qsize)

    async def reload(self) -> None:
        """Read the watchlists with a webhook again (after a change through the API)."""
        self.targets = await asyncio.to_thread(_load_targets, self.engine)

    def on_event(self, event: FeedEvent) -> None:
        if not self.targets or not self.active:
            return
        at = event.facets.get("at")
        if at and (datetime.now(timezone.utc) - datetime.fromisoformat(at)).total_seconds() > \
                self.settings.webhook_max_age_s:
            return  # a replay or a rebuild, not news
        for target in self.targets:
            if target.match(event.type, event.facets, event.payload):
                try:
                    self.queue.put_nowait((target, event))
                except asyncio.QueueFull:
                    FAILURES.labels("queue_full").inc()
                    log.warning("webhook queue full; delivery dropped", watchlist=target.watchlist_id, seq=event.seq)

    async def run(self) -> None:
        transport = None if self.settings.webhook_allow_private else PublicOnlyTransport(refused=WebhookRefused)
        async with httpx.AsyncClient(timeout=httpx.Timeout(self.settings.webhook_timeout_s), follow_redirects=False,
                                     trust_env=False, transport=transport,
                                     headers={"User-Agent": USER_AGENT}) as client:
            await asyncio.gather(*(self._worker(client) for _ in range(self.settings.webhook_concurrency)))

    async def _worker(self, client: httpx.AsyncClient) -> None:
        while True:
            target, event = await self.queue.get()
            try:
                await self.deliver(client, target, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug in one delivery must not stop the worker
                log.error("webhook delivery crashed", watchlist=target.watchlist_id, error=repr(exc))
            finally:
                self.queue.task_done()

    async def deliver(self, client: httpx.AsyncClient, target: Target, event: FeedEvent) -> bool:
        delivery_id = f"{target.watchlist_id}-{event.seq}"
        body = json.dumps({"delivery_id": delivery_id, "watchlist": {"id": target.watchlist_id, "name": target.name},
                           "event": {"seq": event.seq, "type": event.type, "data": event.payload}},
                          ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "X-ClaimStream-Delivery": delivery_id,
                   "X-ClaimStream-Event": event.type}
        retrying = AsyncRetrying(stop=stop_after_attempt(self.settings.webhook_max_attempts),
                                 wait=wait_exponential(multiplier=self.settings.webhook_backoff_s, max=30),
                                 retry=retry_if_exception_type(_Retry), reraise=True)
        try:
            async for attempt in retrying:
                with attempt:
                    if target.secret:  # signed per attempt: a retry carries a fresh time stamp
                        headers[SIGNATURE_HEADER] = sign(target.secret, body)
                    await self._attempt(client, target.url, body, headers)
        except (_Retry, _Final) as exc:
            GIVEN_UP.inc()
            log.warning("webhook delivery abandoned", watchlist=target.watchlist_id, seq=event.seq, error=str(exc))
            return False
        DELIVERIES.inc()
        return True

    async def _attempt(self, client: httpx.AsyncClient, url: str, body: bytes, headers: dict) -> None:
        try:
            response = await client.post(url, content=body, headers=headers)
        except WebhookRefused as exc:
            FAILURES.labels("refused").inc()
            raise _Final(str(exc)) from exc
        except httpx.TimeoutException as exc:
            FAILURES.labels("timeout").inc()
            raise _Retry(f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:
            if isinstance(exc.__cause__, WebhookRefused) or isinstance(exc.__context__, WebhookRefused):
                FAILURES.labels("refused").inc()
                raise _Final(str(exc)) from exc
            FAILURES.labels("connection").inc()
            raise _Retry(f"connection: {exc!r}") from exc
        if 200 <= response.status_code < 300:
            return
        FAILURES.labels("status").inc()
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Retry(f"HTTP {response.status_code}")
        raise _Final(f"HTTP {response.status_code}")
