"""POST /articles and POST /articles/batch."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError

from services.ingest.deps import ServiceDep, SettingsDep, require_api_key
from services.ingest.models import ArticleIn, ArticlesAccepted
from services.ingest.prepare import EmptyArticleError
from services.ingest.service import REJECTED, PublishError

router = APIRouter(prefix="/articles", tags=["articles"], dependencies=[Depends(require_api_key)])

_ERRORS = {
    401: {"description": "API key missing or wrong"},
    413: {"description": "Request or article body too large"},
    422: {"description": "Invalid article; nothing was published"},
    503: {"description": "Kafka unavailable; nothing recorded, retry"},
}


def _check_size(article: ArticleIn, settings, where: str = "") -> None:
    size = len((article.body or article.html or "").encode("utf-8"))
    if size > settings.max_article_bytes:
        REJECTED.labels("too_large").inc()
        raise HTTPException(413, f"{where}article body is {size} bytes; the limit is {settings.max_article_bytes}")


async def _publish(service, articles: list[ArticleIn], source: str) -> ArticlesAccepted:
    try:
        accepted = await service.ingest(articles, source)
    except EmptyArticleError as exc:
        REJECTED.labels("empty").inc()
        raise HTTPException(422, str(exc)) from exc
    except PublishError as exc:
        raise HTTPException(503, str(exc)) from exc
    return ArticlesAccepted(articles=accepted)


@router.post("", status_code=202, response_model=ArticlesAccepted, responses=_ERRORS)
async def post_article(article: ArticleIn, service: ServiceDep, settings: SettingsDep) -> ArticlesAccepted:
    """Accept one article; 202 with its id and version once Kafka has it."""
    _check_size(article, settings)
    return await _publish(service, [article], "http")


@router.post(
    "/batch", status_code=202, response_model=ArticlesAccepted, responses=_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ArticleIn"}}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one ArticleIn JSON per line"}},
    }}},
)
async def post_batch(request: Request, service: ServiceDep, settings: SettingsDep) -> ArticlesAccepted:
    """Accept a JSON list or JSON lines of articles; all are checked before any is published."""
    raw = await request.body()
    items = _parse_batch(raw, request.headers.get("content-type", ""))
    if not items:
        raise HTTPException(422, "the batch is empty")
    if len(items) > settings.max_batch_articles:
        raise HTTPException(413, f"{len(items)} articles in one batch; the limit is {settings.max_batch_articles}")
    articles, errors = [], []
    for n, item in enumerate(items):
        try:
            articles.append(ArticleIn.model_validate(item))
        except ValidationError as exc:
            errors.append({"item": n, "errors": exc.errors(include_url=False, include_context=False,
                                                           include_input=False)})
    if errors:
        REJECTED.labels("invalid").inc(len(errors))
        raise HTTPException(422, {"message": f"{len(errors)} invalid articles; nothing was published",
                                  "items": errors[:50]})
    for n, article in enumerate(articles):
        _check_size(article, settings, f"item {n}: ")
    return await _publish(service, articles, "batch")


def _parse_batch(raw: bytes, content_type: str) -> list:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "the batch is not UTF-8 text") from exc
    stripped = text.lstrip()
    if "json" in content_type and "ndjson" not in content_type and "jsonl" not in content_type \
            or stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"the batch is not valid JSON: {exc}") from exc
        if not isinstance(data, list):
            raise HTTPException(422, "a JSON batch must be a list of articles")
        return data
    items = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise HTTPException(422, f"line {line_no} is not valid JSON: {exc}") from exc
    return items
