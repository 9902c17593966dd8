"""FastAPI dependencies of the query service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from services.query.consumer import Projector
from services.query.settings import QuerySettings


def get_settings(request: Request) -> QuerySettings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def get_projector(request: Request) -> Projector:
    return request.app.state.projector


SettingsDep = Annotated[QuerySettings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ProjectorDep = Annotated[Projector, Depends(get_projector)]
