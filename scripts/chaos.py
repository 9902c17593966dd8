#!/usr/bin/env python
"""Fault scenarios against the real ClaimStream stack, each followed by a reconciliation.

    .venv/bin/python scripts/chaos.py [--reduced] [--brokers 3] [--rate A/S] [--out test-output/chaos.json]
                                      [--bootstrap HOST:PORT]

Full run: starts its OWN Kafka broker (deploy/kafka/kafka.sh on free ports, private
KAFKA_HOME_DIR, the repo's cached jars linked) so that it may stop and restart it; the
shared broker is never touched. `--reduced` (used by `make test`) skips the broker scenario
and runs on KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092) with a fresh namespace.
Both start processors, query and ingest on free ports (scripts/stackctl.py) and stop
everything they started when they end, also on Ctrl-C / SIGTERM.

Scenarios (full run, in this order, the broker last; reduced: kill9, poison, query_restart):

- kill9: SIGKILL to the processors worker's process group mid-stream, then start it again.
- scale: processor workers 1 -> 2 -> 1: a second worker joins (rebalance), runs until it has
  annotated sentences and 8 s more, then stops gracefully (LeaveGroup, rebalance).
- query_restart: SIGTERM to the query service mid-stream, start it again on the same database.
- poison: on every input topic of the processors (articles, sentences, candidates,
  annotations) one message that is not JSON, one JSON of the wrong schema and one empty value,
  plus on `articles` (4 MiB topic limit) a 2.5 MiB payload over the processors' 2 MiB limit;
  `clusters` (read by the query only) gets the first two kinds and must be skipped there.
- broker_restart: `kafka.sh down` (SIGTERM, data kept) while articles flow, 25 s down (so that
  ingest's 30 s publish timeout runs out and it answers 503/504), `kafka.sh up`.

With `--brokers 3` the own broker is a three-node KRaft cluster (kafka.sh KAFKA_BROKERS=3; every
topic and changelog with 3 copies and min.insync.replicas 2, so acks=all goes on with one node
down) and three scenarios come before broker_restart (which then stops and starts the whole cluster):

- broker_kill9: SIGKILL to one node that is not the active controller, 15 s down, restarted.
- controller_kill: SIGKILL to the active controller (the KRaft quorum leader), 15 s down, restarted.
- broker_freeze: SIGSTOP to a node that is not the active controller for 20 s, then SIGCONT.
These count in max_stall_s: one node away must not stop the pipeline.

Load: --rate articles/s during every scenario; the default is half the capacity `make bench`
measured (half of one_worker.articles_per_s in test-output/bench.json when it exists, else half
of the 4.2 articles/s recorded in the README).

Load: articles from samples/generator.py posted to /articles/batch in small batches at a
steady rate during each scenario, like a client: a 503/504 or a connection error is retried
with the same articles (same ids) with backoff. Acknowledged = a 202 answer with status
"published"; a "duplicate" answer to a retry of ours also means an earlier attempt reached
Kafka (ingest records an id only after Kafka's ack), so it is checked too (counted apart).

Reconciliation after each scenario, over every article acknowledged so far:
- expected claims per article: the functions behind `claimstream annotate` (prepare_article,
  stages.annotate.split_article, annotate_sentences) in this process, with the services' claim model
  and threshold; expected = distinct claim ids (schemas.ids.claim_id(article_id, text)) among
  the is_claim sentences (a sentence repeated word for word in one article is one claim);
- the processors' own decisions: the annotations topic, read to its end (is_claim, score and
  model version of every sentence);
- the feed: GET /claims paged with the cursor to the end. lost = claims absent from the feed
  although the processors annotated the sentence as a claim, or although the offline run
  expects one and the processors never annotated that sentence; duplicated = feed items
  beyond the first with the same claim_id or the same (article_id, text); unexpected = feed
  claims that neither the offline run nor the processors' annotations call a claim.
  scored_differently counts sentences where the offline run and the processors disagree on
  is_claim (a model or code difference between this process and the workers, e.g. a model
  file replaced while the run goes on), with examples; offline_mismatch is the strict count
  (expected-offline claims absent from the feed plus feed claims not expected offline).
  GET /articles/{id} of every acknowledged article must show the offline sentence count and,
  per sentence, the processors' is_claim (projection consistency).
- dead letters: every poison message (topic, partition, offset as acknowledged to our
  producer) must have a MessageDeadLettered in the deadletter topic with the expected reason.
- the claims topic itself is read too: redelivered claim ids there (at-least-once) are
  reported as `topic_redeliveries`, to show what the query's idempotent writes absorb.
The reconciliation waits (up to the drain timeout) until the pipeline is idle and the feed
is complete, then takes the last reading.

Stall, defined precisely. Every 0.5 s this script reads, for each partition of the topics a
component consumes, the end offset and the component's position: for the processors the
consumer group's committed offset (admin OffsetFetch; topics articles, sentences,
candidates, annotations), for the query projection the offset stored in its database
(consumed_offsets + 1; topics articles, annotations, claims, clusters), where a partition whose
lag on the query's own claimstream_query_consumer_lag_messages gauge is 0 counts as caught up
(skipped undecodable messages are not stored as offsets). A partition is *waiting* when
end > position. Its stall is the time since the last sample at which it was not waiting or its
position had moved; max_stall_s is the largest stall seen. Not counted: the time the broker is
deliberately down (every clock restarts when it answers again) and the query's own planned
downtime (from SIGTERM until the new process answers /healthz; its clocks restart then; the
downtime is reported as query_downtime_s). A killed processors worker is NOT excused: its
restart, the rebalance and table recovery all count. Resolution: the 0.5 s sampling plus
faust's commit interval (1 s, services/processors/app.py), since committed offsets move only at
commits.

The last line printed is:
chaos: scenarios=… lost=… duplicated=… deadlettered=<found>/<poison sent> max_stall_s=…
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stackctl
from samples.generator import ArticleSupply as Supply  # soak.py imports it from here by this name
from stackctl import ROOT, log

logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the broker scenario makes it very chatty

PROCESSOR_INPUTS = ("articles", "candidates")  # what the processors consume (annotate_articles, match_claims)
QUERY_INPUTS = ("articles", "annotations", "claims", "clusters")
STAGE_OF = {"articles": "split", "candidates": "match"}
MAX_PROCESSOR_MESSAGE = 2 * 1024 * 1024


@dataclass
class Config:
    scenarios: tuple
    rate: float  # articles/s posted during a scenario
    batch: int
    before_s: float  # load before the fault
    after_s: float  # load after recovery
    drain_timeout_s: float
    own_broker: bool
    broker_down_s: float = 25.0  # longer than ingest's 30 s publish timeout once stop and start are added
    node_down_s: float = 15.0  # one cluster node killed: how long it stays away
    freeze_s: float = 20.0  # one cluster node SIGSTOPped: how long


# The broker restart goes last: if it breaks the processors (see the report), the reconciliation,
# which is cumulative, would otherwise charge its losses to every later scenario too.
FULL = Config(("kill9", "scale", "query_restart", "poison", "broker_restart"), rate=2.0, batch=2,
              before_s=8, after_s=8, drain_timeout_s=240, own_broker=True)
REDUCED = Config(("kill9", "poison", "query_restart"), rate=2.0, batch=2, before_s=4, after_s=3,
                 drain_timeout_s=150, own_broker=False)
# A cluster's own scenarios before broker_restart (which stays last, for the reason above).
CLUSTER_SCENARIOS = ("kill9", "scale", "query_restart", "poison", "broker_kill9", "controller_kill",
                     "broker_freeze", "broker_restart")

# One worker's capacity (articles/s) in the last `make bench` recorded in the README (commit 0d8f5b7).
RECORDED_CAPACITY = 4.2


def default_rate(bench_json: Path, recorded: float = RECORDED_CAPACITY) -> tuple[float, str]:
    """Half the capacity `make bench` measured: (articles/s, where the capacity came from)."""
    try:
        capacity = float(json.loads(bench_json.read_text())["one_worker"]["articles_per_s"])
        if capacity > 0:
            return round(capacity / 2, 2), str(bench_json)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return round(recorded / 2, 2), "README (make bench, 4.2 articles/s)"


# --------------------------------------------------------------------------------------------------
# Load


@dataclass
class LoadStats:
    posted: int = 0
    published: int = 0
    duplicate_on_retry: int = 0
    requests: int = 0
    retried_requests: int = 0
    http_errors: Counter = field(default_factory=Counter)
    gave_up: int = 0


class Load:
    """Posts batches at a steady rate while running; each batch is retried until acknowledged."""

    def __init__(self, ingest_url: str, supply: Supply, acked: dict, rate: float, batch: int,
                 give_up_s: float = 150):
        self.url = f"{ingest_url}/articles/batch"
        self.supply, self.acked, self.rate, self.batch = supply, acked, rate, batch
        self.give_up_s = give_up_s
        self.stats = LoadStats()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._posts: set[asyncio.Task] = set()
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(45, connect=5))

    def start(self) -> None:
        self._stop.clear()
        self.stats = LoadStats()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> LoadStats:
        """Stop posting new batches and wait until every batch in flight is acknowledged (or given up)."""
        self._stop.set()
        if self._task:
            await self._task
        if self._posts:
            await asyncio.gather(*self._posts, return_exceptions=True)
        return self.stats

    async def close(self) -> None:
        await self.client.aclose()

    async def _run(self) -> None:
        interval = self.batch / self.rate
        t0 = time.monotonic()
        k = 0
        while not self._stop.is_set():
            articles = self.supply.take(self.batch)
            task = asyncio.create_task(self._post(articles))
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)
            k += 1
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, t0 + k * interval - time.monotonic()))
            except TimeoutError:
                pass

    async def _post(self, articles: list[dict]) -> None:
        s = self.stats
        s.posted += len(articles)
        deadline = time.monotonic() + self.give_up_s
        delay, attempt = 0.5, 0
        while True:
            attempt += 1
            s.requests += 1
            try:
                r = await self.client.post(self.url, json=articles)
                if r.status_code == 202:
                    by_id = {a["id"]: a for a in articles}
                    for item in r.json()["articles"]:
                        if item["status"] == "published" or attempt > 1:
                            status = item["status"] if item["status"] == "published" else "duplicate_on_retry"
                            self.acked[item["id"]] = {"article": by_id[item["id"]], "status": status,
                                                      "acked_at": time.monotonic()}
                            if status == "published":
                                s.published += 1
                            else:
                                s.duplicate_on_retry += 1
                    if attempt > 1:
                        s.retried_requests += 1
                    return
                s.http_errors[str(r.status_code)] += 1
                if r.status_code not in (503, 504):
                    log(f"ingest answered {r.status_code}: {r.text[:300]}")
                    return
            except httpx.TransportError as exc:
                s.http_errors[type(exc).__name__] += 1
            if time.monotonic() + delay > deadline:
                s.gave_up += len(articles)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 4.0)


# --------------------------------------------------------------------------------------------------
# Stall monitor


@dataclass
class PartitionClock:
    position: int = -2
    last_ok: float = 0.0


class StallMonitor:
    """Samples positions and end offsets every `interval` s; see the module docstring."""

    def __init__(self, stack: stackctl.Stack, interval: float = 0.5):
        self.stack, self.interval = stack, interval
        self.clocks: dict[tuple, PartitionClock] = {}
        self.paused: set[str] = set()
        self.max_stall = {"processors": 0.0, "query": 0.0}
        self.worst: dict[str, tuple] = {}
        self.samples = 0
        self.errors = 0
        self.lags: dict[str, dict[tuple, int]] = {"processors": {}, "query": {}}
        self.topics_p = [stack.topic(t) for t in PROCESSOR_INPUTS]
        self.topics_q = [stack.topic(t) for t in QUERY_INPUTS]
        self._task: asyncio.Task | None = None
        self._watch: stackctl.OffsetWatch | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._watch:
            await self._watch.close()

    def reset_scenario(self) -> None:
        self.max_stall = {"processors": 0.0, "query": 0.0}
        self.worst = {}

    def pause(self, *components: str) -> None:
        self.paused.update(components)

    def resume(self, *components: str) -> None:
        now = time.monotonic()
        for c in components:
            self.paused.discard(c)
            for key, clock in self.clocks.items():
                if key[0] == c:
                    clock.last_ok = now

    def idle(self) -> bool:
        """Nothing waiting anywhere at the last sample (and at least one sample of each)."""
        return bool(self.lags["processors"]) and bool(self.lags["query"]) and \
            not any(self.lags["processors"].values()) and not any(self.lags["query"].values())

    def _observe(self, component: str, key: tuple, end: int, position: int, caught_up: bool, now: float) -> None:
        clock = self.clocks.get((component, *key))
        if clock is None:
            clock = self.clocks[(component, *key)] = PartitionClock(position, now)
        waiting = end > position and not caught_up
        self.lags[component][key] = max(0, end - position) if waiting else 0
        if not waiting or position != clock.position:
            clock.last_ok = now
        clock.position = position
        stall = now - clock.last_ok
        if stall > self.max_stall[component]:
            self.max_stall[component] = stall
            self.worst[component] = (key[0].rsplit(".", 2)[-2], key[1], round(stall, 2), end, position)

    async def _query_positions(self) -> tuple[dict, dict]:
        db = self.stack.workdir / "query.db"

        def read() -> dict:
            if not db.exists():
                return {}
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
            try:
                rows = con.execute("SELECT topic, partition, offset FROM consumed_offsets")
                return {(t, p): o + 1 for t, p, o in rows}
            except sqlite3.OperationalError:
                return {}
            finally:
                con.close()

        stored = await asyncio.to_thread(read)
        lag_gauge: dict = {}
        if self.stack.query and self.stack.query.alive():
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    text = (await client.get(f"{self.stack.query_url}/metrics")).text
                for (name, labels), value in stackctl.parse_metrics(text).items():
                    if name == "claimstream_query_consumer_lag_messages":
                        d = dict(labels)
                        lag_gauge[(stackctl_topic(self.stack, d["topic"]), int(d["partition"]))] = value
            except httpx.HTTPError:
                pass
        return stored, lag_gauge

    async def _run(self) -> None:
        while True:
            t_next = time.monotonic() + self.interval
            try:
                await self.sample()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - broker away, coordinator moving: no reading this time
                self.errors += 1
                if self._watch:
                    await self._watch.close()
                    self._watch = None
            await asyncio.sleep(max(0.05, t_next - time.monotonic()))

    async def sample(self) -> None:
        if "all" in self.paused:
            return
        if self._watch is None:
            self._watch = stackctl.OffsetWatch(self.stack.bootstrap, self.stack.group_id,
                                               sorted(set(self.topics_p) | set(self.topics_q)))
        offsets = await asyncio.wait_for(self._watch.read(), timeout=8)
        now = time.monotonic()
        self.samples += 1
        if "processors" not in self.paused:
            for key in offsets.end:
                if key[0] in self.topics_p:
                    self._observe("processors", key, offsets.end[key], offsets.committed[key], False, now)
        if "query" not in self.paused:
            stored, lag_gauge = await self._query_positions()
            now = time.monotonic()
            for key in offsets.end:
                if key[0] in self.topics_q:
                    caught_up = lag_gauge.get(key) == 0
                    self._observe("query", key, offsets.end[key], stored.get(key, 0), caught_up, now)

    def report(self) -> dict:
        return {"processors_max_stall_s": round(self.max_stall["processors"], 2),
                "query_max_stall_s": round(self.max_stall["query"], 2),
                "worst": {k: {"topic": v[0], "partition": v[1], "stall_s": v[2], "end": v[3], "position": v[4]}
                          for k, v in self.worst.items()}}


def stackctl_topic(stack: stackctl.Stack, thing: str) -> str:
    return stack.topic(thing) if not thing.startswith(stack.namespace) else thing


# --------------------------------------------------------------------------------------------------
# Poison


@dataclass
class Poison:
    topic: str
    kind: str
    reason: str  # expected dead-letter reason ("" = not dead-lettered: only the query reads it)
    partition: int = -1
    offset: int = -1
    size: int = 0


async def send_poison(stack: stackctl.Stack, tag: str) -> list[Poison]:
    producer = stackctl.make_raw_producer(stack.bootstrap)
    await producer.start()
    sent = []
    try:
        plan = []
        for thing in PROCESSOR_INPUTS:
            plan += [(thing, "not_json", b"\xff\xfe{not json at all", "not_json"),
                     (thing, "wrong_schema", json.dumps({"hello": "world", "n": 1}).encode(), "schema_mismatch"),
                     (thing, "empty", b"", "empty")]
        # Over the processors' 2 MiB limit, under the articles topic's 4 MiB (JSON, not an article).
        big = json.dumps({"padding": "x" * (MAX_PROCESSOR_MESSAGE + 512 * 1024)}).encode()
        plan.append(("articles", "oversized", big, "oversized"))
        for kind, payload in (("not_json", b"<html>not json</html>"),
                              ("wrong_schema", json.dumps({"cluster": 1}).encode())):
            plan.append(("clusters", kind, payload, ""))
        for n, (thing, kind, payload, reason) in enumerate(plan):
            key = json.dumps({"article_id": f"{tag}-poison-{n}"}).encode()
            meta = await (await producer.send(stack.topic(thing), key=key, value=payload))
            sent.append(Poison(stack.topic(thing), kind, reason, meta.partition, meta.offset, len(payload)))
    finally:
        await producer.stop()
    return sent


# --------------------------------------------------------------------------------------------------
# Reconciliation


class Expectations:
    """Expected claims per article, computed offline in this process with the functions behind
    `claimstream annotate` (prepare_article -> stages.annotate.split_article -> annotate_sentences),
    in a worker thread, with the services' claim model and threshold.

    Articles are cleaned with one outlet memory, in the order they were posted, as ingest's own
    IngestService does: a line seen in several earlier articles of the outlet is page furniture
    there. Without it, article 531 of seed 2 expects a 14th sentence ("Damage to farms and homes is
    estimated at $2.88 billion, officials said.") that ingest rightly never publishes, and every run
    that reaches it reports one lost claim that no Kafka fault caused."""

    def __init__(self) -> None:
        from services.nlp.furniture import OutletMemory

        self.by_article: dict[str, dict] = {}
        self.memory = OutletMemory()
        self.model_version: str | None = None
        self.threshold: float | None = None
        self._lock = threading.Lock()

    @staticmethod
    def load_models() -> None:
        from services.nlp import claims, entities

        entities.load_nlp()
        claims.score_claims(["warm up"])

    def _compute(self, articles: list[dict]) -> None:
        from schemas.ids import claim_id
        from services.ingest.models import ArticleIn
        from services.ingest.prepare import article_received, prepare_article
        from services.nlp import claims
        from services.processors.settings import ProcessorSettings
        from services.stages import annotate

        threshold = ProcessorSettings().threshold()
        with self._lock:
            self.model_version = claims.model_version()
            self.threshold = threshold
            for raw in sorted(articles, key=lambda a: a["id"]):  # ids count up in posting order
                if raw["id"] in self.by_article:
                    continue
                received = article_received(prepare_article(ArticleIn.model_validate(raw), self.memory), 1, "batch")
                annotated = annotate.annotate_sentences(annotate.split_article(received), threshold)
                self.by_article[raw["id"]] = {
                    "sentences": len(annotated),
                    "claim_sentences": sum(1 for a in annotated if a.is_claim),
                    "claims": {claim_id(a.article_id, a.text) for a in annotated if a.is_claim},
                    # claim id of every sentence -> (is_claim, score): to tell a scoring difference from a loss
                    "decisions": {claim_id(a.article_id, a.text): (a.is_claim, a.claim_score) for a in annotated},
                }

    async def ensure(self, articles: list[dict]) -> None:
        todo = [a for a in articles if a["id"] not in self.by_article]
        if todo:
            await asyncio.to_thread(self._compute, todo)

    async def follow(self, acked: dict, every: float = 2.0) -> None:
        """Keep up with the acknowledged articles in the background (cancelled at the end)."""
        while True:
            await self.ensure([v["article"] for v in list(acked.values())])
            await asyncio.sleep(every)


async def fetch_feed(client: httpx.AsyncClient, query_url: str) -> list[dict]:
    items, cursor = [], None
    for _ in range(10_000):
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"{query_url}/claims", params=params)).json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return items


async def check_articles(client: httpx.AsyncClient, query_url: str, acked: dict, expect: Expectations,
                         stream: dict) -> dict:
    """GET /articles/{id}: every sentence there (as many as the offline split finds), each with the
    processors' own is_claim decision from the annotations topic (projection consistency)."""
    from schemas.ids import claim_id

    bad = []
    sem = asyncio.Semaphore(8)

    async def one(aid: str) -> None:
        async with sem:
            r = await client.get(f"{query_url}/articles/{aid}")
        if r.status_code != 200:
            bad.append({"article_id": aid, "status": r.status_code})
            return
        body = r.json()
        annotated = stream.get(aid, {})
        wrong = [s["text"][:60] for s in body["sentences"]
                 if annotated.get(claim_id(aid, s["text"]), (None,))[0] != s["is_claim"]]
        expected = expect.by_article[aid]["sentences"]
        if body["sentence_count"] != expected or len(body["sentences"]) != expected or wrong:
            bad.append({"article_id": aid, "sentences": len(body["sentences"]), "expected": expected,
                        "is_claim_not_as_annotated": wrong[:3]})

    await asyncio.gather(*(one(aid) for aid in acked))
    return {"checked": len(acked), "inconsistent": len(bad), "examples": bad[:5]}


async def stream_decisions(stack: stackctl.Stack) -> tuple[dict, Counter]:
    """article id -> claim id -> (is_claim, score, model version), as the processors annotated it."""
    from schemas.ids import claim_id

    out: dict[str, dict] = defaultdict(dict)
    versions: Counter = Counter()
    for r in await stackctl.read_topics(stack.bootstrap, [stack.topic("annotations")]):
        try:
            d = json.loads(r.value or b"")
            out[d["article_id"]][claim_id(d["article_id"], d["text"])] = (d["is_claim"], d["claim_score"],
                                                                           d["model_version"])
            versions[d["model_version"]] += 1
        except (ValueError, KeyError, TypeError):
            continue
    return out, versions


def compare(feed: list[dict], acked: dict, expect: Expectations, stream: dict) -> dict:
    """lost: a claim absent from the feed although the processors' own annotation says it is one, or
    although the offline run says it is one and the processors never annotated that sentence.
    scored_differently: the offline run and the processors decided differently on the same sentence
    (a model or code difference, not a loss; listed with both scores). offline_mismatch: the strict
    count of expected-offline claims absent from the feed plus feed claims not expected offline."""
    per_article: dict[str, list[dict]] = defaultdict(list)
    for item in feed:
        per_article[item["article_id"]].append(item)
    by_id = Counter(i["claim_id"] for i in feed)
    by_text = Counter((i["article_id"], " ".join(i["text"].split())) for i in feed)
    duplicated = sum(c - 1 for c in by_id.values() if c > 1) + sum(c - 1 for c in by_text.values() if c > 1)
    lost = lost_articles = unexpected = lost_retry = offline_mismatch = unannotated = 0
    differently: list[dict] = []
    n_differently = 0
    examples: list[dict] = []
    for aid, info in acked.items():
        offline = expect.by_article[aid]
        want = offline["claims"]
        annotated = stream.get(aid, {})
        have = {i["claim_id"] for i in per_article.get(aid, [])}
        offline_mismatch += len(want - have) + len(have - want)
        missing = 0
        for cid, (off_claim, off_score) in offline["decisions"].items():
            got = annotated.get(cid)
            if got is None:
                unannotated += 1
                missing += off_claim and cid not in have
                continue
            if got[0] != off_claim:
                n_differently += 1
                if len(differently) < 8:
                    differently.append({"article_id": aid, "claim_id": cid, "offline": [off_claim, off_score],
                                        "stream": list(got)})
            missing += got[0] and cid not in have
        if missing:
            lost_articles += 1
            if info["status"] == "published":
                lost += missing
            else:
                lost_retry += missing
            if len(examples) < 5:
                examples.append({"article_id": aid, "expected": len(want), "found": len(have), "missing": missing})
        unexpected += len({c for c in have - want if not annotated.get(c, (False,))[0]})
    foreign = sorted({aid for aid in per_article if aid not in acked})
    return {"acknowledged": sum(1 for v in acked.values() if v["status"] == "published"),
            "acknowledged_on_retry": sum(1 for v in acked.values() if v["status"] != "published"),
            "expected_claims": sum(len(expect.by_article[a]["claims"]) for a in acked),
            "feed_items": len(feed), "lost": lost, "lost_on_retry_acks": lost_retry, "lost_articles": lost_articles,
            "duplicated": duplicated, "unexpected": unexpected, "unacknowledged_articles_in_feed": len(foreign),
            "scored_differently": n_differently, "unannotated_sentences": unannotated,
            "offline_mismatch": offline_mismatch, "model_version_offline": expect.model_version,
            "lost_examples": examples, "scored_differently_examples": differently}


async def dead_letters(stack: stackctl.Stack, poison: list[Poison]) -> dict:
    from schemas import MessageDeadLettered

    records = await stackctl.read_topics(stack.bootstrap, [stack.topic("deadletter")])
    letters = defaultdict(list)
    for r in records:
        try:
            d = MessageDeadLettered.model_validate_json(r.value or b"")
        except Exception:  # noqa: BLE001 - a broken letter is itself a finding
            continue
        letters[(d.source_topic, d.partition, d.offset)].append((d.reason, d.stage))
    expected = [p for p in poison if p.reason]
    found, wrong, missing = 0, [], []
    for p in expected:
        got = letters.get((p.topic, p.partition, p.offset), [])
        if any(reason == p.reason for reason, _ in got):
            found += 1
        elif got:
            wrong.append({"topic": p.topic, "kind": p.kind, "expected": p.reason, "got": got})
        else:
            missing.append({"topic": p.topic, "kind": p.kind, "partition": p.partition, "offset": p.offset})
    repeated = sum(len(v) - 1 for v in letters.values() if len(v) > 1)
    return {"poison_sent": len(poison), "expected_letters": len(expected), "deadlettered": found,
            "wrong_reason": wrong, "missing": missing, "letters_total": len(records),
            "repeated_letters": repeated}


async def topic_redeliveries(stack: stackctl.Stack) -> int:
    records = await stackctl.read_topics(stack.bootstrap, [stack.topic("claims")])
    ids: Counter[str] = Counter()
    for r in records:
        try:
            ids[json.loads(r.value or b"")["claim_id"]] += 1
        except (ValueError, KeyError, TypeError):
            continue
    return sum(c - 1 for c in ids.values() if c > 1)


# --------------------------------------------------------------------------------------------------
# Scenarios


class Chaos:
    def __init__(self, stack: stackctl.Stack, broker: stackctl.OwnBroker | None, cfg: Config, supply: Supply):
        self.stack, self.broker, self.cfg, self.supply = stack, broker, cfg, supply
        self.acked: dict[str, dict] = {}
        self.final: dict[str, Any] = {}
        self.poison: list[Poison] = []
        self.expect = Expectations()
        self.monitor = StallMonitor(stack)
        self.client = httpx.AsyncClient(timeout=30)
        self.results: list[dict] = []

    async def query_rejected(self) -> dict:
        try:
            text = (await self.client.get(f"{self.stack.query_url}/metrics")).text
        except httpx.HTTPError:
            return {}
        out: dict[str, float] = {}
        for (name, labels), value in stackctl.parse_metrics(text).items():
            if name == "claimstream_query_messages_rejected_total" and value:
                out[dict(labels)["topic"]] = out.get(dict(labels)["topic"], 0) + value
        return out

    async def scenario(self, name: str) -> dict:
        log(f"scenario {name}")
        self.monitor.reset_scenario()
        load = Load(self.stack.ingest_url, self.supply, self.acked, self.cfg.rate, self.cfg.batch)
        t0 = time.monotonic()
        detail: dict = {}
        load.start()
        try:
            await asyncio.sleep(self.cfg.before_s)
            detail = await getattr(self, f"fault_{name}")()
            await asyncio.sleep(self.cfg.after_s)
        finally:
            stats = await load.stop()
            await load.close()
        loaded_s = time.monotonic() - t0
        log(f"  load stopped after {loaded_s:.0f} s: {stats.published} published, "
            f"{stats.duplicate_on_retry} acknowledged on retry, errors {dict(stats.http_errors)}")
        result: dict[str, Any] = {"name": name, "fault": detail, "load_s": round(loaded_s, 1),
                  "load": {**stats.__dict__, "http_errors": dict(stats.http_errors)}}
        result["reconcile"] = await self.reconcile()
        result["stall"] = self.monitor.report()
        result["elapsed_s"] = round(time.monotonic() - t0, 1)
        rec = result["reconcile"]
        log(f"  {name}: lost {rec['feed']['lost']}, duplicated {rec['feed']['duplicated']}, "
            f"stall processors {result['stall']['processors_max_stall_s']} s / query "
            f"{result['stall']['query_max_stall_s']} s, drained in {rec['drain_s']} s")
        self.results.append(result)
        return result

    async def reconcile(self) -> dict:
        t0 = time.monotonic()
        deadline = t0 + self.cfg.drain_timeout_s
        await self.expect.ensure([v["article"] for v in self.acked.values()])
        idle_since = None
        while True:
            idle = self.monitor.idle()
            idle_since = (idle_since or time.monotonic()) if idle else None
            feed = await fetch_feed(self.client, self.stack.query_url)
            stream, versions = await stream_decisions(self.stack)
            cmp = compare(feed, self.acked, self.expect, stream)
            cmp["model_versions_stream"] = dict(versions)
            complete = cmp["lost"] == 0 and cmp["lost_on_retry_acks"] == 0
            # Done: complete and idle; or idle for 30 s without becoming complete (every input
            # partition committed to its end, so nothing more is coming); or out of time.
            if (complete and idle) or (idle_since and time.monotonic() - idle_since > 30) \
                    or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        out = {"drain_s": round(time.monotonic() - t0, 1), "idle": idle, "feed": cmp,
               "articles": await check_articles(self.client, self.stack.query_url, self.acked, self.expect,
                                                stream)}
        if self.poison:
            out["dead_letters"] = await dead_letters(self.stack, self.poison)
            out["query_rejected"] = await self.query_rejected()
        return out

    # -- faults -------------------------------------------------------------------------------------

    async def fault_kill9(self) -> dict:
        worker = self.stack.workers[0]
        t = time.monotonic()
        await asyncio.to_thread(worker.kill9)
        log(f"  killed {worker.name} (pid {worker.pid}) with SIGKILL; starting it again")
        fresh = await asyncio.to_thread(self.stack.restart_worker, worker)
        return {"worker": worker.name, "killed_pid": worker.pid, "new_pid": fresh.pid,
                "restart_healthy_s": round(time.monotonic() - t, 2)}

    async def fault_broker_restart(self) -> dict:
        self.monitor.pause("all")
        assert self.broker is not None  # main() refuses broker_restart without --own-broker
        t = time.monotonic()
        down_s = await asyncio.to_thread(self.broker.down)
        log(f"  broker stopped in {down_s:.1f} s; keeping it down for {self.cfg.broker_down_s:.0f} s")
        await asyncio.sleep(self.cfg.broker_down_s)
        up_s = await asyncio.to_thread(self.broker.up)
        self.monitor.resume("all", "processors", "query")
        log(f"  broker up again in {up_s:.1f} s")
        return {"down_s": round(down_s, 2), "up_s": round(up_s, 2), "outage_s": round(time.monotonic() - t, 2)}

    def _own_broker(self) -> stackctl.OwnBroker:
        assert self.broker is not None, "broker faults run on the script's own broker or cluster"
        return self.broker

    def _other_node(self, avoid: set[int]) -> int:
        """A running node outside `avoid` (lowest id first)."""
        return min(set(self._own_broker().pids()) - avoid)

    async def _kill_node(self, node: int, role: str) -> dict:
        t = time.monotonic()
        pid = await asyncio.to_thread(self._own_broker().signal, node, signal.SIGKILL)
        log(f"  killed {role} node {node} (pid {pid}) with SIGKILL; restarting it in {self.cfg.node_down_s:.0f} s")
        await asyncio.sleep(self.cfg.node_down_s)
        up_s = await asyncio.to_thread(self._own_broker().up)
        log(f"  node {node} answering again after {up_s:.1f} s")
        return {"node": node, "pid": pid, "up_s": round(up_s, 2), "outage_s": round(time.monotonic() - t, 2)}

    async def fault_broker_kill9(self) -> dict:
        leader = await asyncio.to_thread(self._own_broker().leader)
        return await self._kill_node(await asyncio.to_thread(self._other_node, {leader}), "broker")

    async def fault_controller_kill(self) -> dict:
        leader = await asyncio.to_thread(self._own_broker().leader)
        out = await self._kill_node(leader, "controller (quorum leader)")
        out["new_leader"] = await asyncio.to_thread(self._own_broker().leader)
        return out

    async def fault_broker_freeze(self) -> dict:
        leader = await asyncio.to_thread(self._own_broker().leader)
        node = await asyncio.to_thread(self._other_node, {leader})
        pid = await asyncio.to_thread(self._own_broker().signal, node, signal.SIGSTOP)
        log(f"  froze node {node} (pid {pid}) with SIGSTOP for {self.cfg.freeze_s:.0f} s")
        try:
            await asyncio.sleep(self.cfg.freeze_s)
        finally:
            os.kill(pid, signal.SIGCONT)
        log(f"  node {node} resumed (SIGCONT)")
        return {"node": node, "pid": pid, "frozen_s": self.cfg.freeze_s}

    async def fault_scale(self) -> dict:
        t = time.monotonic()
        second = await asyncio.to_thread(self.stack.add_worker)
        joined = time.monotonic() - t
        log(f"  second worker healthy after {joined:.1f} s; waiting until it has annotated something")
        # Two workers for real: until the new one has processed sentences (models loaded,
        # partitions assigned), at most 90 s; then a while longer with both.
        busy = None
        for _ in range(180):
            try:
                samples = stackctl.parse_metrics((await self.client.get(
                    self.stack.worker_metrics_url(second), timeout=5)).text)
                if stackctl.metric(samples, "claimstream_processor_messages_in_total", stage="annotate") > 0:
                    busy = round(time.monotonic() - t, 2)
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
        await asyncio.sleep(max(8.0, self.cfg.after_s))
        t2 = time.monotonic()
        await asyncio.to_thread(self.stack.remove_worker, second)
        log("  second worker stopped (graceful)")
        return {"add_healthy_s": round(joined, 2), "second_worker_busy_s": busy,
                "remove_s": round(time.monotonic() - t2, 2)}

    async def fault_query_restart(self) -> dict:
        self.monitor.pause("query")
        assert self.stack.query is not None  # started with the stack
        t = time.monotonic()
        await asyncio.to_thread(self.stack.query.stop)
        stopped = time.monotonic() - t
        await asyncio.sleep(2)
        await asyncio.to_thread(self.stack.start_query)
        downtime = time.monotonic() - t
        self.monitor.resume("query")
        log(f"  query restarted: down {downtime:.1f} s")
        return {"stop_s": round(stopped, 2), "query_downtime_s": round(downtime, 2)}

    async def fault_poison(self) -> dict:
        before = await self.query_rejected()
        sent = await send_poison(self.stack, self.supply.prefix)
        self.poison += sent
        log(f"  sent {len(sent)} poison messages")
        return {"sent": [p.__dict__ for p in sent], "query_rejected_before": before}


async def run(chaos: Chaos, models: threading.Thread, warm_up: int = 6) -> None:
    chaos.monitor.start()
    await asyncio.to_thread(models.join)
    following = asyncio.create_task(chaos.expect.follow(chaos.acked))
    try:
        # Warm up: the worker loads its models on the first articles; no fault yet.
        load = Load(chaos.stack.ingest_url, chaos.supply, chaos.acked, chaos.cfg.rate, chaos.cfg.batch)
        load.start()
        await asyncio.sleep(warm_up / chaos.cfg.rate)
        await load.stop()
        await load.close()
        warm = await chaos.reconcile()
        log(f"warm-up: {warm['feed']['acknowledged']} articles, drained in {warm['drain_s']} s")
        for name in chaos.cfg.scenarios:
            await chaos.scenario(name)
        chaos.final = {"topic_redeliveries": await topic_redeliveries(chaos.stack)}
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
        await chaos.monitor.stop()
        await chaos.client.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fault scenarios against the real ClaimStream stack")
    parser.add_argument("--reduced", action="store_true", help="kill -9, poison and query restart; about a minute")
    parser.add_argument("--out", type=Path, default=ROOT / "test-output" / "chaos.json")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
                        help="broker for a run without --own-broker")
    parser.add_argument("--own-broker", action=argparse.BooleanOptionalAction, default=None,
                        help="start a private broker (default: yes for the full run, no for --reduced)")
    parser.add_argument("--scenarios", help="comma-separated subset, in the given order")
    parser.add_argument("--brokers", type=int, default=1,
                        help="nodes of the own Kafka; 3 adds the broker_kill9, controller_kill and broker_freeze "
                             "scenarios (topics with 3 copies, min.insync.replicas 2)")
    parser.add_argument("--rate", type=float, help="articles/s during each scenario (default: half the capacity "
                                                   "make bench measured, see default_rate)")
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args(argv)
    cfg = REDUCED if args.reduced else FULL
    if args.own_broker is not None:
        cfg.own_broker = args.own_broker
    if args.brokers > 1:
        if not cfg.own_broker:
            parser.error("--brokers needs --own-broker (the cluster is started by this run)")
        cfg.scenarios = CLUSTER_SCENARIOS
    rate_source = "--rate"
    if args.rate:
        cfg.rate = args.rate
    elif not args.reduced:
        cfg.rate, rate_source = default_rate(ROOT / "test-output" / "bench.json")
    if args.scenarios:
        cfg.scenarios = tuple(s.strip() for s in args.scenarios.split(",") if s.strip())
    if "broker_restart" in cfg.scenarios and not cfg.own_broker:
        parser.error("broker_restart needs --own-broker (the shared broker is never stopped)")
    stackctl.install_signal_handlers()
    started = time.monotonic()
    env: dict = {}
    if args.brokers > 1:
        # Every topic and changelog with 3 copies and min.insync.replicas 2 (services.common.kafka).
        env["KAFKA_REPLICATION_FACTOR"] = str(min(3, args.brokers))
    model = stackctl.choose_claim_model(env)
    run_id = f"chaos{int(time.time()) % 100000}"
    supply = Supply(run_id, args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="claimstream-chaos-"))
    broker = stackctl.OwnBroker(workdir / "kafka", brokers=args.brokers) if cfg.own_broker else None
    log(f"load: {cfg.rate} articles/s per scenario ({rate_source})")
    report: dict = {"config": {**cfg.__dict__, "reduced": args.reduced, "claim_model": model or "default",
                               "brokers": args.brokers, "rate_source": rate_source,
                               "loadavg_start": os.getloadavg()}}
    error = None
    stack = None
    chaos = None
    try:
        if broker:
            log(f"starting own broker on {broker.bootstrap} ({broker.home})")
            report["config"]["broker_up_s"] = round(broker.up(), 1)
        bootstrap = broker.bootstrap if broker else args.bootstrap
        report["config"]["bootstrap"] = bootstrap
        stack = stackctl.Stack(bootstrap, workdir, namespace=run_id, extra_env=env, supervise_workers=True)
        # The offline expectations need the NLP models: load them while the services start.
        models = threading.Thread(target=Expectations.load_models, daemon=True)
        models.start()
        log(f"starting processors, query and ingest (namespace {stack.namespace})")
        report["config"]["healthy_s"] = stack.start(workers=1)
        chaos = Chaos(stack, broker, cfg, supply)
        asyncio.run(run(chaos, models))
    except (Exception, KeyboardInterrupt, SystemExit) as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        error = f"{type(exc).__name__}: {exc}"
        log(f"chaos failed or interrupted: {error}")
    finally:
        if stack is not None:
            stack.close(copy_logs_to=ROOT / "test-output" / "chaos-logs")
        if broker is not None:
            broker.down()
            # One node: kafka.log; a cluster's node N: broker-N/kafka.log (kept as kafka-N.log).
            for log_file in [broker.home / "kafka.log", *sorted(broker.home.glob("broker-*/kafka.log"))]:
                if log_file.exists():
                    name = "kafka.log" if log_file.parent == broker.home else f"kafka-{log_file.parent.name[7:]}.log"
                    (ROOT / "test-output" / "chaos-logs").mkdir(parents=True, exist_ok=True)
                    (ROOT / "test-output" / "chaos-logs" / name).write_bytes(log_file.read_bytes())
            broker.remove()
        shutil.rmtree(workdir, ignore_errors=True)  # the logs were copied to test-output/chaos-logs

    scenarios = chaos.results if chaos else []
    summary = summarize(scenarios, getattr(chaos, "final", {}) if chaos else {}, brokers=args.brokers, rate=cfg.rate)
    report.update({"scenarios": scenarios, "summary": summary, "error": error,
                   "elapsed_s": round(time.monotonic() - started, 1)})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_table(scenarios)
    ok = error is None and summary["lost"] == 0 and summary["duplicated"] == 0
    print(summary_line(summary), flush=True)
    return 0 if ok else 1


