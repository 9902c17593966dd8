"""Query settings, env prefix `QUERY_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class QuerySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    db_url: str = Field(f"sqlite:///{Path('.run/query.db').absolute()}",
                        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... works too")
    poll_batch: int = Field(500, description="Most messages written in one transaction")
    max_request_bytes: int = 64 * 1024
