"""Prometheus helpers.

Every service process exposes its own default registry on `/metrics`; one
Prometheus job per service, one target per process, so no multiprocess
registry is needed.

Naming: `claimstream_<subsystem>_<name>_<unit>`, with subsystem `ingest`,
`processor` or `query`, base units (seconds, messages, ratio) and `_total` on
counters. Labels are bounded: a stage, a topic *thing* (`articles`, not the
namespaced topic name), a partition number, a reason from a fixed list, or the
keys of a top-k gauge that never holds more than k series (`TopK`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

# No `<name>_created` gauge beside every counter and histogram: it doubles the
# series and nothing here reads it (the services import this module first).
disable_created_metrics()

# Latency buckets from 1 ms to 2 min: covers one NLP batch up to a slow end-to-end path.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
# Longest label value a top-k gauge keeps (entity names and claim snippets come from articles).
MAX_LABEL_CHARS = 80


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


def init_labels(metric: MetricWrapperBase, *label_values: Iterable[str]) -> None:
    """Create the child of every combination of the known label values, at zero.

    A labelled counter has no series until its first increment, so `rate()` and
    the alert rules would see nothing at all instead of 0 for a reason that has
    not happened yet. `init_labels(ERRORS, STAGES, REASONS)` makes every pair exist.
    """
    combos: list[tuple[str, ...]] = [()]
    for values in label_values:
        combos = [(*combo, str(v)) for combo in combos for v in values]
    for combo in combos:
        metric.labels(*combo)


def label_value(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """Untrusted text made into a label value: one line, at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class TopK:
    """A gauge that holds exactly the latest top-k label sets and nothing else.

    `update()` sets the new values first and then removes the label sets that
    dropped out, so a scrape in between sees at most 2k series and never none;
    the number of series stays bounded however many distinct keys pass through.
    """

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], k: int) -> None:
        self.gauge = Gauge(name, documentation, list(labelnames))
        self.k = k
        self._current: dict[tuple[str, ...], float] = {}

    def update(self, rows: Iterable[tuple[Sequence[str], float]]) -> None:
        fresh: dict[tuple[str, ...], float] = {}
        for labels, value in rows:
            key = tuple(label_value(v) for v in labels)
            if key not in fresh and len(fresh) < self.k:
                fresh[key] = float(value)
        for key, value in fresh.items():
            self.gauge.labels(*key).set(value)
        for key in self._current.keys() - fresh.keys():
            try:
                self.gauge.remove(*key)
            except KeyError:
                pass
        self._current = fresh

    def series(self) -> dict[tuple[str, ...], float]:
        """The label sets currently exported and their values."""
        return dict(self._current)
