"""Ingest settings, env prefix `INGEST_` (e.g. INGEST_PORT, INGEST_FEEDS)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.state import sqlite_url


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    db_url: str = Field(default_factory=lambda: sqlite_url("ingest.db"),
                        description="Ledger of published article ids and versions")
    max_request_bytes: int = Field(8 * 1024 * 1024, description="Larger requests get 413")
    max_article_bytes: int = Field(1024 * 1024, description="Larger article bodies get 413")
    max_batch_articles: int = 1000
    request_timeout_s: float = Field(30.0, ge=0, description="Longest time for one request (504 after); 0 = none")
    api_key: str | None = Field(None, description="When set, writes need the X-API-Key header")
    allow_open_writes: bool = Field(False, description="Without api_key, writes are accepted only over a loopback "
                                                       "address (127.0.0.1, ::1); true accepts them on any address")
    feeds: list[str] = Field(default_factory=list, description="RSS/Atom feed URLs to poll (JSON list)")
    feed_interval_s: float = 300.0
    feed_timeout_s: float = Field(15.0, gt=0, description="Longest time for one fetch, every redirect included")
    feed_max_bytes: int = 5 * 1024 * 1024
    feed_allow_private: bool = Field(
        False, description="Let the poller fetch private, loopback, link-local and other non-public addresses")
