"""/metrics and /healthz on the faust web server."""

from __future__ import annotations

import mode

from services.common.liveness import LoopLagProbe
from services.common.metrics import metrics_payload
from services.processors import lag
from services.processors.app import app
from services.processors.metrics import LOOP_LAG, LOOP_LAG_MAX


@app.service
class EventLoopProbe(mode.Service):
    """Exports how long the worker's event loop was held (claimstream_processor_event_loop_lag_*)."""

    @mode.Service.task
    async def _probe(self) -> None:
        await LoopLagProbe(LOOP_LAG, LOOP_LAG_MAX).run()


@app.page("/metrics")
async def metrics(web, request):
    payload, content_type = metrics_payload()
    return web.bytes(payload, content_type=content_type.split(";")[0])


@app.page("/healthz")
async def healthz(web, request):
    stalled = [f"{topic}[{partition}]" for stall in lag.TRIPPED
               for topic, partition in [stall.key]]
    if stalled:  # a liveness probe restarts the pod even when the exit is slow
        return web.json({"status": "stalled", "partitions": stalled}, status=503)
    return web.json({"status": "ok"})
