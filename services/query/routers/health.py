"""GET /healthz: up, and the projection is consuming."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class HealthPublic(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz", response_model=HealthPublic,
            responses={503: {"model": HealthPublic, "description": "Starting, or the projection consumer is down"}})
async def healthz(request: Request) -> JSONResponse:
    projector = getattr(request.app.state, "projector", None)
    task = getattr(request.app.state, "projector_task", None)
    if projector is None or task is None or task.done():
        return JSONResponse({"status": "down", "detail": "projection consumer not running"}, status_code=503)
    if getattr(request.app.state, "follower", False):
        # Another replica writes the shared database; this one serves it and takes over if that one stops.
        return JSONResponse({"status": "ok", "detail": "follower"}, status_code=200)
    status = "ok" if projector.ready.is_set() else "starting"
    return JSONResponse({"status": status}, status_code=200 if status == "ok" else 503)
