"""/metrics and /healthz on the faust web server."""

from __future__ import annotations

from services.common.metrics import metrics_payload
from services.processors import lag  # noqa: F401 - registers the consumer-lag service with the app
from services.processors.app import app


@app.page("/metrics")
async def metrics(web, request):
    payload, content_type = metrics_payload()
    return web.bytes(payload, content_type=content_type.split(";")[0])


@app.page("/healthz")
async def healthz(web, request):
    return web.json({"status": "ok"})
