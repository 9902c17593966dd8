"""Liveness checks shared by the services: a stalled-consumer rule and an event-loop lag probe.

Nothing here imports Kafka: the services feed `ProgressWatch` with the positions they
read (committed offsets for the processors' group, projected offsets for the query
service) and decide themselves what to do about a stall.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from prometheus_client import Gauge, Histogram

# Event-loop lag from 1 ms to 10 s: the target is "never above 1 s", the tail shows by how much.
LOOP_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


K = TypeVar("K", bound=Hashable)


@dataclass
class Stall(Generic[K]):
    key: K
    lag: int
    position: int
    stalled_s: float


@dataclass
class ProgressWatch(Generic[K]):
    """Finds partitions that have work waiting but whose position has not moved for `stall_after_s`.

    A partition with nothing waiting (lag 0) is idle, not stalled, however long its
    position stays put. The clock starts at the first observation that shows lag at an
    unchanged position, so a watch started on a backlog waits the full interval too.
    """

    stall_after_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _since: dict[K, tuple[int, float]] = field(default_factory=dict)

    def observe(self, positions: Mapping[K, tuple[int, int]]) -> list[Stall[K]]:
        """`positions`: key -> (lag, position) for the partitions this process is responsible for."""
        now = self.clock()
        stalls: list[Stall[K]] = []
        for key, (lag, position) in positions.items():
            seen = self._since.get(key)
            if lag <= 0 or seen is None or seen[0] != position:
                self._since[key] = (position, now)
                continue
            waited = now - seen[1]
            if waited >= self.stall_after_s:
                stalls.append(Stall(key, lag, position, waited))
        for key in self._since.keys() - positions.keys():  # no longer ours (rebalance)
            del self._since[key]
        return stalls

    def reset(self) -> None:
        self._since.clear()


class LoopLagProbe:
    """Measures how late the event loop wakes a task that asked to sleep `interval_s`.

    The lateness is the longest time anything else held the loop during that sleep
    (a blocking call, a CPU-bound handler). Each sample goes to `histogram`; `gauge`
    holds the worst sample of the last `window_s` seconds, which is what the
    "never blocked for more than 1 s" alert reads.
    """

    def __init__(self, histogram: Histogram, gauge: Gauge, interval_s: float = 0.25, window_s: float = 60.0) -> None:
        self.histogram = histogram
        self.gauge = gauge
        self.interval_s = interval_s
        self.window_s = window_s
        self._recent: deque[tuple[float, float]] = deque()  # (sampled at, lag), newest last

    def record(self, lag: float, now: float) -> None:
        lag = max(0.0, lag)
        self.histogram.observe(lag)
        self._recent.append((now, lag))
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        self.gauge.set(max(sample for _, sample in self._recent))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval_s)
            woke = loop.time()
            self.record(woke - started - self.interval_s, woke)


def loop_lag_metrics(subsystem: str) -> tuple[Histogram, Gauge]:
    """The two event-loop metrics of a service: claimstream_<subsystem>_event_loop_lag[_max]_seconds."""
    return (
        Histogram(f"claimstream_{subsystem}_event_loop_lag_seconds",
                  "How late the event loop woke a sleeping probe task", buckets=LOOP_LAG_BUCKETS),
        Gauge(f"claimstream_{subsystem}_event_loop_lag_max_seconds",
              "Worst event-loop lag of the last 60 s"),
    )
