"""Prometheus helpers.

Every service process exposes its own default registry on `/metrics`; one
Prometheus job per service, one target per process, so no multiprocess
registry is needed. Names follow `claimstream_<subsystem>_<name>_<unit>`.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

# Latency buckets from 1 ms to 2 min: covers one NLP batch up to a slow end-to-end path.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)


def metrics_payload() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


def stage_metrics(subsystem: str) -> tuple[Counter, Counter, Counter, Histogram]:
    """messages in, messages out, errors and duration per stage of a subsystem."""
    return (
        Counter(f"claimstream_{subsystem}_messages_in_total", "Messages consumed", ["stage"]),
        Counter(f"claimstream_{subsystem}_messages_out_total", "Messages produced", ["stage"]),
        Counter(f"claimstream_{subsystem}_errors_total", "Messages that failed", ["stage", "reason"]),
        Histogram(f"claimstream_{subsystem}_stage_duration_seconds", "Time spent in a stage per batch",
                  ["stage"], buckets=LATENCY_BUCKETS),
    )
