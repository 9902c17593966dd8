"""GET /: a small live page over the query API (plain HTML and JS in services/query/static/).

The page reads the same public endpoints as any client: `/claims/stream` for
the feed, `/clusters/{id}` for a drill-down, `/leaderboards` for the top
entities and trending clusters. Only the static files named in FILES are served,
by name, with a Content-Security-Policy that allows no inline script and no
other origin, so even a bug that put article text into markup could not run it.

Including this router also starts the leaderboards refresher (its lifespan),
which feeds `/leaderboards` and the top-k gauges.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from services.query import leaderboards

STATIC = Path(__file__).resolve().parent.parent / "static"
FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
         "favicon.svg": "image/svg+xml"}
HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                                "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["page"], lifespan=leaderboards.lifespan)


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/static/{name}", include_in_schema=False)
def static_file(name: str) -> FileResponse:
    if name not in FILES:
        raise HTTPException(404, "no such file")
    return FileResponse(STATIC / name, media_type=FILES[name], headers=HEADERS)


@router.get("/leaderboards")
def get_leaderboards(request: Request) -> JSONResponse:
    """Top entities and trending clusters, as last computed (every few seconds) from the projection."""
    boards = getattr(request.app.state, "leaderboards", None)
    if boards is None:
        raise HTTPException(503, "leaderboards not computed yet")
    return JSONResponse(boards.as_json(), headers={"Cache-Control": "no-cache"})
