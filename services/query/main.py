"""The query service: `uvicorn services.query.main:app --port 8000`."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.common.http import BodySizeLimit, add_metrics_route
from services.common.kafka import ensure_topics, wait_for_broker
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
        await wait_for_broker(kafka.bootstrap_servers, 60)
        await ensure_topics(kafka.bootstrap_servers, common.namespace)
        app.state.projector = Projector(app.state.engine, kafka.bootstrap_servers, common.namespace,
                                        settings.poll_batch)
        app.state.projector_task = asyncio.create_task(_keep_projecting(app), name="projector")
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


async def _keep_projecting(app: FastAPI) -> None:
    """Run the projection; after a failure, start a fresh consumer with backoff.

    Positions come from the database, so a restart resumes exactly where the
    last committed batch ended.
    """
    delay = 1.0
    while True:
        try:
            await app.state.projector.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep the service alive, report and retry
            log.error("projection consumer failed; restarting", error=repr(exc), retry_in_s=delay)
            app.state.projector.ready.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            old = app.state.projector
            app.state.projector = Projector(old.engine, old.bootstrap_servers, old.namespace, old.batch)
            # SSE streams wait on the projector's condition; keep the same one.
            app.state.projector.changed = old.changed


app = create_app()
