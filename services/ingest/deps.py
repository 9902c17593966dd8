"""FastAPI dependencies of the ingest service."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings

API_KEY_SCHEME = "ApiKey"

# Documented as a security scheme, so /docs shows the lock and an "Authorize" box. auto_error=False:
# the check below decides, because a server without INGEST_API_KEY accepts anonymous writes.
api_key_header = APIKeyHeader(
    name="X-API-Key", scheme_name=API_KEY_SCHEME, auto_error=False,
    description="Required on every write when the server sets INGEST_API_KEY.",
)


def get_settings(request: Request) -> IngestSettings:
    return request.app.state.settings


def get_service(request: Request) -> IngestService:
    return request.app.state.service


def require_api_key(settings: Annotated[IngestSettings, Depends(get_settings)],
                    x_api_key: Annotated[str | None, Security(api_key_header)] = None) -> None:
    if not settings.api_key:
        return
    # Compare bytes: compare_digest refuses str with non-ASCII characters, which a header can carry.
    given = (x_api_key or "").encode("utf-8", "surrogateescape")
    if not (given and secrets.compare_digest(given, settings.api_key.encode("utf-8"))):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header",
                            headers={"WWW-Authenticate": API_KEY_SCHEME})


SettingsDep = Annotated[IngestSettings, Depends(get_settings)]
ServiceDep = Annotated[IngestService, Depends(get_service)]
