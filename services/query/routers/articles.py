"""GET /articles/{article_id}: the article with every sentence and its annotations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from services.query.db import ArticleRevisionRow, ArticleRow, SentenceRow
from services.query.deps import SessionDep
from services.query.models import ArticlePublic, RevisionPublic, SentencePublic

router = APIRouter(prefix="/articles", tags=["articles"])


@router.get("/{article_id}", response_model=ArticlePublic, responses={404: {"description": "No such article"}})
def get_article(article_id: str, session: SessionDep,
                version: Annotated[int | None, Query(ge=1, description="Default: the latest")] = None,
                ) -> ArticlePublic:
    versions = session.scalars(select(ArticleRow.version).where(ArticleRow.article_id == article_id)
                               .order_by(ArticleRow.version)).all()
    if not versions or (version is not None and version not in versions):
        raise HTTPException(404, f"no article {article_id!r}" + (f" version {version}" if version else ""))
    chosen = version or versions[-1]
    article = session.get(ArticleRow, (article_id, chosen))
    if article is None:  # deleted between the two reads
        raise HTTPException(404, f"no article {article_id!r} version {chosen}")
    sentences = session.scalars(select(SentenceRow).where(SentenceRow.article_id == article_id,
                                                          SentenceRow.version == chosen)
                                .order_by(SentenceRow.index)).all()
    revisions = session.scalars(select(ArticleRevisionRow).where(ArticleRevisionRow.article_id == article_id)
                                .order_by(ArticleRevisionRow.version)).all()
    return ArticlePublic(
        revisions=[RevisionPublic(version=r.version, previous_version=r.previous_version, revised_at=r.revised_at,
                                  **r.changes) for r in revisions],
        language=article.language,
        article_id=article.article_id, version=article.version, versions=list(versions), outlet=article.outlet,
        url=article.url, title=article.title, credit=article.credit, published_at=article.published_at,
        received_at=article.received_at, sentence_count=len(sentences),
        sentences=[SentencePublic.model_validate(s) for s in sentences],
    )
