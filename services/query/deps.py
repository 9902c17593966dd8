"""FastAPI dependencies of the query service."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from services.query.consumer import Projector
from services.query.live import FeedHub
from services.query.settings import QuerySettings


def get_settings(request: Request) -> QuerySettings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_projector(request: Request) -> Projector:
    return request.app.state.projector


def get_hub(request: Request) -> FeedHub:
    return request.app.state.hub


API_KEY_SCHEME = "ApiKey"
# auto_error=False: without QUERY_API_KEY the writes are open, so the check below decides.
api_key_header = APIKeyHeader(name="X-API-Key", scheme_name=API_KEY_SCHEME, auto_error=False,
                              description="Required on writes (watchlists, feedback) when the server sets "
                                          "QUERY_API_KEY; reads stay open.")


def require_api_key(request: Request, x_api_key: Annotated[str | None, Security(api_key_header)] = None) -> None:
    expected = request.app.state.settings.api_key
    if not expected:
        return
    given = (x_api_key or "").encode("utf-8", "surrogateescape")
    if not (given and secrets.compare_digest(given, expected.encode("utf-8"))):
        raise HTTPException(status_code=401, detail="missing or wrong X-API-Key header",
                            headers={"WWW-Authenticate": API_KEY_SCHEME})


SettingsDep = Annotated[QuerySettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ProjectorDep = Annotated[Projector, Depends(get_projector)]
HubDep = Annotated[FeedHub, Depends(get_hub)]
WriteAccess = Depends(require_api_key)
