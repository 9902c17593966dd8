"""The ingest service: `uvicorn services.ingest.main:app --port 8001`."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.apikey import document_api_key, open_writes_refusal
from services.common.http import (
    NO_CDN_DOCS,
    BodySizeLimit,
    RequestTimeout,
    SafeJSONResponse,
    add_metrics_route,
    add_offline_docs,
    install_error_handlers,
)
from services.common.kafka import ensure_topics, wait_for_broker
from services.common.liveness import LoopLagProbe, loop_lag_metrics
from services.common.logging import configure_logging, get_logger
from services.common.settings import CommonSettings, KafkaSettings
from services.ingest.feeds import poll_forever
from services.ingest.ledger import Ledger
from services.ingest.routers import articles, health
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings
from services.nlp.language import detect_language

log = get_logger("ingest")
LOOP_LAG, LOOP_LAG_MAX = loop_lag_metrics("ingest")


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    common, kafka = CommonSettings(), KafkaSettings()
    configure_logging(common.log_level, common.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        refusal = open_writes_refusal("ingest", settings.host, settings.api_key, settings.allow_open_writes)
        if refusal:
            # INGEST_HOST is what `python -m services.ingest` binds; other launchers are caught per request.
            log.error("refusing to start", reason=refusal)
            raise SystemExit(f"claimstream ingest: {refusal}")
        await wait_for_broker(kafka.bootstrap_servers, 60)
        await ensure_topics(kafka.bootstrap_servers, common.namespace)
        service = IngestService(kafka.bootstrap_servers, common.namespace, Ledger(settings.db_url))
        await service.start()
        # Load the language model before the first request, not inside its deadline.
        await asyncio.to_thread(detect_language, "ClaimStream is warming up its language detector.")
        app.state.service = service
        poller = asyncio.create_task(poll_forever(service, settings)) if settings.feeds else None
        probe = asyncio.create_task(LoopLagProbe(LOOP_LAG, LOOP_LAG_MAX).run(), name="loop-lag")
        log.info("ingest ready", kafka=kafka.bootstrap_servers, namespace=common.namespace, feeds=len(settings.feeds))
        try:
            yield
        finally:
            probe.cancel()
            if poller:
                poller.cancel()
            await service.stop()

    app = FastAPI(title="ClaimStream ingest", version="0.1.0", lifespan=lifespan, **NO_CDN_DOCS,
                  default_response_class=SafeJSONResponse)
    app.state.settings = settings
    install_error_handlers(app)
    add_offline_docs(app)
    # The last one added runs first: the timeout also covers reading an oversized body.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestTimeout, seconds=settings.request_timeout_s)
    app.include_router(articles.router)
    app.include_router(health.router)
    add_metrics_route(app)
    document_api_key(app, required=bool(settings.api_key))
    return app



app = create_app()
