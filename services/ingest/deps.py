"""FastAPI dependencies of the ingest service."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings


def get_settings(request: Request) -> IngestSettings:
    return request.app.state.settings


def get_service(request: Request) -> IngestService:
    return request.app.state.service


def require_api_key(settings: Annotated[IngestSettings, Depends(get_settings)],
                    x_api_key: Annotated[str | None, Header()] = None) -> None:
    if settings.api_key and not (x_api_key and secrets.compare_digest(x_api_key, settings.api_key)):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header")


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
ServiceDep = Annotated[IngestService, Depends(get_service)]