def summarize(scenarios: list[dict], final: dict, brokers: int = 1, rate: float = 0.0) -> dict:
    """The run's figures from its scenario results; the reconciliation is cumulative, so the last one counts."""
    last = scenarios[-1]["reconcile"] if scenarios else None
    dl = (last or {}).get("dead_letters", {"deadlettered": 0, "expected_letters": 0})
    stall_p = max([s["stall"]["processors_max_stall_s"] for s in scenarios] or [0.0])
    stall_q = max([s["stall"]["query_max_stall_s"] for s in scenarios] or [0.0])
    return {
        "scenarios": len(scenarios),
        "lost": (last["feed"]["lost"] + last["feed"]["lost_on_retry_acks"]) if last else None,
        "duplicated": last["feed"]["duplicated"] if last else None,
        "deadlettered": dl["deadlettered"], "poison_expected": dl["expected_letters"],
        "all_poison_deadlettered": dl["deadlettered"] == dl["expected_letters"] and bool(scenarios),
        "max_stall_s": round(max(stall_p, stall_q), 2),
        "processors_max_stall_s": stall_p, "query_max_stall_s": stall_q,
        "inconsistent_articles": last["articles"]["inconsistent"] if last else None,
        "unexpected_claims": last["feed"]["unexpected"] if last else None,
        "rate": rate,  # articles/s offered during every scenario
        # Acknowledged articles/s of the slowest scenario (below `rate` while Kafka is away: ingest answers 503).
        "min_acked_rate": round(min([(s["load"]["published"] + s["load"]["duplicate_on_retry"]) / s["load_s"]
                                     for s in scenarios if s.get("load_s")] or [0.0]), 2),
        "brokers": brokers,
        **final,
    }


