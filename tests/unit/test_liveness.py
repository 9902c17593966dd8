"""The stalled-consumer rule and the event-loop lag probe (services/common/liveness.py)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Gauge, Histogram

from services.common.liveness import LoopLagProbe, ProgressWatch


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_partition_with_lag_and_no_progress_stalls_after_the_interval() -> None:
    clock = Clock()
    watch = ProgressWatch(stall_after_s=60, clock=clock)
    assert watch.observe({"p0": (5, 100)}) == []
    clock.now = 59
    assert watch.observe({"p0": (7, 100)}) == []
    clock.now = 61
    [stall] = watch.observe({"p0": (9, 100)})
    assert (stall.key, stall.lag, stall.position, stall.stalled_s) == ("p0", 9, 100, 61)


def test_progress_or_an_empty_backlog_restarts_the_clock() -> None:
    clock = Clock()
    watch = ProgressWatch(stall_after_s=10, clock=clock)
    watch.observe({"busy": (5, 100), "idle": (0, 7)})
    clock.now = 8
    watch.observe({"busy": (5, 101), "idle": (0, 7)})  # moved: the clock starts again
    clock.now = 15
    assert watch.observe({"busy": (5, 101), "idle": (0, 7)}) == []
    clock.now = 19
    assert [s.key for s in watch.observe({"busy": (5, 101), "idle": (0, 7)})] == ["busy"]
    # Idle for an hour at the same offset: nothing waits, so nothing is stalled.
    clock.now = 3600
    assert all(s.key != "idle" for s in watch.observe({"busy": (0, 101), "idle": (0, 7)}))


def test_partitions_given_away_are_forgotten() -> None:
    clock = Clock()
    watch = ProgressWatch(stall_after_s=10, clock=clock)
    watch.observe({"p0": (5, 100)})
    clock.now = 5
    watch.observe({})  # revoked in a rebalance
    clock.now = 12
    # Assigned again at the same offset: its clock starts now, not at 0.
    assert watch.observe({"p0": (5, 100)}) == []
    clock.now = 23
    assert [s.key for s in watch.observe({"p0": (5, 100)})] == ["p0"]


def _metrics() -> tuple[Histogram, Gauge, CollectorRegistry]:
    registry = CollectorRegistry()
    return (Histogram("t_loop_lag_seconds", "h", registry=registry),
            Gauge("t_loop_lag_max_seconds", "g", registry=registry), registry)


def test_the_gauge_holds_the_worst_lag_of_its_window() -> None:
    histogram, gauge, registry = _metrics()
    probe = LoopLagProbe(histogram, gauge, window_s=60)
    probe.record(0.002, now=0)
    probe.record(1.5, now=10)
    probe.record(0.003, now=20)
    assert registry.get_sample_value("t_loop_lag_max_seconds") == 1.5
    probe.record(-0.001, now=71)  # the 1.5 s sample is older than the window now; negatives count as 0
    assert registry.get_sample_value("t_loop_lag_max_seconds") == 0.003
    assert registry.get_sample_value("t_loop_lag_seconds_count") == 4


def test_a_blocking_call_shows_as_loop_lag() -> None:
    histogram, gauge, registry = _metrics()

    async def scenario() -> None:
        task = asyncio.create_task(LoopLagProbe(histogram, gauge, interval_s=0.05).run())
        await asyncio.sleep(0.12)
        time.sleep(0.4)  # noqa: ASYNC251 - holds the loop on purpose, as CPU-bound work in a handler would
        await asyncio.sleep(0.12)
        task.cancel()

    asyncio.run(scenario())
    assert registry.get_sample_value("t_loop_lag_max_seconds") >= 0.3
    assert registry.get_sample_value("t_loop_lag_seconds_bucket", {"le": "0.25"}) >= 1  # the quiet samples


# ---------------------------------------------------------------- the services' watchdogs

class _StuckProjector:
    """Reports a partition with messages waiting at a position that never moves; run() hangs."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.ready = asyncio.Event()
        self.ready.set()

    def progress(self) -> dict:
        return {("claimstream.claims.v1", 0): (12, 40)}

    async def run(self) -> None:
        self.log.append("run")
        await asyncio.Event().wait()

    def clone(self) -> _StuckProjector:
        self.log.append("clone")
        return _StuckProjector(self.log)


