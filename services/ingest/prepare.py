"""From a posted article to a cleaned draft with a stable id: pure functions."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from schemas import ArticleReceived
from services.ingest.models import ArticleIn
from services.nlp.clean import article_key, clean_text, html_to_text
from services.nlp.furniture import OutletMemory
from services.nlp.language import detect_language

# Query parameters that identify a campaign or a click, not a page.
_TRACKING = frozenset({"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "cmpid", "ocid", "ref_src", "igshid"})


class EmptyArticleError(ValueError):
    """Nothing of the article is left after boilerplate removal."""


class ArticleErrors(ValueError):
    """Some articles of a request could not be prepared: (item index, field, message) for each."""

    def __init__(self, errors: list[tuple[int, str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"item {n}: {field}: {msg}" for n, field, msg in errors))


def prepare_all(articles: list[ArticleIn], memory: OutletMemory | None = None) -> list[ArticleDraft]:
    """Every article prepared, or ArticleErrors listing every one that could not be (nothing is lost silently)."""
    drafts, errors = [], []
    for n, article in enumerate(articles):
        try:
            drafts.append(prepare_article(article, memory))
        except EmptyArticleError as exc:
            errors.append((n, "body" if article.body else "html", str(exc)))
    if errors:
        raise ArticleErrors(errors)
    return drafts


def language_warnings(language: str) -> list[str]:
    """What a client should know about an accepted article it may not expect."""
    if language == "en":
        return []
    return [f"language {language!r} detected: the article is published and stored, but only English is scored, "
            "so it will yield no claims"]


@dataclass(frozen=True)
class ArticleDraft:
    article_id: str
    content_hash: str
    url: str | None
    outlet: str
    title: str | None
    body: str
    credit: str | None
    published_at: datetime | None
    language: str = "en"
    language_confidence: float | None = None
    captions: list[str] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)


def article_received(draft: ArticleDraft, version: int, source: str,
                     received_at: datetime | None = None) -> ArticleReceived:
    """The event ingest publishes for a prepared article (also what the offline runs build)."""
    return ArticleReceived(
        article_id=draft.article_id, version=version, content_hash=draft.content_hash, url=draft.url,
        outlet=draft.outlet, title=draft.title, body=draft.body, credit=draft.credit, captions=draft.captions,
        credits=draft.credits, published_at=draft.published_at,
        received_at=received_at or datetime.now(timezone.utc), source=source, language=draft.language,
        language_confidence=draft.language_confidence,
    )


def canonical_url(url: str) -> str:
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k.lower().startswith("utm_") or k.lower() in _TRACKING)]
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(sorted(query)), ""))


def _digest(text: str, size: int = 20) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def article_id_for(article: ArticleIn, body: str) -> str:
    """The client's id, else one from the canonical URL, else from the content."""
    if article.id:
        return article.id
    if article.url:
        return "u-" + _digest(canonical_url(article.url))
    return "h-" + _digest(f"{article.outlet}\n{article.title or ''}\n{body}")


def prepare_article(article: ArticleIn, memory: OutletMemory | None = None) -> ArticleDraft:
    """Clean and identify an article. `memory` is the per-outlet memory of lines seen in earlier
    articles (held by the caller across articles: ingest's service, `claimstream annotate`)."""
    raw = article.body if article.body else html_to_text(article.html or "")
    key = article.id or (canonical_url(article.url) if article.url else article_key(raw))
    cleaned = clean_text(raw, article.title, outlet=article.outlet, memory=memory, article=key)
    body = cleaned.body.strip()
    if not body:
        raise EmptyArticleError("the article body is empty once boilerplate is removed")
    title = article.title or cleaned.title
    language, confidence = detect_language(f"{title or ''}\n{body}")
    return ArticleDraft(
        language=language,
        language_confidence=round(confidence, 4),
        article_id=article_id_for(article, body),
        content_hash=_digest(f"{title or ''}\n{body}", 32),
        url=canonical_url(article.url) if article.url else None,
        outlet=article.outlet,
        title=title,
        body=body,
        credit=cleaned.credit,
        published_at=article.published_at,
        captions=cleaned.captions,
        credits=cleaned.credits,
    )