def summary_line(summary: dict) -> str:
    return (f"chaos: scenarios={summary['scenarios']} lost={summary['lost']} duplicated={summary['duplicated']} "
            f"deadlettered={summary['deadlettered']}/{summary['poison_expected']} "
            f"max_stall_s={summary['max_stall_s']:.2f} rate={summary['rate']:.2f} brokers={summary['brokers']}")


def print_table(scenarios: list[dict]) -> None:
    """acked: acknowledged articles so far; lost/dup/unexp: see compare(); scored: sentences the offline
    run and the processors decided differently; incons: /articles/{id} views that disagree with the
    annotations topic; stall_p/stall_q: longest stall (s) of the processors' group / the projection."""
    print(f"{'scenario':<15} {'acked':>6} {'lost':>5} {'dup':>4} {'unexp':>6} {'scored':>7} {'incons':>7} "
          f"{'stall_p':>8} {'stall_q':>8} {'drain_s':>8}  fault")
    for s in scenarios:
        f, r = s["reconcile"]["feed"], s["reconcile"]
        fault = {k: v for k, v in s["fault"].items() if k not in ("sent", "query_rejected_before")}
        print(f"{s['name']:<15} {f['acknowledged'] + f['acknowledged_on_retry']:>6} "
              f"{f['lost'] + f['lost_on_retry_acks']:>5} {f['duplicated']:>4} {f['unexpected']:>6} "
              f"{f['scored_differently']:>7} {r['articles']['inconsistent']:>7} "
              f"{s['stall']['processors_max_stall_s']:>8.2f} "
              f"{s['stall']['query_max_stall_s']:>8.2f} {r['drain_s']:>8.1f}  {fault}")
        if "dead_letters" in r:
            d = r["dead_letters"]
            print(f"{'':<15} dead letters {d['deadlettered']}/{d['expected_letters']} "
                  f"(missing {len(d['missing'])}, wrong reason {len(d['wrong_reason'])}, repeated "
                  f"{d['repeated_letters']}); query rejected {r.get('query_rejected')}")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