def test_the_query_watchdog_replaces_a_projection_without_progress(monkeypatch) -> None:
    from types import SimpleNamespace

    from services.common.database import create_engine_for
    from services.query import main
    from services.query.lease import WriterLease

    class Idle:  # the outbox publisher and the webhook dispatcher, which this test does not look at
        active = True

        async def run(self) -> None:
            await asyncio.Event().wait()

    log: list[str] = []
    engine = create_engine_for("sqlite://")  # one replica on its own database: the lease is always held
    app = SimpleNamespace(state=SimpleNamespace(projector=_StuckProjector(log), lease=WriterLease(engine),
                                                settings=SimpleNamespace(lease_retry_s=0.05), webhooks=Idle(),
                                                outbox=Idle()))
    before = main.WATCHDOG_RESTARTS._value.get()

    async def scenario() -> None:
        monkeypatch.setattr(main.asyncio, "sleep", _fast_sleep)
        keeper = asyncio.create_task(main._keep_projecting(app))
        watchdog = asyncio.create_task(main._watch_projection(app, stall_s=0.2))
        for _ in range(400):
            await _real_sleep(0.005)
            if log.count("clone") >= 1 and log.count("run") >= 2:
                break
        watchdog.cancel()
        keeper.cancel()
        await asyncio.gather(keeper, watchdog, return_exceptions=True)
        assert keeper.cancelled()  # stopping the service still stops the loop

    asyncio.run(scenario())
    assert log[:3] == ["run", "clone", "run"], log
    assert main.WATCHDOG_RESTARTS._value.get() > before


_real_sleep = asyncio.sleep


async def _fast_sleep(seconds: float) -> None:
    await _real_sleep(min(seconds, 0.02))


def test_the_processor_watchdog_stops_the_worker_once(monkeypatch) -> None:
    from aiokafka import TopicPartition

    from services.processors import lag

    crashes: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashes.append(exc)

    monkeypatch.setattr(lag.app, "crash", crash)
    monkeypatch.setattr(lag.settings, "watchdog_stall_s", 10.0)
    monkeypatch.setattr(lag.settings, "watchdog_exit_after_s", 3600.0)  # the backstop must not fire here
    monkeypatch.setattr(lag, "TRIPPED", [])
    tp, other = TopicPartition("claimstream.sentences.v1", 0), TopicPartition("claimstream.sentences.v1", 1)
    monitor = lag.ConsumerLagMonitor.__new__(lag.ConsumerLagMonitor)
    clock = Clock()
    monitor.watch = ProgressWatch(10.0, clock=clock)
    monkeypatch.setattr(monitor, "assigned", lambda: {(tp.topic, tp.partition)})  # `other` is another worker's

    async def scenario() -> None:
        await monitor.check_progress({tp: (3, 50), other: (9, 7)})
        clock.now = 11
        await monitor.check_progress({tp: (3, 50), other: (9, 7)})
        clock.now = 30
        await monitor.check_progress({tp: (3, 50), other: (9, 7)})

    asyncio.run(scenario())
    assert len(crashes) == 1 and "watchdog" in str(crashes[0])
    assert [stall.key for stall in lag.TRIPPED] == [(tp.topic, tp.partition)]


def _watched_monitor(monkeypatch, lag, tp):
    crashes: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashes.append(exc)

    monkeypatch.setattr(lag.app, "crash", crash)
    monkeypatch.setattr(lag.settings, "watchdog_stall_s", 60.0)
    monkeypatch.setattr(lag.settings, "watchdog_rebalance_stall_s", 300.0)
    monkeypatch.setattr(lag.settings, "watchdog_exit_after_s", 3600.0)
    monkeypatch.setattr(lag, "TRIPPED", [])
    monitor = lag.ConsumerLagMonitor.__new__(lag.ConsumerLagMonitor)
    monitor._admin = monitor._consumer = None
    clock = Clock()
    monitor.watch = ProgressWatch(60.0, clock=clock)
    monkeypatch.setattr(monitor, "assigned", lambda: {(tp.topic, tp.partition)})
    return monitor, clock, crashes


def test_the_processor_watchdog_does_not_charge_a_broker_outage_to_the_worker(monkeypatch) -> None:
    from aiokafka import TopicPartition

    from services.processors import lag

    tp = TopicPartition("claimstream.sentences.v1", 0)
    monitor, clock, crashes = _watched_monitor(monkeypatch, lag, tp)

    async def scenario() -> None:
        await monitor.check_progress({tp: (40, 500)})  # lag at the moment the whole cluster stops
        clock.now = 30
        await monitor.poll_failed(ConnectionError("cluster down"))
        clock.now = 95  # the first reading after a 90 s outage: the same committed offset
        await monitor.check_progress({tp: (90, 500)})
        clock.now = 150  # 55 s after the broker came back: still within the stall time
        await monitor.check_progress({tp: (120, 500)})

    asyncio.run(scenario())
    assert crashes == [] and lag.TRIPPED == []


def test_the_processor_watchdog_gives_a_rebalancing_worker_longer(monkeypatch) -> None:
    from aiokafka import TopicPartition

    from services.processors import lag

    tp = TopicPartition("claimstream.sentences.v1", 0)
    monitor, clock, crashes = _watched_monitor(monkeypatch, lag, tp)
    monkeypatch.setattr(lag.app, "rebalancing", True, raising=False)

    async def scenario() -> None:
        await monitor.check_progress({tp: (40, 500)})
        clock.now = 120  # joining and restoring its tables after a restart
        await monitor.check_progress({tp: (40, 500)})
        assert crashes == []
        clock.now = 301  # stuck in the rebalance: still stopped, later
        await monitor.check_progress({tp: (40, 500)})

    asyncio.run(scenario())
    assert len(crashes) == 1 and "watchdog" in str(crashes[0])
