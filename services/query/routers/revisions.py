"""GET /revisions: the latest article revisions across outlets (what changed, claim by claim)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.query.db import ArticleRevisionRow, ArticleRow
from services.query.deps import SessionDep
from services.query.models import ArticleRevisionPublic, RevisionsPublic

router = APIRouter(tags=["articles"])


@router.get("/revisions", response_model=RevisionsPublic)
def list_revisions(session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 20,
                   outlet: Annotated[str | None, Query(max_length=200, description="Outlet name, any case")] = None,
                   ) -> RevisionsPublic:
    """Newest revisions first, each with the edited (old and new wording), withdrawn and added claims."""
    stmt = (select(ArticleRevisionRow, ArticleRow)
            .join(ArticleRow, (ArticleRow.article_id == ArticleRevisionRow.article_id)
                  & (ArticleRow.version == ArticleRevisionRow.version), isouter=True)
            .order_by(ArticleRevisionRow.revised_at.desc()).limit(limit))
    if outlet:
        from sqlalchemy import func

        stmt = stmt.where(func.lower(ArticleRow.outlet) == outlet.lower())
    items = []
    for rev, article in session.execute(stmt):
        changes = rev.changes or {}
        items.append(ArticleRevisionPublic(
            article_id=rev.article_id, version=rev.version, previous_version=rev.previous_version,
            revised_at=rev.revised_at, unchanged=changes.get("unchanged") or [], edited=changes.get("edited") or [],
            withdrawn=changes.get("withdrawn") or [], added=changes.get("added") or [],
            outlet=article.outlet if article else None, title=article.title if article else None,
            url=article.url if article else None))
    return RevisionsPublic(items=items)
