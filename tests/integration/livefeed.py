"""Helpers for the live-feed, watchlist and feedback tests.

- `QueryProcess`: a query service of the test's own (own database, own settings) on any namespace,
  and `query_service`, which starts one and stops it when the `with` block ends;
- `produce` and synthetic `claim` / `ledger` events, written straight to the topics the query
  service reads, so a test decides exactly what the projection sees and in which order;
- `read_sse`, `read_topic`, `metric` and a tiny webhook `Receiver`.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

from schemas import (
    ClaimDetected,
    ClaimEnrichment,
    ClusterAppearance,
    ClusterKey,
    ClusterUpdated,
    Entity,
    decode,
    encode,
    topic_name,
)
from services.common.kafka import make_producer
from tests import events as build
from tests.conftest import free_port, start_service, stop_service, wait_for


@dataclass
class QueryProcess:
    namespace: str
    bootstrap: str
    workdir: Path
    name: str
    env_overrides: dict
    db: Path | str = None  # a SQLite file, or a database URL (PostgreSQL)
    port: int = 0
    proc: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        return self.db if isinstance(self.db, str) else f"sqlite:///{self.db}"

    def start(self, db: Path | str | None = None) -> QueryProcess:
        self.db = db or self.db or self.workdir / f"{self.name}.db"
        self.port = free_port()
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "CLAIMSTREAM_NAMESPACE": self.namespace,
               "QUERY_DB_URL": self.db_url, **self.env_overrides}
        self.proc = start_service(self.name, ["-m", "uvicorn", "services.query.main:app", "--port", str(self.port),
                                              "--timeout-graceful-shutdown", "5"], env, self.workdir,
                                  f"{self.url}/healthz")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_service(self.proc)
            self.proc = None


@contextmanager
def query_service(bootstrap: str, namespace: str, workdir: Path, name: str, db: Path | str | None = None,
                  **settings: str) -> Iterator[QueryProcess]:
    """A query service of the test's own with `settings` (QUERY_* variables), stopped when the block ends."""
    query = QueryProcess(namespace=namespace, bootstrap=bootstrap, workdir=workdir, name=name, env_overrides=settings)
    try:
        yield query.start(db)
    finally:
        query.stop()


def produce(bootstrap: str, namespace: str, events: list) -> None:
    """Publish events in order, each to the topic of its type (claims or clusters), keyed by cluster."""

    async def run() -> None:
        producer = make_producer(bootstrap, client_id=f"{namespace}-test")
        await producer.start()
        try:
            for event in events:
                thing = "claims" if isinstance(event, ClaimDetected) else "clusters"
                await producer.send_and_wait(topic_name(thing, namespace),
                                             key=encode(ClusterKey(cluster_id=event.cluster_id)), value=encode(event))
        finally:
            await producer.stop()

    asyncio.run(run())


def now() -> datetime:
    return datetime.now(timezone.utc)


def claim(claim_id: str, cluster_id: str, outlet: str, text: str, *, score: float = 0.8, entities=(),
          claim_type: str | None = None, received_at: datetime | None = None, copy_of: str | None = None,
          model_version: str = "test-model") -> ClaimDetected:
    return build.claim(claim_id, cluster_id, outlet, text, received_at or now(), copy_of=copy_of, claim_score=score,
                       model_version=model_version,
                       entities=[Entity(text=e, label="GPE", canonical=e, start=0, end=len(e)) for e in entities],
                       enrichment=ClaimEnrichment(claim_type=claim_type) if claim_type else None)


def ledger(cluster_id: str, text: str, appearances: list[tuple[str, str, datetime, str | None]]) -> ClusterUpdated:
    """A ledger from (claim_id, outlet, seen_at, copy_of) tuples, with counts as the processors make them."""
    return build.ledger(cluster_id, [ClusterAppearance(claim_id=c, article_id=f"art-{c}", outlet=o, text=text,
                                                       seen_at=t, copy_of=cp) for c, o, t, cp in appearances])


def read_topic(bootstrap: str, topic: str, model, timeout: float = 30) -> list:
    """Every message of a topic from the beginning to its current end, decoded."""

    async def run() -> list:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None)
        await consumer.start()
        out = []
        try:
            partitions = consumer.assignment()
            while not partitions:
                await asyncio.sleep(0.1)
                partitions = consumer.assignment()
            ends = await consumer.end_offsets(list(partitions))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
                if not behind:
                    break
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    out += [decode(model, m.value) for m in messages]
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def metric(base_url: str, name: str, **labels) -> float:
    """One sample from /metrics (0 when absent)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if head == name and not labels:
            return float(value)
        if head.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', head[len(name):]))
            if found == {k: str(v) for k, v in labels.items()}:
                return float(value)
    return 0.0


def read_sse(url: str, params: dict | None = None, headers: dict | None = None, *, stop_at_ping: bool = True,
             want: int | None = None, timeout: float = 60) -> list[dict]:
    """Events of a /claims/stream: until the first keep-alive after the catch-up (`stop_at_ping`,
    needs a short QUERY_STREAM_PING_S) or until `want` events arrived. `timeout` only bounds a failure."""
    events: list[dict] = []
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", url, params=params, headers=headers, timeout=httpx.Timeout(timeout)) as response:
        assert response.status_code == 200, response.read()
        event: dict = {}
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"stream did not finish within {timeout}s; got {events}"
            if line == ": ping":
                if stop_at_ping:
                    return events
            elif line.startswith("event:"):
                event["event"] = line[6:].strip()
            elif line.startswith("id:"):
                event["id"] = int(line[3:].strip())
            elif line.startswith("data:"):
                event["data"] = json.loads(line[5:].strip())
            elif line == "" and "data" in event:
                events.append(event)
                event = {}
                if want is not None and len(events) >= want:
                    return events
    return events


def key_of(event: dict) -> tuple[str, str]:
    """(type, claim id or cluster id) of a received event, for comparing with expectations."""
    kind = event.get("event") or event.get("type")
    data = event["data"]
    return kind, data["claim_id"] if kind in ("claim", "appearance") else data["cluster_id"]


@dataclass
class Receiver:
    """A local webhook receiver: answers the statuses in `script` per delivery id in turn, then 200."""

    script: list[int] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = self.headers.get("X-ClaimStream-Delivery")
                with lock:
                    attempt = sum(1 for r in receiver.requests if r["delivery"] == delivery)
                    status = receiver.script[attempt] if attempt < len(receiver.script) else 200
                    receiver.requests.append({"delivery": delivery, "event": self.headers.get("X-ClaimStream-Event"),
                                              "status": status, "body": json.loads(body)})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def delivered(self) -> list[dict]:
        return [r for r in self.requests if r["status"] == 200]


__all__ = ["QueryProcess", "Receiver", "claim", "key_of", "ledger", "metric", "now", "produce", "query_service",
           "read_sse", "read_topic", "wait_for"]
