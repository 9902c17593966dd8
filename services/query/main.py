"""The query service: `uvicorn services.query.main:app --port 8000`."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.http import BodySizeLimit, add_metrics_route
from services.common.kafka import ensure_topics
from services.common.logging import configure_logging, get_logger
from services.common.settings import CommonSettings, KafkaSettings
from services.query.consumer import Projector
from services.query.db import make_engine
from services.query.routers import articles, claims, clusters, health
from services.query.settings import QuerySettings

log = get_logger("query")


def create_app(settings: QuerySettings | None = None) -> FastAPI:
    settings = settings or QuerySettings()
    common, kafka = CommonSettings(), KafkaSettings()
    configure_logging(common.log_level, common.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.engine = make_engine(settings.db_url)
        await ensure_topics(kafka.bootstrap_servers, common.namespace)
        projector = Projector(app.state.engine, kafka.bootstrap_servers, common.namespace, settings.poll_batch)
        app.state.projector = projector
        app.state.projector_task = asyncio.create_task(projector.run(), name="projector")
        app.state.projector_task.add_done_callback(_log_end)
        log.info("query ready", kafka=kafka.bootstrap_servers, namespace=common.namespace, db=settings.db_url)
        try:
            yield
        finally:
            app.state.projector_task.cancel()
            await asyncio.gather(app.state.projector_task, return_exceptions=True)
            app.state.engine.dispose()

    app = FastAPI(title="ClaimStream query", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    for module in (claims, clusters, articles, health):
        app.include_router(module.router)
    add_metrics_route(app)
    return app


def _log_end(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception():
        log.error("projection consumer stopped", error=repr(task.exception()))


app = create_app()
