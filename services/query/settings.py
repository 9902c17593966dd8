"""Query settings, env prefix `QUERY_`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.state import sqlite_url


class QuerySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    db_url: str = Field(default_factory=lambda: sqlite_url("query.db"),
                        description="SQLAlchemy URL; SQLite file by default, postgresql+psycopg://... works too")
    poll_batch: int = Field(500, description="Most messages written in one transaction")
    lease_retry_s: float = Field(2.0, gt=0, description="Replicas on one PostgreSQL database: how often a follower "
                                                        "tries to become the projection writer, and the writer "
                                                        "checks its lease and re-reads the watchlists")
    follower_poll_s: float = Field(0.5, gt=0, description="Replicas on one PostgreSQL database: how often the live "
                                                          "feed looks for events another replica wrote")
    fetch_min_bytes: int = Field(256 * 1024, ge=1, description="The broker answers a fetch once this much is "
                                                               "waiting or after fetch_max_wait_ms: live traffic "
                                                               "comes in fewer, larger batches")
    fetch_max_wait_ms: int = Field(300, ge=0, le=5000, description="Longest a fetch waits for fetch_min_bytes "
                                                                   "(what it may add to freshness)")
    max_request_bytes: int = 64 * 1024
    watchdog_stall_s: float = Field(60.0, ge=0, description="A partition with messages waiting and no projected "
                                                            "progress for this long restarts the projection "
                                                            "consumer; 0 turns the watchdog off")
    api_key: str | None = Field(None, description="When set, writes (watchlists, feedback) need the X-API-Key header")
    allow_open_writes: bool = Field(False, description="Without api_key, writes are accepted only over a loopback "
                                                       "address (127.0.0.1, ::1); true accepts them on any address")

    # Live feed (/claims/stream, /claims/ws)
    stream_queue_size: int = Field(500, ge=1, description="Events queued per live client; a client that falls "
                                                          "further behind reads the log instead")
    stream_max_lag_s: float = Field(120.0, gt=0, description="A client that has been reading the log this long "
                                                             "without catching up is dropped")
    stream_max_clients: int = Field(2000, ge=1, description="Live clients at once; more get 503 / close 1013")
    stream_send_timeout_s: float = Field(30.0, gt=0, description="A client whose socket accepts nothing for this "
                                                                 "long is dropped")
    stream_ping_s: float = Field(15.0, gt=0, description="Keep-alive comment (SSE) or ping (WebSocket) when idle")

    # Claim-velocity alerts
    velocity_outlets: int = Field(3, ge=2, description="Independent outlets that make a cluster an alert")
    velocity_window_minutes: float = Field(60.0, gt=0, description="... when reached within this many minutes")

    # Watchlist webhooks
    webhook_concurrency: int = Field(4, ge=1, description="Webhook deliveries in flight at once")
    webhook_queue_size: int = Field(1000, ge=1, description="Deliveries waiting; more are dropped and counted")
    webhook_max_attempts: int = Field(5, ge=1, description="Attempts per delivery (the first one included)")
    webhook_backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles per attempt, at most 30 s")
    webhook_timeout_s: float = Field(5.0, gt=0, description="Longest time for one attempt")
    webhook_max_age_s: float = Field(3600.0, gt=0, description="Events older than this (a replay, a rebuild) are "
                                                               "not sent to webhooks")
    webhook_allow_private: bool = Field(False, description="Let webhooks go to private, loopback and other "
                                                           "non-public addresses")

    # Feedback
    feedback_max_versions: int = Field(10, ge=1, description="Model versions exported as precision gauges "
                                                             "(most recent feedback first)")
