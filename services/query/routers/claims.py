"""GET /claims, GET /claims/stream (server-sent events), GET /claims/{claim_id}."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.query.db import ClaimEntityRow, ClaimRow
from services.query.deps import SessionDep
from services.query.models import ClaimPublic, ClaimsPublic

router = APIRouter(prefix="/claims", tags=["claims"])


@dataclass
class ClaimFilters:
    entity: Annotated[str | None, Query(max_length=200, description="Canonical entity name, any case")] = None
    outlet: Annotated[str | None, Query(max_length=200)] = None
    cluster: Annotated[str | None, Query(max_length=40, description="Cluster id")] = None
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None
    since: Annotated[datetime | None, Query(description="Seen at or after (ISO 8601)")] = None
    until: Annotated[datetime | None, Query(description="Seen before (ISO 8601)")] = None

    def apply(self, stmt: Select) -> Select:
        if self.entity:
            stmt = stmt.where(ClaimRow.claim_id.in_(
                select(ClaimEntityRow.claim_id).where(ClaimEntityRow.canonical_lower == self.entity.lower())))
        if self.outlet:
            stmt = stmt.where(ClaimRow.outlet == self.outlet)
        if self.cluster:
            stmt = stmt.where(ClaimRow.cluster_id == self.cluster)
        if self.min_score is not None:
            stmt = stmt.where(ClaimRow.claim_score >= self.min_score)
        if self.since:
            stmt = stmt.where(ClaimRow.seen_at >= self.since)
        if self.until:
            stmt = stmt.where(ClaimRow.seen_at < self.until)
        return stmt


FiltersDep = Annotated[ClaimFilters, Depends()]


@router.get("", response_model=ClaimsPublic)
def list_claims(session: SessionDep, filters: FiltersDep, request: Request,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: Annotated[str | None, Query(max_length=20, pattern=r"^\d+$",
                                                    description="next_cursor of the previous page")] = None,
                ) -> ClaimsPublic:
    """Claims, newest first, filtered; page with `cursor`."""
    stmt = filters.apply(select(ClaimRow))
    if cursor:
        stmt = stmt.where(ClaimRow.seq < int(cursor))
    rows = session.scalars(stmt.order_by(ClaimRow.seq.desc()).limit(limit + 1)).all()
    items = [ClaimPublic.model_validate(r) for r in rows[:limit]]
    return ClaimsPublic(items=items, next_cursor=str(items[-1].seq) if len(rows) > limit else None)


@router.get("/stream", response_class=EventSourceResponse,
            responses={200: {"description": "text/event-stream of `claim` events; id = seq"}})
async def stream_claims(request: Request, filters: FiltersDep,
                        after: Annotated[int | None, Query(ge=0, description="Start after this seq; 0 = from the start")] = None,
                        last_event_id: Annotated[str | None, Header(max_length=20)] = None,
                        ) -> AsyncIterator[ServerSentEvent]:
    """Live feed of new claims. Reconnects resume after the Last-Event-ID header; without it or `after`, only new claims."""
    engine = request.app.state.engine
    projector = request.app.state.projector
    if last_event_id and last_event_id.isdigit():
        position = int(last_event_id)
    elif after is not None:
        position = after
    else:
        position = await asyncio.to_thread(_max_seq, engine)
    yield ServerSentEvent(comment="claimstream feed", retry=2000)
    while True:
        rows = await asyncio.to_thread(_claims_after, engine, filters, position)
        for row in rows:
            position = row.seq
            yield ServerSentEvent(event="claim", id=str(row.seq), data=row.model_dump(mode="json"))
        if len(rows) == 0:
            async with projector.changed:
                try:
                    await asyncio.wait_for(projector.changed.wait(), timeout=5.0)
                except TimeoutError:
                    pass


def _max_seq(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.max(ClaimRow.seq))) or 0


def _claims_after(engine, filters: ClaimFilters, position: int, limit: int = 200) -> list[ClaimPublic]:
    with Session(engine) as session:
        stmt = filters.apply(select(ClaimRow)).where(ClaimRow.seq > position).order_by(ClaimRow.seq).limit(limit)
        return [ClaimPublic.model_validate(r) for r in session.scalars(stmt)]


@router.get("/{claim_id}", response_model=ClaimPublic, responses={404: {"description": "No such claim"}})
def get_claim(claim_id: str, session: SessionDep) -> ClaimPublic:
    row = session.scalar(select(ClaimRow).where(ClaimRow.claim_id == claim_id))
    if row is None:
        raise HTTPException(404, f"no claim {claim_id!r}")
    return ClaimPublic.model_validate(row)
