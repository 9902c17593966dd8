"""The query service: `uvicorn services.query.main:app --port 8000`."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import Counter

from services.common.apikey import document_api_key, open_writes_refusal
from services.common.http import (
    NO_CDN_DOCS,
    BodySizeLimit,
    RequestTimeout,
    add_metrics_route,
    add_offline_docs,
    error_responses,
    install_error_handlers,
)
from services.common.kafka import ensure_topics, wait_for_broker
from services.common.liveness import LoopLagProbe, ProgressWatch, loop_lag_metrics
from services.common.logging import configure_logging, get_logger
from services.common.settings import CommonSettings, KafkaSettings
from services.query import feedback
from services.query.consumer import Projector
from services.query.db import make_engine
from services.query.feedlog import Effects, LiveRules
from services.query.lease import WriterLease
from services.query.live import FeedHub
from services.query.outbox import OutboxPublisher
from services.query.routers import (
    articles,
    claims,
    clusters,
    feedback as feedback_routes,
    health,
    page,
    revisions,
    trending,
    watchlists,
)
from services.query.settings import QuerySettings
from services.query.webhooks import WebhookDispatcher

log = get_logger("query")
LOOP_LAG, LOOP_LAG_MAX = loop_lag_metrics("query")
WATCHDOG_RESTARTS = Counter("claimstream_query_watchdog_restarts_total",
                            "Projection consumers restarted because a partition had messages waiting and "
                            "made no progress for QUERY_WATCHDOG_STALL_S")


def create_app(settings: QuerySettings | None = None) -> FastAPI:
    settings = settings or QuerySettings()
    common, kafka = CommonSettings(), KafkaSettings()
    configure_logging(common.log_level, common.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        refusal = open_writes_refusal("query", settings.host, settings.api_key, settings.allow_open_writes)
        if refusal:
            # QUERY_HOST is what `python -m services.query` binds; other launchers are caught per request.
            log.error("refusing to start", reason=refusal)
            raise SystemExit(f"claimstream query: {refusal}")
        app.state.engine = make_engine(settings.db_url)
        await wait_for_broker(kafka.bootstrap_servers, 60)
        await ensure_topics(kafka.bootstrap_servers, common.namespace)
        engine = app.state.engine
        app.state.hub = hub = FeedHub(engine)
        app.state.lease = WriterLease(engine)
        if app.state.lease.shared:
            # Another replica may be the writer: look for its events often, not only after own commits.
            hub.idle_poll_s = settings.follower_poll_s
        app.state.outbox = outbox = OutboxPublisher(engine, kafka.bootstrap_servers, common.namespace)
        app.state.webhooks = webhooks = WebhookDispatcher(engine, settings)
        webhooks.active = not app.state.lease.shared  # on a shared database, only the writer sends
        await webhooks.reload()
        hub.listeners.append(webhooks.on_event)
        app.state.feedback_changed = feedback_changed = asyncio.Event()
        feedback_changed.set()  # export the gauges once at start

        def on_commit(effects: Effects) -> None:
            if effects.feed_events:
                hub.notify()
            if effects.outbox_rows:
                outbox.notify()
            if effects.feedback_rows:
                feedback_changed.set()

        app.state.projector = Projector(engine, kafka.bootstrap_servers, common.namespace, settings.poll_batch,
                                        rules=LiveRules(settings.velocity_outlets, settings.velocity_window_minutes),
                                        on_commit=[on_commit], fetch_min_bytes=settings.fetch_min_bytes,
                                        fetch_max_wait_ms=settings.fetch_max_wait_ms)
        app.state.projector_task = asyncio.create_task(_keep_projecting(app), name="projector")
        app.state.live_tasks = [
            asyncio.create_task(hub.run(), name="feed-hub"),
            asyncio.create_task(webhooks.run(), name="webhooks"),
            asyncio.create_task(_export_feedback(app), name="feedback-gauges"),
            asyncio.create_task(LoopLagProbe(LOOP_LAG, LOOP_LAG_MAX).run(), name="loop-lag"),
        ]
        if settings.watchdog_stall_s > 0:
            app.state.live_tasks.append(asyncio.create_task(_watch_projection(app, settings.watchdog_stall_s),
                                                            name="projection-watchdog"))
        log.info("query ready", kafka=kafka.bootstrap_servers, namespace=common.namespace, db=settings.db_url)
        try:
            yield
        finally:
            tasks = [app.state.projector_task, *app.state.live_tasks]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            app.state.lease.release()
            app.state.engine.dispose()

    # Every route may meet a body that is not JSON (400) or the request deadline (504).
    app = FastAPI(title="ClaimStream query", version="0.1.0", lifespan=lifespan, **NO_CDN_DOCS,
                  responses=error_responses(400, 504))
    app.state.settings = settings
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    # Streams are long-lived by design: only ordinary requests get the deadline.
    app.add_middleware(RequestTimeout, seconds=15.0, exempt_paths={"/claims/stream", "/claims/ws"})
    install_error_handlers(app)
    add_offline_docs(app)
    for module in (claims, clusters, articles, revisions, health, page, watchlists, feedback_routes, trending):
        app.include_router(module.router)
    add_metrics_route(app)
    document_api_key(app, required=bool(settings.api_key))
    return app


async def _keep_projecting(app: FastAPI) -> None:
    """Run the projection; after a failure (or a watchdog restart), start a fresh consumer with backoff.

    Positions come from the database, so a restart resumes exactly where the
    last committed batch ended. On a database shared by several replicas this replica first waits
    for the writer lease (`lease.py`); until it has it, it is a follower that serves what the
    writer projects. The writer alone publishes the outbox and sends webhooks.
    """
    delay = 1.0
    lease: WriterLease = app.state.lease
    settings: QuerySettings = app.state.settings
    while True:
        app.state.follower = not lease.held
        while not await asyncio.to_thread(_try_lease, lease):  # noqa: ASYNC110 - polls a database lock
            await asyncio.sleep(settings.lease_retry_s)
        app.state.follower = False
        app.state.webhooks.active = True
        app.state.webhooks_reload = asyncio.create_task(_reload_webhooks(app), name="webhook-reload")
        outbox = asyncio.create_task(app.state.outbox.run(), name="outbox")
        # Its own task, so that the watchdog can cancel a stuck run without stopping this loop.
        app.state.projector_run = run = asyncio.create_task(app.state.projector.run(), name="projection")
        guard = asyncio.create_task(_guard_lease(lease, run, settings.lease_retry_s), name="lease-guard")
        try:
            await run
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # the service is stopping
                raise
            log.error("projection consumer stopped by the watchdog or a lost lease; restarting", retry_in_s=delay)
        except Exception as exc:  # noqa: BLE001 - keep the service alive, report and retry
            log.error("projection consumer failed; restarting", error=repr(exc), retry_in_s=delay)
        finally:
            for task in (guard, outbox, app.state.webhooks_reload):
                task.cancel()
            await asyncio.gather(guard, outbox, app.state.webhooks_reload, return_exceptions=True)
            if not lease.held:
                app.state.webhooks.active = False
        app.state.projector.ready.clear()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)
        # Same settings, commit callbacks and condition (which SSE streams may wait on).
        app.state.projector = app.state.projector.clone()


def _try_lease(lease: WriterLease) -> bool:
    try:
        return lease.try_acquire()
    except Exception as exc:  # noqa: BLE001 - the database away: stay a follower and try again
        log.error("could not try the writer lease", error=repr(exc))
        return False


async def _guard_lease(lease: WriterLease, run: asyncio.Task, every_s: float) -> None:
    """Stop writing as soon as the lease is lost (its connection ended): another replica may take it."""
    if not lease.shared:
        return
    while not run.done():
        await asyncio.sleep(every_s)
        if not await asyncio.to_thread(lease.still_held):
            run.cancel()
            return


async def _reload_webhooks(app: FastAPI) -> None:
    """The writer re-reads the watchlists now and then: another replica's API may have changed them."""
    if not app.state.lease.shared:
        return
    while True:
        await asyncio.sleep(app.state.settings.lease_retry_s)
        try:
            await app.state.webhooks.reload()
        except Exception as exc:  # noqa: BLE001 - keep the last targets
            log.error("watchlists not reloaded", error=repr(exc))


