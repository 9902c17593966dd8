"""Watchlists: saved feed filters, with an optional webhook. Writes need X-API-Key when QUERY_API_KEY is set.

A watchlist is usable as `?watchlist=ID` on GET /claims, /claims/stream and /claims/ws (ANDed
with the other parameters), and its webhook receives every matching live event.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.query.db import WatchlistRow, rowcount
from services.query.deps import SettingsDep, WriteAccess
from services.query.filters import FeedFilter
from services.query.models import WatchlistCreate, WatchlistPublic, WatchlistsPublic, WatchlistUpdate
from services.query.webhooks import host_refusal

router = APIRouter(prefix="/watchlists", tags=["watchlists"])

WatchlistId = Annotated[int, Path(ge=1, le=2**63 - 1)]
FILTER_FIELDS = set(FeedFilter.model_fields)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such watchlist"}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "X-API-Key missing or wrong (when QUERY_API_KEY is set)"},
    422: {"description": "Invalid watchlist"}}


def _public(row) -> WatchlistPublic:
    return WatchlistPublic(id=row.id, name=row.name, filters=FeedFilter.model_validate(row.filters),
                           webhook_url=row.webhook_url, created_at=row.created_at, updated_at=row.updated_at)


def _check_webhook(body: WatchlistCreate, allow_private: bool) -> None:
    if body.webhook_url is None or allow_private:
        return
    reason = host_refusal(body.webhook_url.host or "")
    if reason:
        raise HTTPException(422, [{"loc": ["body", "webhook_url"], "type": "value_error",
                                   "msg": f"webhook must reach a public address ({reason}); "
                                          "QUERY_WEBHOOK_ALLOW_PRIVATE allows others"}])


def _values(body: WatchlistCreate, current_secret: str | None = None) -> dict:
    """Row values; a webhook keeps its secret unless a new one is given, and gets one when it has none."""
    secret = None
    if body.webhook_url:
        secret = body.webhook_secret or current_secret or secrets.token_urlsafe(32)
    return {"name": body.name, "filters": body.model_dump(include=FILTER_FIELDS, exclude_none=True),
            "webhook_url": str(body.webhook_url) if body.webhook_url else None, "webhook_secret": secret}


def _written(row, values: dict, engine: Engine) -> WatchlistPublic:
    return _public(row).model_copy(update={"webhook_secret": values["webhook_secret"],
                                           "warnings": entity_warnings(engine, values["filters"])})


def _get(engine: Engine, watchlist_id: int):
    with Session(engine) as session:
        row = session.execute(select(WatchlistRow.__table__).where(WatchlistRow.id == watchlist_id)).one_or_none()
    if row is None:
        raise HTTPException(404, f"no watchlist {watchlist_id}")
    return row


def _insert(engine: Engine, values: dict):
    now = datetime.now(timezone.utc)
    with Session(engine) as session, session.begin():
        new_id = session.execute(insert(WatchlistRow).values(**values, created_at=now, updated_at=now)
                                 .returning(WatchlistRow.id)).scalar_one()
    return _get(engine, new_id)


def _replace(engine: Engine, watchlist_id: int, values: dict):
    with Session(engine) as session, session.begin():
        done = rowcount(session.execute(update(WatchlistRow).where(WatchlistRow.id == watchlist_id)
                                        .values(**values, updated_at=datetime.now(timezone.utc))))
    if not done:
        raise HTTPException(404, f"no watchlist {watchlist_id}")
    return _get(engine, watchlist_id)


def _delete(engine: Engine, watchlist_id: int) -> None:
    with Session(engine) as session, session.begin():
        if not rowcount(session.execute(delete(WatchlistRow).where(WatchlistRow.id == watchlist_id))):
            raise HTTPException(404, f"no watchlist {watchlist_id}")


def entity_warnings(engine: Engine, filters: dict) -> list[str]:
    """Saved as asked, but said: a watchlist for an entity no claim has named and the gazetteer does not know
    would stay silent forever, and an alias ("DPRK") is not the canonical name the filter compares with."""
    import difflib

    from services.query.db import ClaimEntityRow

    warnings: list[str] = []
    try:
        from services.nlp.gazetteer import get_gazetteer

        gazetteer = get_gazetteer()
    except Exception:  # noqa: BLE001 - no gazetteer data: only the database is asked
        gazetteer = None
    entity, entity_id = filters.get("entity"), filters.get("entity_id")
    with Session(engine) as session:
        if entity:
            seen = session.scalar(select(ClaimEntityRow.canonical).where(ClaimEntityRow.canonical_lower
                                                                         == entity.lower()).limit(1))
            if seen is None:
                entries = gazetteer.candidates(entity, None)[0] if gazetteer else []
                canonical = [e for e in entries if e.name.lower() == entity.lower()]
                if entries and not canonical:
                    names = ", ".join(f"{e.name!r} ({e.id})" for e in entries[:3])
                    warnings.append(f"entity {entity!r} is another name of {names}: the filter compares canonical "
                                    f"names, so use entity={entries[0].name!r} or entity_id={entries[0].id!r}")
                elif not entries:
                    known = list(session.scalars(select(ClaimEntityRow.canonical).distinct().limit(20000)))
                    if gazetteer:
                        known += [e.name for e in gazetteer.entries.values()]
                    close = difflib.get_close_matches(entity, sorted(set(known)), n=5, cutoff=0.6)
                    close += [k for k in sorted(set(known)) if entity.lower() in k.lower() and k not in close][:5]
                    warnings.append(f"entity {entity!r} has not been seen in any claim and the gazetteer does not "
                                    "know it: the watchlist is saved but matches nothing until a claim names it"
                                    + (f"; did you mean: {', '.join(close[:5])}?" if close else ""))
        if entity_id and (gazetteer is None or gazetteer.get(entity_id) is None):
            from sqlalchemy import String, cast

            from services.query.db import ClaimRow

            claimed = session.scalar(select(ClaimRow.seq).where(cast(ClaimRow.entities, String)
                                                                .contains(f'"{entity_id}"')).limit(1))
            if claimed is None:
                prefix = entity_id.split(":", 1)[0]
                close = difflib.get_close_matches(entity_id, [i for i in (gazetteer.entries if gazetteer else {})
                                                              if i.startswith(prefix)], n=5, cutoff=0.6)
                warnings.append(f"entity_id {entity_id!r} is not in the gazetteer and no claim has it: the "
                                "watchlist matches nothing until one does"
                                + (f"; did you mean: {', '.join(close)}?" if close else ""))
    return warnings


async def _changed(request: Request) -> None:
    await request.app.state.webhooks.reload()


@router.post("", status_code=201, response_model=WatchlistPublic, dependencies=[WriteAccess], responses=WRITE_ERRORS)
async def create_watchlist(body: WatchlistCreate, request: Request, response: Response,
                           settings: SettingsDep) -> WatchlistPublic:
    """Save a filter (at least one of entity, outlet, claim_type, min_score, min_outlets, q, types)."""
    _check_webhook(body, settings.webhook_allow_private)
    values = _values(body)
    row = await asyncio.to_thread(_insert, request.app.state.engine, values)
    await _changed(request)
    response.headers["Location"] = f"/watchlists/{row.id}"
    return await asyncio.to_thread(_written, row, values, request.app.state.engine)


@router.get("", response_model=WatchlistsPublic)
async def list_watchlists(request: Request) -> WatchlistsPublic:
    def rows():
        with Session(request.app.state.engine) as session:
            return session.execute(select(WatchlistRow.__table__).order_by(WatchlistRow.id)).all()

    return WatchlistsPublic(items=[_public(r) for r in await asyncio.to_thread(rows)])


@router.get("/{watchlist_id}", response_model=WatchlistPublic, responses=NOT_FOUND)
async def get_watchlist(watchlist_id: WatchlistId, request: Request) -> WatchlistPublic:
    return _public(await asyncio.to_thread(_get, request.app.state.engine, watchlist_id))


@router.put("/{watchlist_id}", response_model=WatchlistPublic, dependencies=[WriteAccess],
            responses=NOT_FOUND | WRITE_ERRORS)
async def replace_watchlist(watchlist_id: WatchlistId, body: WatchlistCreate, request: Request,
                            settings: SettingsDep) -> WatchlistPublic:
    """Replace the whole watchlist: filters not given are cleared."""
    _check_webhook(body, settings.webhook_allow_private)
    current = await asyncio.to_thread(_get, request.app.state.engine, watchlist_id)
    values = _values(body, current.webhook_secret)
    row = await asyncio.to_thread(_replace, request.app.state.engine, watchlist_id, values)
    await _changed(request)
    return await asyncio.to_thread(_written, row, values, request.app.state.engine)


@router.patch("/{watchlist_id}", response_model=WatchlistPublic, dependencies=[WriteAccess],
              responses=NOT_FOUND | WRITE_ERRORS)
async def update_watchlist(watchlist_id: WatchlistId, body: WatchlistUpdate, request: Request,
                           settings: SettingsDep) -> WatchlistPublic:
    """Change only the fields given; `null` clears a filter or the webhook."""
    engine = request.app.state.engine
    current = await asyncio.to_thread(_get, engine, watchlist_id)
    merged = {"name": current.name, **current.filters, "webhook_url": current.webhook_url}
    merged.update(body.model_dump(exclude_unset=True, mode="json"))
    try:
        full = WatchlistCreate.model_validate(merged)
    except ValidationError as exc:
        raise HTTPException(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                                  for e in exc.errors(include_url=False)]) from exc
    _check_webhook(full, settings.webhook_allow_private)
    values = _values(full, current.webhook_secret)
    row = await asyncio.to_thread(_replace, engine, watchlist_id, values)
    await _changed(request)
    return await asyncio.to_thread(_written, row, values, engine)


@router.delete("/{watchlist_id}", status_code=204, dependencies=[WriteAccess], responses=NOT_FOUND | WRITE_ERRORS)
async def delete_watchlist(watchlist_id: WatchlistId, request: Request) -> Response:
    await asyncio.to_thread(_delete, request.app.state.engine, watchlist_id)
    await _changed(request)
    return Response(status_code=204)
