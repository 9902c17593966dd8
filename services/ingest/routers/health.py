"""GET /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(request: Request) -> dict:
    service = getattr(request.app.state, "service", None)
    return {"status": "ok" if service is not None else "starting"}
