"""POST /articles and POST /articles/batch: the write endpoints, all behind the API key."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import ValidationError

from services.common.http import clean_errors, error_responses
from services.ingest.deps import ServiceDep, SettingsDep, require_api_key
from services.ingest.models import ArticleIn, ArticlesAccepted
from services.ingest.prepare import ArticleErrors
from services.ingest.service import REJECTED, PublishError

# Every route of this router writes, so every one needs the key (when one is configured).
router = APIRouter(prefix="/articles", tags=["articles"], dependencies=[Depends(require_api_key)])

_ERRORS = error_responses(
    400, 401, 413, 422, 503, 504,
    e400="The body could not be read as text (e.g. not UTF-8)",
    e413="Request, article body or batch too large; nothing was published",
    e422="Invalid article(s), each error with its item index and field; nothing was published",
    e503="Kafka did not acknowledge; nothing recorded, retry",
)

# Errors listed per item of a batch, at most.
_MAX_ITEM_ERRORS = 50


def _check_size(article: ArticleIn, settings, where: str = "") -> None:
    size = len((article.body or article.html or "").encode("utf-8"))
    if size > settings.max_article_bytes:
        REJECTED.labels("too_large").inc()
        raise HTTPException(413, f"{where}article body is {size} bytes; the limit is {settings.max_article_bytes}")


async def _publish(service, articles: list[ArticleIn], source: str, batch: bool) -> ArticlesAccepted:
    try:
        accepted = await service.ingest(articles, source)
    except ArticleErrors as exc:
        REJECTED.labels("empty").inc(len(exc.errors))
        raise HTTPException(422, [{"loc": ["body", *([n] if batch else []), field], "msg": msg, "type": "empty_article"}
                                  for n, field, msg in exc.errors][:_MAX_ITEM_ERRORS]) from exc
    except PublishError as exc:
        raise HTTPException(503, str(exc)) from exc
    return ArticlesAccepted(articles=accepted)


@router.post("", status_code=202, response_model=ArticlesAccepted, responses=_ERRORS)
async def post_article(article: ArticleIn, service: ServiceDep, settings: SettingsDep) -> ArticlesAccepted:
    """Accept one article; 202 with its id and version once Kafka has it."""
    _check_size(article, settings)
    return await _publish(service, [article], "http", batch=False)


@router.post(
    "/batch", status_code=202, response_model=ArticlesAccepted, responses=_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/ArticleIn"}}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one ArticleIn JSON per line"}},
    }}},
)
async def post_batch(request: Request, service: ServiceDep, settings: SettingsDep) -> ArticlesAccepted:
    """Accept a JSON list or JSON lines of articles; all are checked before any is published.

    All or nothing: if any item is invalid (a field error, or nothing left once boilerplate is removed), the
    whole batch is refused and the 422 lists the problems of every invalid item (up to 50), each with
    `loc` = `["body", <item index>, <field>]`; an item over the size limit gives 413 listed the same way.
    Fix those items and send the batch again: ids are deterministic, so items that were fine come back as
    they would have (no duplicate is published).
    """
    raw = await request.body()
    items = _parse_batch(raw, request.headers.get("content-type", ""))
    if not items:
        raise HTTPException(422, "the batch is empty")
    if len(items) > settings.max_batch_articles:
        raise HTTPException(413, f"{len(items)} articles in one batch; the limit is {settings.max_batch_articles}")
    articles, errors, invalid = [], [], 0
    for n, item in enumerate(items):
        if isinstance(item, _BadLine):
            invalid += 1
            errors.append({"loc": ["body", n], "msg": item.msg, "type": "json_invalid"})
            continue
        try:
            articles.append(ArticleIn.model_validate(item))
        except ValidationError as exc:
            invalid += 1
            for error in clean_errors(exc.errors(include_url=False, include_context=False, include_input=False)):
                errors.append(error | {"loc": ["body", n, *error["loc"]]})
    if invalid:
        REJECTED.labels("invalid").inc(invalid)
        raise HTTPException(422, errors[:_MAX_ITEM_ERRORS])
    too_large = []
    for n, article in enumerate(articles):
        size = len((article.body or article.html or "").encode("utf-8"))
        if size > settings.max_article_bytes:
            too_large.append({"loc": ["body", n, "body" if article.body else "html"], "type": "too_large",
                              "msg": f"article body is {size} bytes; the limit is {settings.max_article_bytes}"})
    if too_large:
        REJECTED.labels("too_large").inc(len(too_large))
        raise HTTPException(413, too_large[:_MAX_ITEM_ERRORS])
    return await _publish(service, articles, "batch", batch=True)


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
        except (json.JSONDecodeError, RecursionError) as exc:
            raise HTTPException(422, f"the batch is not valid JSON: {_reason(exc)}") from exc
        if not isinstance(data, list):
            raise HTTPException(422, "a JSON batch must be a list of articles")
        return data
    items = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except (json.JSONDecodeError, RecursionError) as exc:
            # Listed with the other items' errors: one bad line does not hide the rest.
            items.append(_BadLine(f"line {line_no} is not valid JSON: {_reason(exc)}"))
    return items


class _BadLine:
    __slots__ = ("msg",)

    def __init__(self, msg: str):
        self.msg = msg


def _reason(exc: Exception) -> str:
    # JSONDecodeError's message names a position, never the text; RecursionError: nested too deep.
    return str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
