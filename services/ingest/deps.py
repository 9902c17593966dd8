"""FastAPI dependencies of the ingest service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security

from services.common.apikey import api_key_header as make_api_key_header, check_write_access
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings

api_key_header = make_api_key_header("Required on every write when the server sets INGEST_API_KEY.")


def get_settings(request: Request) -> IngestSettings:
    return request.app.state.settings


def get_service(request: Request) -> IngestService:
    return request.app.state.service


def require_api_key(request: Request, settings: Annotated[IngestSettings, Depends(get_settings)],
                    x_api_key: Annotated[str | None, Security(api_key_header)] = None) -> None:
    check_write_access("ingest", request, settings.api_key, x_api_key, settings.allow_open_writes)


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
ServiceDep = Annotated[IngestService, Depends(get_service)]
