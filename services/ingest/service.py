"""Ingest's core: prepare, de-duplicate, publish, record. Used by the API, feeds and CLI."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from prometheus_client import Counter, Histogram

from schemas import ArticleKey, ArticleReceived, encode, topic_name
from services.common.kafka import make_producer
from services.common.metrics import LATENCY_BUCKETS
from services.ingest.ledger import Ledger
from services.ingest.models import ArticleAccepted, ArticleIn
from services.ingest.prepare import ArticleDraft, prepare_article

RECEIVED = Counter("claimstream_ingest_articles_received_total", "Articles received", ["source"])
PUBLISHED = Counter("claimstream_ingest_articles_published_total", "Article versions published", ["source"])
DUPLICATES = Counter("claimstream_ingest_articles_duplicate_total", "Articles already published", ["source"])
REJECTED = Counter("claimstream_ingest_articles_rejected_total", "Articles refused", ["reason"])
PUBLISH_TIME = Histogram("claimstream_ingest_publish_duration_seconds", "Time to publish a request's articles",
                         buckets=LATENCY_BUCKETS)


class PublishError(RuntimeError):
    """Kafka did not acknowledge; nothing was recorded, so a retry is safe."""


class IngestService:
    def __init__(self, bootstrap_servers: str, namespace: str, ledger: Ledger, client_id: str = "claimstream-ingest"):
        self.producer = make_producer(bootstrap_servers, client_id)
        self.topic = topic_name("articles", namespace)
        self.ledger = ledger
        # One writer at a time: the ledger check and the publish must not interleave
        # for the same article, or two concurrent posts would both publish.
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def ingest(self, articles: list[ArticleIn], source: str) -> list[ArticleAccepted]:
        """All-or-nothing preparation, then publish; raises ValueError before anything is sent."""
        RECEIVED.labels(source).inc(len(articles))
        # Cleaning HTML is CPU work: in a thread, so the event loop keeps answering (health checks,
        # Kafka). EmptyArticleError propagates: nothing is sent.
        drafts = await asyncio.to_thread(lambda: [prepare_article(a) for a in articles])
        return await self.publish_drafts(drafts, source)

    async def publish_drafts(self, drafts: list[ArticleDraft], source: str) -> list[ArticleAccepted]:
        async with self._lock:
            results: list[ArticleAccepted] = []
            pending: list[tuple[ArticleReceived, asyncio.Future]] = []
            seen_in_request: dict[tuple[str, str], int] = {}
            next_version: dict[str, int] = {}
            with PUBLISH_TIME.time():
                for draft in drafts:
                    key = (draft.article_id, draft.content_hash)
                    if key in seen_in_request:
                        results.append(ArticleAccepted(id=draft.article_id, version=seen_in_request[key],
                                                       status="duplicate"))
                        continue
                    version, known = await asyncio.to_thread(self.ledger.lookup, *key)
                    if known:
                        DUPLICATES.labels(source).inc()
                        results.append(ArticleAccepted(id=draft.article_id, version=version, status="duplicate"))
                        continue
                    # Two new bodies for one id in the same request: consecutive versions.
                    version = max(version, next_version.get(draft.article_id, 0))
                    next_version[draft.article_id] = version + 1
                    seen_in_request[key] = version
                    event = _received(draft, version, source)
                    try:
                        future = await self.producer.send(
                            self.topic, key=encode(ArticleKey(article_id=draft.article_id)), value=encode(event))
                    except Exception as exc:  # noqa: BLE001 - e.g. metadata timeout: broker unreachable
                        future = asyncio.get_running_loop().create_future()
                        future.set_exception(exc)
                    pending.append((event, future))
                    results.append(ArticleAccepted(id=draft.article_id, version=version, status="published"))
                acked = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
                ok = [(e.article_id, e.content_hash, e.version) for (e, _), r in zip(pending, acked)
                      if not isinstance(r, BaseException)]
                await asyncio.to_thread(self.ledger.record, ok)
                failures = [r for r in acked if isinstance(r, BaseException)]
                if failures:
                    raise PublishError(f"Kafka did not acknowledge {len(failures)} of {len(pending)} articles: "
                                       f"{failures[0]!r}; retry the request")
                PUBLISHED.labels(source).inc(len(ok))
            return results


def _received(draft: ArticleDraft, version: int, source: str) -> ArticleReceived:
    return ArticleReceived(
        article_id=draft.article_id,
        version=version,
        content_hash=draft.content_hash,
        url=draft.url,
        outlet=draft.outlet,
        title=draft.title,
        body=draft.body,
        credit=draft.credit,
        published_at=draft.published_at,
        received_at=datetime.now(timezone.utc),
        source=source,
        language=draft.language,
        language_confidence=draft.language_confidence,
    )
