"""Poll RSS/Atom feeds and ingest their new entries."""

from __future__ import annotations

import asyncio

import feedparser
import httpx

from services.common.logging import get_logger
from services.ingest.models import ArticleIn
from services.ingest.prepare import EmptyArticleError, article_id_for, prepare_article
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings

log = get_logger("ingest.feeds")


class TooLarge(Exception):
    pass


async def fetch(client: httpx.AsyncClient, url: str, max_bytes: int) -> str:
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(f"{url} is larger than {max_bytes} bytes")
            chunks.append(chunk)
    return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")


def entry_to_article(entry, feed_title: str, page_html: str | None) -> ArticleIn:
    content = entry.get("content") or []
    html = page_html or (content[0].get("value") if content else None) or entry.get("summary") or ""
    return ArticleIn(url=entry.get("link"), outlet=feed_title[:200] or "unknown", title=entry.get("title"),
                     html=html or None, body=None if html else entry.get("title"),
                     published_at=_published(entry))


def _published(entry):
    import datetime as dt
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return dt.datetime(*parsed[:6], tzinfo=dt.timezone.utc) if parsed else None


async def poll_once(service: IngestService, settings: IngestSettings, client: httpx.AsyncClient) -> int:
    """One pass over every feed; returns how many new article versions were published."""
    published = 0
    for feed_url in settings.feeds:
        try:
            parsed = feedparser.parse(await fetch(client, feed_url, settings.feed_max_bytes))
        except (httpx.HTTPError, TooLarge) as exc:
            log.warning("feed fetch failed", feed=feed_url, error=str(exc))
            continue
        title = parsed.feed.get("title") or httpx.URL(feed_url).host
        for entry in parsed.entries:
            link = entry.get("link")
            if not link:
                continue
            try:
                probe = ArticleIn(url=link, outlet=title[:200], body="-")
            except ValueError as exc:  # not an http(s) link: skip this entry only
                log.warning("entry skipped", url=str(link)[:200], error=str(exc))
                continue
            if await asyncio.to_thread(service.ledger.known, article_id_for(probe, "")):
                continue  # already ingested: do not fetch the page again
            try:
                page = await fetch(client, link, settings.feed_max_bytes)
            except (httpx.HTTPError, TooLarge) as exc:
                log.warning("entry fetch failed, using the feed's own text", url=link, error=str(exc))
                page = None
            try:
                draft = prepare_article(entry_to_article(entry, title, page))
            except (EmptyArticleError, ValueError) as exc:
                log.warning("entry skipped", url=link, error=str(exc))
                continue
            accepted = await service.publish_drafts([draft], "feed")
            published += sum(a.status == "published" for a in accepted)
    return published


async def poll_forever(service: IngestService, settings: IngestSettings) -> None:
    timeout = httpx.Timeout(settings.feed_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=5,
                                 headers={"User-Agent": "ClaimStream/0.1 (+feed poller)"}) as client:
        while True:
            try:
                count = await poll_once(service, settings, client)
                log.info("feeds polled", feeds=len(settings.feeds), published=count)
            except Exception as exc:  # a broken feed must never stop the poller
                log.exception("feed poll failed", error=str(exc))
            await asyncio.sleep(settings.feed_interval_s)
