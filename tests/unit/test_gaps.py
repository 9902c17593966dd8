"""A jump past unprocessed input records stops the worker; nothing is marked as done."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict

import pytest
from faust.transport import consumer as faust_consumer
from faust.types import TP

from services.processors import gaps


class _Consumer:
    def __init__(self) -> None:
        self._committed_offset = defaultdict(lambda: None, {})
        self._gap = defaultdict(list)


@pytest.fixture()
def crashes(monkeypatch):
    seen = []

    async def crash(exc):
        seen.append(exc)

    monkeypatch.setattr(gaps.lag.app, "crash", crash)
    monkeypatch.setattr(gaps.lag.threading, "Timer", lambda *a, **kw: type("T", (), {"start": lambda self: None,
                                                                               "daemon": True})())
    return seen


def test_the_worker_uses_the_refusing_gap_handler():
    from services.processors import agents  # noqa: F401 - the worker's modules install it

    assert faust_consumer.Consumer._add_gap is gaps.refuse_gap


async def test_a_gap_in_an_input_topic_stops_the_worker_and_marks_nothing(crashes):
    consumer = _Consumer()
    tp = TP(sorted(gaps.INPUT_TOPICS)[0], 2)
    consumer._committed_offset[tp] = 100
    with pytest.raises(gaps.RecordsSkipped, match=r"\[2\] jumped past 101..107"):
        await gaps.refuse_gap(consumer, tp, 101, 107)
    assert len(crashes) == 1 and isinstance(crashes[0], gaps.RecordsSkipped)
    assert consumer._gap == {}


async def test_other_topics_keep_fausts_gap_filling(crashes, monkeypatch):
    filled = []

    async def faust_fill(consumer, tp, a, b):
        filled.append((tp, a, b))

    monkeypatch.setattr(gaps, "_faust_add_gap", faust_fill)
    tp = TP("someone-elses-compacted-topic", 0)
    await gaps.refuse_gap(_Consumer(), tp, 5, 9)
    assert filled == [(tp, 5, 9)] and crashes == []


def test_the_supervisor_restarts_a_failing_command_and_stops_on_success(tmp_path):
    counter = tmp_path / "runs"
    script = (f"import pathlib,sys; p=pathlib.Path({str(counter)!r}); n=len(p.read_text()) if p.exists() else 0; "
              "p.write_text('x'*(n+1)); sys.exit(1 if n < 2 else 0)")
    from services.common import supervise

    done = subprocess.run([sys.executable, "-c", f"import services.common.supervise as s; s.RESTART_DELAY_S=0.05; "
                           f"import sys; sys.exit(s.main([sys.executable, '-c', {script!r}]))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert counter.read_text() == "xxx"
    assert done.stderr.count("exited with code 1; restarting") == 2
    assert supervise.RESTART_DELAY_S > 0


class _Fetching:
    """A consumer whose fetch returns while a rebalance (or a seek) happens meanwhile."""

    def __init__(self, during=None) -> None:
        self.app = type("App", (), {"consumer_generation_id": 4})()
        self.during = during

    async def fetch(self, consumer, timeout):
        if self.during:
            await self.during(consumer)
        return {TP("t", 0): ["r1", "r2"]}, {TP("t", 0)}


@pytest.mark.parametrize("what", ["nothing", "rebalance", "seek"])
async def test_a_fetch_that_spans_a_rebalance_or_seek_is_dropped(monkeypatch, what):
    async def rebalance(consumer):
        consumer.app.consumer_generation_id += 1

    async def seek(consumer):
        consumer._claimstream_seeks = getattr(consumer, "_claimstream_seeks", 0) + 1

    fake = _Fetching({"nothing": None, "rebalance": rebalance, "seek": seek}[what])
    monkeypatch.setattr(gaps, "_faust_wait_next_records", fake.fetch)
    records, active = await gaps.fresh_records(fake, 1.0)
    assert active == {TP("t", 0)}
    assert (records is None) == (what != "nothing")


def test_the_worker_uses_the_fresh_fetch_and_counted_seek():
    from services.processors import agents  # noqa: F401 - the worker's modules install it

    assert faust_consumer.Consumer._wait_next_records is gaps.fresh_records
    assert faust_consumer.Consumer.perform_seek is gaps.counted_seek


async def test_a_seek_while_a_fetch_is_handed_out_ends_it(monkeypatch):
    consumer = type("C", (), {})()

    async def faust_getmany(c, timeout):
        for offset in range(5):
            if offset == 2:  # the recovery seeks back to the committed offsets meanwhile
                c._claimstream_seeks = getattr(c, "_claimstream_seeks", 0) + 1
            yield TP("t", 0), offset

    monkeypatch.setattr(gaps, "_faust_getmany", faust_getmany)
    got = [offset async for _, offset in gaps.fresh_getmany(consumer, 1.0)]
    assert got == [0, 1]
    consumer2 = type("C", (), {})()
    monkeypatch.setattr(gaps, "_faust_getmany", lambda c, t: _plain(5))
    assert [o async for _, o in gaps.fresh_getmany(consumer2, 1.0)] == [0, 1, 2, 3, 4]


async def _plain(n):
    for offset in range(n):
        yield TP("t", 0), offset


class _Acking:
    """The bookkeeping faust's `_new_offset` reads: acked offsets, the committed one, gaps."""

    def __init__(self, tp, committed: int, acked: list[int]) -> None:
        self._committed_offset = defaultdict(lambda: None, {tp: committed})
        self._acked = defaultdict(list, {tp: list(acked)})
        self._acked_index = defaultdict(set, {tp: set(acked)})
        self._gap = defaultdict(list)


