"""GET /claims, the live feed (GET /claims/stream as server-sent events, /claims/ws as a WebSocket),
GET /claims/{claim_id}.

The live feed follows the projection's event log (`feed_events`): events `claim`,
`appearance`, `cluster` and `alert`, each with a `seq` that resumes a stream without gaps or
repeats (`Last-Event-ID` on SSE, `?after=` on both).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.query.db import ClaimRow, FeedEventRow, WatchlistRow
from services.query.deps import HubDep, SessionDep, SettingsDep
from services.query.filters import ClaimType, DateOrDateTime, FeedFilter, Matcher, apply_sql, matcher
from services.query.live import WS_BUSY, FeedSession, FeedSSEResponse, TooManyClients, serve_websocket
from services.query.models import ClaimPublic, ClaimsPublic

router = APIRouter(prefix="/claims", tags=["claims"])


@dataclass
class ClaimFilters:
    entity: Annotated[str | None, Query(max_length=200, description="Canonical entity name, any case")] = None
    outlet: Annotated[str | None, Query(max_length=200, description="Outlet name, any case")] = None
    entity_id: Annotated[str | None, Query(max_length=200, description="Gazetteer entity id, e.g. "
                                                                       "country:north-korea")] = None
    source: Annotated[str | None, Query(max_length=200, description="Attribution source containing this, "
                                                                    "any case (e.g. central bank)")] = None
    language: Annotated[str | None, Query(max_length=8, description="Language of the claim's article "
                                                                    "(ISO 639-1)")] = None
    cluster: Annotated[str | None, Query(max_length=40, description="Cluster id")] = None
    min_score: Annotated[float | None, Query(ge=0.0, le=1.0)] = None
    since: Annotated[DateOrDateTime | None, Query(description="Seen at or after: ISO 8601 with offset, or a "
                                                              "plain date (midnight UTC)")] = None
    until: Annotated[DateOrDateTime | None, Query(description="Seen before: ISO 8601 with offset, or a plain "
                                                              "date (midnight UTC)")] = None
    claim_type: Annotated[ClaimType | None, Query(description="enrichment.claim_type")] = None
    min_outlets: Annotated[int | None, Query(ge=1, le=10_000, description="Lowest number of independent outlets "
                                                                          "in the claim's cluster (now)")] = None
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Free text: every word must occur "
                                                                             "(whole words, any case)")] = None
    watchlist: Annotated[int | None, Query(ge=1, description="Also apply this watchlist's filters")] = None

    def feed_filter(self) -> FeedFilter:
        return _validated(FeedFilter, {"entity": self.entity, "outlet": self.outlet, "entity_id": self.entity_id,
                                       "source": self.source, "language": self.language,
                                       "claim_type": self.claim_type,
                                       "min_score": self.min_score, "min_outlets": self.min_outlets, "q": self.q})

    def apply(self, stmt: Select, engine: Engine | None = None) -> Select:
        """The filters on `select(ClaimRow)`; `watchlist` is applied by the caller (it needs the database).

        Without the engine, `q` uses LIKE (whether FTS5 is there is a property of the database).
        """
        stmt = apply_sql(stmt, self.feed_filter(), engine)
        if self.cluster:
            stmt = stmt.where(ClaimRow.cluster_id == self.cluster)
        if self.since:
            stmt = stmt.where(ClaimRow.seen_at >= self.since)
        if self.until:
            stmt = stmt.where(ClaimRow.seen_at < self.until)
        return stmt


FiltersDep = Annotated[ClaimFilters, Depends()]


def _validated(model, values: dict):
    """A model from query values; a validation error is the usual 422."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(_errors(exc)) from exc