async def _watch_projection(app: FastAPI, stall_s: float) -> None:
    """Restart the projection consumer when a partition has messages waiting and makes no progress.

    A consumer that stopped fetching (a lost connection aiokafka does not notice, a hung
    write) would otherwise leave the feed silently behind; /healthz only sees the process.
    """
    watch: ProgressWatch[tuple[str, int]] = ProgressWatch(stall_s)
    projector = None
    while True:
        await asyncio.sleep(min(5.0, stall_s / 4))
        if app.state.projector is not projector:  # a fresh consumer: its clock starts now
            projector = app.state.projector
            watch.reset()
        if not projector.ready.is_set():
            continue
        stalls = watch.observe(projector.progress())
        if stalls:
            WATCHDOG_RESTARTS.inc()
            log.error("projection without progress; restarting its consumer",
                      stalled=[f"{topic}[{partition}] lag={s.lag} at {s.position} for {s.stalled_s:.0f}s"
                               for s in stalls for topic, partition in [s.key]])
            watch.reset()
            app.state.projector_run.cancel()


async def _export_feedback(app: FastAPI) -> None:
    """Recompute the feedback precision gauges when feedback arrived (API or topic)."""
    settings: QuerySettings = app.state.settings
    changed: asyncio.Event = app.state.feedback_changed
    known = await asyncio.to_thread(feedback.known_versions)
    while True:
        await changed.wait()
        changed.clear()
        try:
            await asyncio.to_thread(feedback.refresh, app.state.engine, settings.feedback_max_versions, known)
        except Exception as exc:  # noqa: BLE001 - gauges are best effort; the API answers from the database
            log.error("feedback gauges not updated", error=repr(exc))
        await asyncio.sleep(1.0)  # at most one recomputation per second


app = create_app()