def test_a_commit_never_passes_the_unacked_record_at_the_committed_offset():
    tp = TP(sorted(gaps.INPUT_TOPICS)[0], 1)
    # Offset 40 committed = record 40 is the next to process; it was never acked, 41-43 were.
    assert gaps._faust_new_offset(_Acking(tp, 40, [41, 42, 43]), tp) == 44  # faust alone: 40 is lost
    consumer = _Acking(tp, 40, [41, 42, 43])
    assert gaps.commit_only_contiguous(consumer, tp) is None
    assert consumer._acked[tp] == [41, 42, 43]  # kept for the commit once 40 is acked
    consumer._acked[tp].append(40)
    consumer._acked_index[tp].add(40)
    assert gaps.commit_only_contiguous(consumer, tp) == 44
    assert gaps.commit_only_contiguous(_Acking(tp, 40, [40, 41, 45]), tp) == 42  # up to the first hole
    other = TP("someone-elses-topic", 0)
    assert gaps.commit_only_contiguous(_Acking(other, 40, [41]), other) == 42  # faust's rule elsewhere


def test_the_worker_commits_only_contiguous_acks():
    from services.processors import agents  # noqa: F401

    assert faust_consumer.Consumer._new_offset is gaps.commit_only_contiguous


class _Message:
    def __init__(self, topic: str, offset: int, generation_id: int) -> None:
        self.topic, self.offset, self.generation_id = topic, offset, generation_id
        self.tp, self.acked = TP(topic, 0), False


def test_an_ack_from_an_earlier_generation_is_not_recorded_for_the_commit(monkeypatch):
    recorded = []
    monkeypatch.setattr(gaps, "_faust_ack", lambda consumer, message: recorded.append(message.offset) or True)
    consumer = type("C", (), {})()
    consumer.app = type("App", (), {"consumer_generation_id": 7})()
    consumer._unacked_messages = set()
    topic = sorted(gaps.INPUT_TOPICS)[0]
    stale = _Message(topic, 12, generation_id=6)  # fetched before the rebalance, skipped by the stream
    consumer._unacked_messages.add(stale)
    assert gaps.ack_current_generation(consumer, stale) is False
    assert recorded == [] and stale.acked and stale not in consumer._unacked_messages
    assert gaps.ack_current_generation(consumer, _Message(topic, 12, generation_id=7)) is True
    assert gaps.ack_current_generation(consumer, _Message("someone-elses-topic", 3, generation_id=6)) is True
    assert recorded == [12, 3]


def test_the_worker_records_only_current_generation_acks():
    from services.processors import agents  # noqa: F401

    assert faust_consumer.Consumer.ack is gaps.ack_current_generation