def _errors(exc: ValidationError) -> list[dict]:
    # Where and what, without the input (it is the client's own) or the exception objects in ctx.
    return [{"loc": ["query", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)]


def load_watchlist_filter(session: Session, watchlist_id: int | None) -> FeedFilter | None:
    if watchlist_id is None:
        return None
    filters = session.scalar(select(WatchlistRow.filters).where(WatchlistRow.id == watchlist_id))
    if filters is None:
        raise HTTPException(404, f"no watchlist {watchlist_id}")
    return FeedFilter.model_validate(filters)


@router.get("", response_model=ClaimsPublic, responses={404: {"description": "No such watchlist"}})
def list_claims(session: SessionDep, filters: FiltersDep, request: Request,
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: Annotated[str | None, Query(max_length=18, pattern=r"^\d{1,18}$",
                                                    description="next_cursor of the previous page")] = None,
                ) -> ClaimsPublic:
    """Claims, newest first, filtered; page with `cursor`."""
    engine = request.app.state.engine
    stream_after = session.scalar(select(func.max(FeedEventRow.seq))) or 0  # same snapshot as the page
    stmt = filters.apply(select(ClaimRow), engine)
    watched = load_watchlist_filter(session, filters.watchlist)
    if watched is not None:
        stmt = apply_sql(stmt, watched, engine)
    if cursor:
        stmt = stmt.where(ClaimRow.seq < int(cursor))
    rows = session.scalars(stmt.order_by(ClaimRow.seq.desc()).limit(limit + 1)).all()
    items = [ClaimPublic.model_validate(r) for r in rows[:limit]]
    return ClaimsPublic(items=items, next_cursor=str(items[-1].seq) if len(rows) > limit else None,
                        stream_after=stream_after)


# --------------------------------------------------------------------------------------------------
# Live feed


class StreamParams(FeedFilter):
    """The live feed's query parameters: the feed filters plus a cluster, a time range, a watchlist, a resume point."""

    model_config = ConfigDict(extra="ignore")

    cluster: str | None = Field(None, max_length=40, description="Cluster id")
    since: DateOrDateTime | None = Field(None, description="seen_at at or after (ISO 8601 with offset, or a date)")
    until: DateOrDateTime | None = Field(None, description="seen_at before (ISO 8601 with offset, or a date)")
    watchlist: int | None = Field(None, ge=1, description="Also apply this saved watchlist's filters")
    after: int | None = Field(None, ge=0, description="Resume after this seq; 0 = from the start of the log. "
                                                      "Without it (or Last-Event-ID): from now on")

    def feed_filter(self) -> FeedFilter:
        return FeedFilter.model_validate(self.model_dump(include=set(FeedFilter.model_fields)))


def _stream_matcher(engine: Engine, params: StreamParams) -> tuple[Matcher, str]:
    """The stream's predicate, and a key equal for equal filters (the hub evaluates each filter once per event)."""
    with Session(engine) as session:
        watched = load_watchlist_filter(session, params.watchlist)
    filters = [f for f in (params.feed_filter(), watched) if f is not None]
    key = "|".join([f.model_dump_json(exclude_none=True) for f in filters]
                   + [params.cluster or "", str(params.since or ""), str(params.until or "")])
    return matcher(filters, cluster=params.cluster, since=params.since, until=params.until), key


STREAM_DOC = """Live feed of `claim`, `appearance`, `cluster` and `alert` events, filtered on the server.

By default only claims (`claim`: the first claim of its cluster, `appearance`: a new claim of a
known cluster; `data` is a claim as in GET /claims). `types=all` (or e.g. `types=cluster,alert`)
adds `cluster` events (a changed ledger, without its appearance list) and `alert` events
(claim velocity). Each event's `id` is its seq in the feed log. A reconnecting EventSource resumes after its
`Last-Event-ID`; `?after=N` does the same by hand, `?after=0` replays the whole log. Without
either, only new events. A client more than `QUERY_STREAM_QUEUE_SIZE` events behind reads the
log until it has caught up. One whose socket takes nothing for `QUERY_STREAM_SEND_TIMEOUT_S`
(reason `send_timeout`), or that stays behind for `QUERY_STREAM_MAX_LAG_S` (`lagging`), is
dropped: the stream ends with `event: error` and `{"reason", "detail"}` when the
socket still takes it, and the connection is closed.
"""


@router.get("/stream", response_class=FeedSSEResponse, status_code=200, description=STREAM_DOC,
            responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
                       404: {"description": "No such watchlist"},
                       503: {"description": "Too many live clients; retry later"}})
