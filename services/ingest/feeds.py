"""Poll RSS/Atom feeds and ingest their new entries.

Fetching is guarded, because feed entries name any URL they like:

- only http and https;
- unless INGEST_FEED_ALLOW_PRIVATE is set, the host must resolve to public unicast addresses
  only: every address getaddrinfo returns is checked (IPv4 and IPv6, IPv4 inside IPv6 included),
  and one private, loopback, link-local, multicast, reserved or unspecified address refuses the URL;
- the check runs before every hop, redirects are followed by hand (at most `MAX_REDIRECTS`),
  and the connection itself goes to an address that was checked at connect time, so a DNS answer
  that changes between the check and the connection (DNS rebinding) gains nothing;
- the body is capped at INGEST_FEED_MAX_BYTES (decompressed), and the whole fetch, every hop
  included, at INGEST_FEED_TIMEOUT_S;
- environment proxies are ignored (trust_env=False): the checked address is the one connected to.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import feedparser
import httpx

from services.common.addresses import AddressRefused, PublicOnlyTransport, Resolver, checked_addresses
from services.common.logging import get_logger
from services.ingest.models import ArticleIn
from services.ingest.prepare import EmptyArticleError, article_id_for, prepare_article
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings

log = get_logger("ingest.feeds")

MAX_REDIRECTS = 5
USER_AGENT = "ClaimStream/0.1 (+feed poller)"




class TooLarge(Exception):
    pass


class FeedRefused(AddressRefused):
    """The URL may not be fetched: scheme, address or too many redirects."""


# --------------------------------------------------------------------------------------------------
# Address checks


async def check_url(url: httpx.URL, allow_private: bool, resolver: Resolver | None = None) -> None:
    if url.scheme not in ("http", "https"):
        raise FeedRefused(f"only http and https URLs are fetched, not {url.scheme or 'no scheme'!r}")
    if not url.host:
        raise FeedRefused("the URL has no host")
    if not allow_private:
        await checked_addresses(url.host, url.port or (443 if url.scheme == "https" else 80), resolver, FeedRefused)


def make_client(settings: IngestSettings, resolver: Resolver | None = None) -> httpx.AsyncClient:
    """The poller's HTTP client: no automatic redirects, no env proxies, connections to checked addresses."""
    transport = None if settings.feed_allow_private else PublicOnlyTransport(resolver, FeedRefused)
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.feed_timeout_s), follow_redirects=False,
                             trust_env=False, transport=transport, headers={"User-Agent": USER_AGENT})


# --------------------------------------------------------------------------------------------------
# Fetching


async def fetch(client: httpx.AsyncClient, url: str, max_bytes: int, *, timeout_s: float,
                allow_private: bool = False, resolver: Resolver | None = None) -> str:
    """GET url, following at most MAX_REDIRECTS redirects, each hop checked; the text, decoded.

    Raises FeedRefused, TooLarge, TimeoutError (the whole fetch) or httpx.HTTPError.
    """
    async with asyncio.timeout(timeout_s):
        current = _url(url)
        for _ in range(MAX_REDIRECTS + 1):
            await check_url(current, allow_private, resolver)
            async with client.stream("GET", current) as response:
                if response.is_redirect:
                    current = _url(response.headers["location"], base=current)
                    continue
                response.raise_for_status()
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"{current} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return _decode(b"".join(chunks), response.encoding)
        raise FeedRefused(f"{url}: more than {MAX_REDIRECTS} redirects")


def _url(text: str, base: httpx.URL | None = None) -> httpx.URL:
    try:
        return base.join(text) if base is not None else httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise FeedRefused(f"not a valid URL: {exc}") from exc


def _decode(data: bytes, encoding: str | None) -> str:
    try:
        return data.decode(encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


FETCH_ERRORS = (httpx.HTTPError, TooLarge, FeedRefused, TimeoutError)


def entry_to_article(entry, feed_title: str, page_html: str | None) -> ArticleIn:
    content = entry.get("content") or []
    html = page_html or (content[0].get("value") if content else None) or entry.get("summary") or ""
    return ArticleIn(url=entry.get("link"), outlet=feed_title[:200] or "unknown", title=entry.get("title"),
                     html=html or None, body=None if html else entry.get("title"),
                     published_at=_published(entry))


def _published(entry):
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)


async def poll_once(service: IngestService, settings: IngestSettings, client: httpx.AsyncClient,
                    resolver: Resolver | None = None) -> int:
    """One pass over every feed; returns how many new article versions were published."""

    async def get(url: str) -> str:
        return await fetch(client, url, settings.feed_max_bytes, timeout_s=settings.feed_timeout_s,
                           allow_private=settings.feed_allow_private, resolver=resolver)

    published = 0
    for feed_url in settings.feeds:
        try:
            parsed = feedparser.parse(await get(feed_url))
        except FETCH_ERRORS as exc:
            log.warning("feed fetch failed", feed=feed_url, error=str(exc) or type(exc).__name__)
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
                page = await get(link)
            except FeedRefused as exc:
                log.warning("entry skipped: its page may not be fetched", url=link, error=str(exc))
                continue  # the feed's own text of a refused link is not ingested either
            except FETCH_ERRORS as exc:
                log.warning("entry fetch failed, using the feed's own text", url=link,
                            error=str(exc) or type(exc).__name__)
                page = None
            try:
                draft = await asyncio.to_thread(prepare_article, entry_to_article(entry, title, page),
                                              getattr(service, "memory", None))
            except (EmptyArticleError, ValueError) as exc:
                log.warning("entry skipped", url=link, error=str(exc))
                continue
            accepted = await service.publish_drafts([draft], "feed")
            published += sum(a.status == "published" for a in accepted)
    return published


async def poll_forever(service: IngestService, settings: IngestSettings) -> None:
    if settings.feed_allow_private:
        log.warning("feed poller may fetch private and local addresses (INGEST_FEED_ALLOW_PRIVATE)")
    async with make_client(settings) as client:
        while True:
            try:
                count = await poll_once(service, settings, client)
                log.info("feeds polled", feeds=len(settings.feeds), published=count)
            except Exception as exc:  # a broken feed must never stop the poller
                log.exception("feed poll failed", error=str(exc))
            await asyncio.sleep(settings.feed_interval_s)
