"""FastAPI dependencies of the query service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from sqlalchemy.orm import Session

from services.common.apikey import api_key_header as make_api_key_header, check_write_access
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


# Without QUERY_API_KEY the writes are open; check_api_key decides.
api_key_header = make_api_key_header("Required on writes (watchlists, feedback) when the server sets "
                                     "QUERY_API_KEY; reads stay open.")


def require_api_key(request: Request, x_api_key: Annotated[str | None, Security(api_key_header)] = None) -> None:
    settings = request.app.state.settings
    check_write_access("query", request, settings.api_key, x_api_key, settings.allow_open_writes)


SettingsDep = Annotated[QuerySettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ProjectorDep = Annotated[Projector, Depends(get_projector)]
HubDep = Annotated[FeedHub, Depends(get_hub)]
WriteAccess = Depends(require_api_key)
