"""Ingest's core: prepare, de-duplicate, publish, record. Used by the API, feeds and CLI."""

from __future__ import annotations

import asyncio
from typing import get_args

from prometheus_client import Counter, Histogram

from schemas import ArticleKey, ArticleReceived, encode, topic_name
from services.common.kafka import ResilientProducer, make_producer
from services.common.metrics import LATENCY_BUCKETS, init_labels
from services.ingest.ledger import Ledger
from services.ingest.models import ArticleAccepted, ArticleIn
from services.ingest.prepare import ArticleDraft, article_received, language_warnings, prepare_all
from services.nlp.furniture import OutletMemory

RECEIVED = Counter("claimstream_ingest_articles_received_total", "Articles received", ["source"])
PUBLISHED = Counter("claimstream_ingest_articles_published_total", "Article versions published", ["source"])
DUPLICATES = Counter("claimstream_ingest_articles_duplicate_total", "Articles already published", ["source"])
REJECTED = Counter("claimstream_ingest_articles_rejected_total", "Articles refused", ["reason"])
PUBLISH_TIME = Histogram("claimstream_ingest_publish_duration_seconds", "Time to publish a request's articles",
                         buckets=LATENCY_BUCKETS)
PUBLISH_RETRIES = Counter("claimstream_ingest_publish_retries_total",
                          "Failed publish attempts, by what was done next (retry, recreate the producer, raise)",
                          ["action"])
# Every known label value exists at 0 from the first scrape: a dashboard shows 0, not "No data".
SOURCES = get_args(ArticleReceived.model_fields["source"].annotation)  # http, batch, feed, file
# The reasons services/ingest/routers/articles.py counts; add a new one here too (a unit test checks).
REJECT_REASONS = ("too_large", "empty", "invalid")
for _counter in (RECEIVED, PUBLISHED, DUPLICATES):
    init_labels(_counter, SOURCES)
init_labels(REJECTED, REJECT_REASONS)
init_labels(PUBLISH_RETRIES, ("retry", "recreate", "raise"))


class PublishError(RuntimeError):
    """Kafka did not acknowledge; nothing was recorded, so a retry is safe."""


class IngestService:
    def __init__(self, bootstrap_servers: str, namespace: str, ledger: Ledger, client_id: str = "claimstream-ingest",
                 publish_deadline_s: float = 20.0):
        self.producer = ResilientProducer(lambda: make_producer(bootstrap_servers, client_id),
                                          on_failure=lambda action: PUBLISH_RETRIES.labels(action).inc())
        # Under the API's 30 s request timeout, so a broker outage answers 503 (retry), not 504.
        self.publish_deadline_s = publish_deadline_s
        self.topic = topic_name("articles", namespace)
        self.ledger = ledger
        # One writer at a time: the ledger check and the publish must not interleave
        # for the same article, or two concurrent posts would both publish.
        self._lock = asyncio.Lock()
        # Lines each outlet printed in earlier articles: repeated lines are page furniture.
        self.memory = OutletMemory()

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def ingest(self, articles: list[ArticleIn], source: str) -> list[ArticleAccepted]:
        """All-or-nothing preparation, then publish; raises ValueError before anything is sent."""
        RECEIVED.labels(source).inc(len(articles))
        # Cleaning HTML is CPU work: in a thread, so the event loop keeps answering (health checks,
        # Kafka). ArticleErrors (every item that has nothing left once cleaned) propagates: nothing is sent.
        drafts = await asyncio.to_thread(prepare_all, articles, self.memory)
        return await self.publish_drafts(drafts, source)

    async def publish_drafts(self, drafts: list[ArticleDraft], source: str) -> list[ArticleAccepted]:
        async with self._lock:
            results: list[ArticleAccepted] = []
            pending: list[ArticleReceived] = []
            seen_in_request: dict[tuple[str, str], int] = {}
            next_version: dict[str, int] = {}
            with PUBLISH_TIME.time():
                for draft in drafts:
                    key = (draft.article_id, draft.content_hash)
                    if key in seen_in_request:
                        results.append(ArticleAccepted(id=draft.article_id, version=seen_in_request[key],
                                                       status="duplicate", **_notes(draft)))
                        continue
                    version, known = await asyncio.to_thread(self.ledger.lookup, *key)
                    if known:
                        DUPLICATES.labels(source).inc()
                        results.append(ArticleAccepted(id=draft.article_id, version=version, status="duplicate",
                                                       **_notes(draft)))
                        continue
                    # Two new bodies for one id in the same request: consecutive versions.
                    version = max(version, next_version.get(draft.article_id, 0))
                    next_version[draft.article_id] = version + 1
                    seen_in_request[key] = version
                    event = article_received(draft, version, source)
                    pending.append(event)
                    results.append(ArticleAccepted(id=draft.article_id, version=version, status="published",
                                                   **_notes(draft)))
                records = [(self.topic, encode(ArticleKey(article_id=e.article_id)), encode(e)) for e in pending]
                try:
                    # Retries and replaces a broken producer within the deadline (e.g. a broker restart).
                    await self.producer.send_all(records, deadline_s=self.publish_deadline_s)
                except Exception as exc:
                    # Nothing is recorded: a retry publishes the same versions again, with the same ids.
                    raise PublishError(f"Kafka did not acknowledge the {len(pending)} articles: {exc!r}; "
                                       "retry the request") from exc
                await asyncio.to_thread(self.ledger.record, [(e.article_id, e.content_hash, e.version)
                                                             for e in pending])
                PUBLISHED.labels(source).inc(len(pending))
            return results


def _notes(draft: ArticleDraft) -> dict:
    return {"language": draft.language, "warnings": language_warnings(draft.language)}
