"""GET /healthz."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "starting"]


@router.get("/healthz", response_model=Health)
async def healthz(request: Request) -> Health:
    """`ok` once the Kafka producer is up (the server only listens after that)."""
    service = getattr(request.app.state, "service", None)
    return Health(status="ok" if service is not None else "starting")