async def stream_claims(request: Request, params: Annotated[StreamParams, Query()], hub: HubDep,
                        settings: SettingsDep,
                        last_event_id: Annotated[str | None, Header(max_length=20, pattern=r"^\d+$")] = None,
                        ) -> FeedSSEResponse:
    match, key = await asyncio.to_thread(_stream_matcher, request.app.state.engine, params)
    if not await _hub_ready(hub):
        raise HTTPException(503, "the live feed is starting; retry", headers={"Retry-After": "5"})
    try:
        session = FeedSession(hub, match, int(last_event_id) if last_event_id else params.after, transport="sse",
                              queue_size=settings.stream_queue_size, max_clients=settings.stream_max_clients,
                              ping_s=settings.stream_ping_s, max_lag_s=settings.stream_max_lag_s, key=key)
    except TooManyClients as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "10"}) from exc
    return FeedSSEResponse(session, settings.stream_send_timeout_s)


@router.websocket("/ws")
async def claims_ws(websocket: WebSocket) -> None:
    """The live feed as JSON messages `{"seq", "type", "data"}`; same parameters as /claims/stream.

    Bad parameters are refused before the handshake with 422 (404 for an unknown watchlist).
    A client that does not read (or stays behind) is closed with 1008, and one over the client
    limit with 1013; reconnect with `after=` the last seq received.
    """
    app = websocket.app
    settings, hub = app.state.settings, app.state.hub
    raw: dict = {}
    for key in websocket.query_params.keys():
        values = websocket.query_params.getlist(key)
        raw[key] = values if key == "types" else values[-1]
    try:
        params = StreamParams.model_validate(raw)
        match, key = await asyncio.to_thread(_stream_matcher, app.state.engine, params)
    except ValidationError as exc:
        await _deny(websocket, 422, _errors(exc))
        return
    except HTTPException as exc:
        await _deny(websocket, exc.status_code, exc.detail)
        return
    if not await _hub_ready(hub):
        await _deny(websocket, 503, "the live feed is starting; retry")
        return
    try:
        session = FeedSession(hub, match, params.after, transport="ws", queue_size=settings.stream_queue_size,
                              max_clients=settings.stream_max_clients, ping_s=settings.stream_ping_s,
                              max_lag_s=settings.stream_max_lag_s, key=key)
    except TooManyClients as exc:
        await websocket.accept()
        await websocket.close(code=WS_BUSY, reason=str(exc)[:120])
        return
    try:
        await websocket.accept()
    except Exception:
        session.close()  # the client left during the handshake
        raise
    await serve_websocket(websocket, session, settings.stream_send_timeout_s)


async def _hub_ready(hub, wait_s: float = 10.0) -> bool:
    try:
        await asyncio.wait_for(hub.ready.wait(), timeout=wait_s)
        return True
    except TimeoutError:
        return False


async def _deny(websocket: WebSocket, status: int, detail) -> None:
    """Refuse the handshake with an HTTP error body; a server without that extension closes with 1008."""
    if "websocket.http.response" in (websocket.scope.get("extensions") or {}):
        await websocket.send_denial_response(JSONResponse({"detail": detail}, status_code=status))
    else:
        await websocket.close(code=1008, reason=f"HTTP {status}")


@router.get("/{claim_id}", response_model=ClaimPublic, responses={404: {"description": "No such claim"}})
def get_claim(claim_id: str, session: SessionDep) -> ClaimPublic:
    row = session.scalar(select(ClaimRow).where(ClaimRow.claim_id == claim_id))
    if row is None:
        raise HTTPException(404, f"no claim {claim_id!r}")
    return ClaimPublic.model_validate(row)
