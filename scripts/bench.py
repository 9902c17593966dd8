#!/usr/bin/env python
"""Throughput, freshness, stage times, efficiency and scaling of the real ClaimStream stack.

    .venv/bin/python scripts/bench.py [--tiny] [--out test-output/bench.json] [--bootstrap HOST:PORT | --own-broker]

Starts its own processors worker(s), query and ingest on free ports against the Kafka broker
(KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092; the broker is only used, never stopped; or,
with --own-broker, a private one started with deploy/kafka/kafka.sh on free ports),
with a fresh topic namespace and private SQLite files, feeds them articles from
samples/generator.py, and stops everything it started when it ends (also on Ctrl-C / SIGTERM).

Phases, in this order:

1. baseline: the stage functions of services.stages in a plain loop in this process
   (split_article -> annotate_sentences -> scored_from -> match_claims with an in-memory
   matching.ClaimIndex({})), one article per call, as `claimstream annotate` does;
   articles/s and words/s. Cleaning (prepare_article) is done beforehand, outside the clock.
2. scale: two processor workers; saturate (below) -> articles/s with two workers.
3. one worker (the second stops gracefully and the group rebalances); saturate -> the
   headline articles/s and words/s, and per-stage times from the worker's /metrics.
4. freshness at half load and at 80% load: single POST /articles paced at 50%, then at 80%, of
   phase 3's articles/s; each
   claim is timestamped when it arrives on the query's live feed (/claims/stream, types claim
   and appearance), which is sent after the claim is committed to the projection, so it is
   visible in GET /claims at that moment. Freshness of an article = arrival of its first claim
   minus `received_at` (ingest's clock, same machine). Post -> visible is reported as well.
5. baseline again (default run only): the efficiency uses the mean of the two baseline runs,
   as the shared machine's load drifts.

Saturate: POST /articles/batch as fast as the pipeline absorbs, with at most `window` articles
posted but not yet complete. An article is complete when the annotations topic holds all of its
sentences (SentenceAnnotated.count) and the claims topic holds a claim for every distinct claim
id among its is_claim sentences, i.e. it went through split, annotate, match. This script
consumes both topics from the start (no consumer group). articles/s is the completion rate
while posting continues (from the 10th percentile of completions to the last post), so the
start-up ramp and the final drain do not count; the whole-phase rate is kept in the JSON too.

Derived figures: efficiency = one-worker pipeline articles/s / baseline articles/s;
scale2 = two-worker articles/s / one-worker articles/s. Stage time = delta of
claimstream_processor_stage_duration_seconds sum over delta of messages in (per message) and
over delta of count (per observation; the annotate stage observes once per NLP batch).
CPU seconds of every process and the machine's busy share per phase are recorded, since the
machine is shared.

The last line printed is:
bench: efficiency=… articles_per_s=… words_per_s=… freshness_p50_s=… freshness_p95_s=… freshness_p99_s=… scale2=…
       processor_messages_per_article=… freshness80_p95_s=…
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stackctl
from samples.generator import ArticleSupply, word_count
from stackctl import ROOT, MachineLoad, cpu_seconds, log

logging.getLogger("aiokafka").setLevel(logging.ERROR)

STAGES = ("split", "annotate", "match", "cluster", "revise")


@dataclass
class Config:
    baseline_s: float
    baseline_again: bool
    saturate_s: float
    window: int
    batch: int
    fresh_s: float
    drain_timeout_s: float


DEFAULT = Config(baseline_s=20, baseline_again=True, saturate_s=60, window=80, batch=10, fresh_s=45,
                 drain_timeout_s=240)
TINY = Config(baseline_s=3, baseline_again=False, saturate_s=6, window=30, batch=10, fresh_s=5,
              drain_timeout_s=90)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


# --------------------------------------------------------------------------------------------------
# Baseline


def baseline(supply: ArticleSupply, seconds: float) -> dict:
    """The stage functions in a plain loop in this process; articles/s and words/s."""
    from services.ingest.models import ArticleIn
    from services.ingest.prepare import article_received, prepare_article
    from services.nlp import matching
    from services.processors.settings import ProcessorSettings
    from services.stages import annotate, match

    threshold = ProcessorSettings().threshold()
    pool = []
    for raw in supply.take(max(60, int(seconds * 40))):
        pool.append((article_received(prepare_article(ArticleIn.model_validate(raw)), 1, "batch"), word_count(raw)))
    index = matching.ClaimIndex({})

    def one(article) -> None:
        annotated = annotate.annotate_sentences(annotate.split_article(article), threshold)
        scored = annotate.scored_claims(annotated)
        match.match_claims(index, scored, datetime.now(timezone.utc))

    for article, _ in pool[:3]:  # load the models and warm the caches, off the clock
        one(article)
    load, cpu0 = MachineLoad(), time.process_time()
    n = words = 0
    t0 = time.perf_counter()
    for article, wc in pool[3:]:
        one(article)
        n, words = n + 1, words + wc
        if time.perf_counter() - t0 >= seconds:
            break
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    return {"articles": n, "seconds": round(elapsed, 3), "articles_per_s": round(n / elapsed, 3),
            "words_per_s": round(words / elapsed, 1), "threshold": threshold, "cpu_s": round(cpu, 2),
            "cpu_s_per_article": round(cpu / max(1, n), 4), "machine_busy": load.busy_fraction()}


# --------------------------------------------------------------------------------------------------
# Completion tracking: the annotations and claims topics


@dataclass
class ArticleState:
    count: int | None = None
    indices: set = field(default_factory=set)
    expected: set = field(default_factory=set)
    claims: set = field(default_factory=set)
    done_at: float | None = None


class Tracker:
    """Consumes annotations and claims from the start; an article is done when every sentence is
    annotated and every expected claim (distinct claim id among is_claim sentences) is detected."""

    def __init__(self, bootstrap: str, annotations: str, claims: str):
        self.bootstrap, self.annotations, self.claims = bootstrap, annotations, claims
        self.articles: dict[str, ArticleState] = {}
        self.done = 0
        self.messages = 0
        self.changed = asyncio.Event()

    def state(self, article_id: str) -> ArticleState:
        st = self.articles.get(article_id)
        if st is None:
            st = self.articles[article_id] = ArticleState()
        return st

    async def run(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        from schemas.ids import claim_id

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        try:
            partitions = []
            for topic in (self.annotations, self.claims):
                for _ in range(60):
                    found = consumer.partitions_for_topic(topic)
                    if found:
                        break
                    await consumer._client.force_metadata_update()
                    await asyncio.sleep(0.5)
                partitions += [TopicPartition(topic, p) for p in sorted(found or ())]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=100, max_records=2000)
                now = time.monotonic()
                for tp, messages in batches.items():
                    is_annotation = tp.topic == self.annotations
                    for m in messages:
                        self.messages += 1
                        try:
                            d = json.loads(m.value)
                            st = self.state(d["article_id"])
                            if is_annotation:
                                st.count = d["count"]
                                st.indices.add(d["index"])
                                if d["is_claim"]:
                                    st.expected.add(claim_id(d["article_id"], d["text"]))
                            else:
                                st.claims.add(d["claim_id"])
                        except (ValueError, KeyError, TypeError):
                            continue
                        if st.done_at is None and st.count is not None and len(st.indices) >= st.count \
                                and st.expected <= st.claims:
                            st.done_at = now
                            self.done += 1
                if batches:
                    self.changed.set()
        finally:
            await consumer.stop()

    def done_at(self, article_id: str) -> float | None:
        st = self.articles.get(article_id)
        return st.done_at if st else None

    async def wait_done(self, ids: list[str], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.done_at(i) is not None for i in ids):
                return True
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)
            except TimeoutError:
                pass
        return all(self.done_at(i) is not None for i in ids)


# --------------------------------------------------------------------------------------------------
# Posting


async def post_batch(client: httpx.AsyncClient, url: str, articles: list[dict], tries: int = 6) -> None:
    delay = 0.5
    for attempt in range(tries):
        try:
            r = await client.post(url, json=articles if len(articles) > 1 else articles[0])
            if r.status_code == 202:
                return
            if r.status_code not in (503, 504) or attempt == tries - 1:
                raise RuntimeError(f"POST {url}: {r.status_code} {r.text[:300]}")
        except httpx.TransportError:
            if attempt == tries - 1:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5)


async def scrape(client: httpx.AsyncClient, urls: list[str]) -> dict:
    """Sum over the workers of the stage metrics."""
    total: dict = {}
    for url in urls:
        try:
            samples = stackctl.parse_metrics((await client.get(url, timeout=10)).text)
        except httpx.HTTPError:
            continue
        for stage in STAGES:
            for name in ("claimstream_processor_stage_duration_seconds_sum",
                         "claimstream_processor_stage_duration_seconds_count",
                         "claimstream_processor_messages_in_total"):
                key = (name, stage)
                total[key] = total.get(key, 0.0) + stackctl.metric(samples, name, stage=stage)
    return total


def stage_table(before: dict, after: dict) -> dict:
    out = {}
    for stage in STAGES:
        d_sum = after.get(("claimstream_processor_stage_duration_seconds_sum", stage), 0) - \
            before.get(("claimstream_processor_stage_duration_seconds_sum", stage), 0)
        d_count = after.get(("claimstream_processor_stage_duration_seconds_count", stage), 0) - \
            before.get(("claimstream_processor_stage_duration_seconds_count", stage), 0)
        d_in = after.get(("claimstream_processor_messages_in_total", stage), 0) - \
            before.get(("claimstream_processor_messages_in_total", stage), 0)
        if d_count <= 0 and d_in <= 0:
            continue
        out[stage] = {"messages": int(d_in), "observations": int(d_count), "seconds": round(d_sum, 3),
                      "mean_s_per_message": round(d_sum / d_in, 6) if d_in else None,
                      "mean_s_per_observation": round(d_sum / d_count, 6) if d_count else None}
    return out


class Bench:
    def __init__(self, stack: stackctl.Stack, tracker: Tracker, supply: ArticleSupply, cfg: Config):
        self.stack, self.tracker, self.supply, self.cfg = stack, tracker, supply, cfg
        self.client = httpx.AsyncClient(timeout=60)

    def cpu(self) -> dict:
        out = {s.name: cpu_seconds(s.pid) for s in self.stack.all_services()}
        out["bench"] = time.process_time()
        return out

    async def warm_up(self, n: int = 8) -> float:
        """Post a few articles and wait until they are complete (models loaded, partitions assigned)."""
        t0 = time.monotonic()
        articles = self.supply.take(n)
        await post_batch(self.client, f"{self.stack.ingest_url}/articles/batch", articles)
        if not await self.tracker.wait_done([a["id"] for a in articles], self.cfg.drain_timeout_s):
            raise RuntimeError("warm-up articles not processed in time")
        return time.monotonic() - t0

    async def saturate(self, label: str) -> dict:
        cfg, tracker = self.cfg, self.tracker
        metrics_urls = [self.stack.worker_metrics_url(w) for w in self.stack.workers]
        before, cpu0, load = await scrape(self.client, metrics_urls), self.cpu(), MachineLoad()
        posted: list[dict] = []
        pending: set[str] = set()
        t0 = time.monotonic()
        url = f"{self.stack.ingest_url}/articles/batch"
        while time.monotonic() - t0 < cfg.saturate_s:
            pending = {i for i in pending if tracker.done_at(i) is None}
            if len(pending) + cfg.batch > cfg.window:
                tracker.changed.clear()
                try:
                    await asyncio.wait_for(tracker.changed.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                continue
            chunk = self.supply.take(cfg.batch)
            await post_batch(self.client, url, chunk)
            posted += chunk
            pending |= {a["id"] for a in chunk}
        t_post_end = time.monotonic()
        ok = await tracker.wait_done([a["id"] for a in posted], cfg.drain_timeout_s)
        t_end = time.monotonic()
        after, cpu1 = await scrape(self.client, metrics_urls), self.cpu()
        busy = load.busy_fraction()
        done = sorted((t, word_count(a)) for a in posted if (t := tracker.done_at(a["id"])) is not None)
        if not ok:
            log(f"{label}: {len(posted) - len(done)} of {len(posted)} articles not complete after the drain")
        times = [t for t, _ in done]
        k0 = len(times) // 10
        in_window = [(t, w) for t, w in done if times and times[k0] < t <= t_post_end]
        window_s = t_post_end - times[k0] if times else 0
        if len(in_window) >= 5 and window_s > 1:
            rate = len(in_window) / window_s
            wrate = sum(w for _, w in in_window) / window_s
        else:  # too short to cut the ramp off: the whole phase
            span = (times[-1] - t0) if times else float("nan")
            rate, wrate = len(done) / span, sum(w for _, w in done) / span
        overall_s = (times[-1] - t0) if times else float("nan")
        result: dict[str, Any] = {
            "workers": len(self.stack.workers), "posted": len(posted), "complete": len(done),
            "posting_s": round(t_post_end - t0, 2), "phase_s": round(t_end - t0, 2),
            "articles_per_s": round(rate, 3), "words_per_s": round(wrate, 1),
            "articles_per_s_overall": round(len(done) / overall_s, 3) if done else 0.0,
            "stages": stage_table(before, after),
            "cpu_s": {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 2) for k in cpu1},
            "machine_busy": busy,
        }
        services = [k for k in result["cpu_s"] if k != "bench"]
        result["cpu_s_per_article"] = round(sum(result["cpu_s"][k] for k in services) / max(1, len(done)), 4)
        log(f"{label}: {result['articles_per_s']} articles/s, {result['words_per_s']} words/s "
            f"({len(done)}/{len(posted)} complete, machine busy {busy:.0%})")
        return result

    async def freshness(self, rate: float) -> dict:
        """Single posts paced at `rate` articles/s; first-claim arrival on the live feed per article."""
        cfg, tracker = self.cfg, self.tracker
        start = (await self.client.get(f"{self.stack.query_url}/claims", params={"limit": 1})).json()
        first_claim: dict[str, tuple[float, float]] = {}  # article id -> (arrival wall time, received_at)
        stream_ready = asyncio.Event()

        async def listen() -> None:
            params = {"after": start.get("stream_after") or 0, "types": "claim,appearance"}
            async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as sse:
                async with sse.stream("GET", f"{self.stack.query_url}/claims/stream", params=params) as r:
                    stream_ready.set()
                    data = None
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            data = line[5:].strip()
                        elif line == "" and data:
                            now = time.time()
                            try:
                                item = json.loads(data)
                                aid = item["article_id"]
                                if aid not in first_claim:
                                    received = datetime.fromisoformat(item["received_at"])
                                    if received.tzinfo is None:
                                        received = received.replace(tzinfo=timezone.utc)
                                    first_claim[aid] = (now, received.timestamp())
                            except (ValueError, KeyError):
                                pass
                            data = None

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(stream_ready.wait(), 30)
        n = max(3, int(rate * cfg.fresh_s))
        articles = self.supply.take(n)
        post_wall: dict[str, float] = {}
        url = f"{self.stack.ingest_url}/articles"
        cpu0, load = self.cpu(), MachineLoad()

        async def post_one(article: dict) -> None:
            post_wall[article["id"]] = time.time()
            await post_batch(self.client, url, [article])

        t0 = time.monotonic()
        tasks = []
        for k, article in enumerate(articles):
            delay = t0 + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post_one(article)))
        await asyncio.gather(*tasks)
        posting_s = time.monotonic() - t0
        ids = [a["id"] for a in articles]
        await tracker.wait_done(ids, cfg.drain_timeout_s)
        with_claims = [i for i in ids if tracker.articles.get(i) and tracker.articles[i].expected]
        deadline = time.monotonic() + 60
        # polls what the listener fills in, under a deadline: no event to wait on
        while time.monotonic() < deadline and not all(i in first_claim for i in with_claims):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        fresh = [first_claim[i][0] - first_claim[i][1] for i in with_claims if i in first_claim]
        post_to_visible = [first_claim[i][0] - post_wall[i] for i in with_claims if i in first_claim]
        cpu1 = self.cpu()
        result = {
            "rate_articles_per_s": round(rate, 3), "posted": n, "posting_s": round(posting_s, 2),
            "articles_with_claims": len(with_claims), "measured": len(fresh),
            "p50_s": round(percentile(fresh, 50), 3), "p95_s": round(percentile(fresh, 95), 3),
            "p99_s": round(percentile(fresh, 99), 3), "max_s": round(max(fresh), 3) if fresh else None,
            "post_to_visible_p50_s": round(percentile(post_to_visible, 50), 3),
            "post_to_visible_p95_s": round(percentile(post_to_visible, 95), 3),
            "cpu_s": {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 2) for k in cpu1},
            "machine_busy": load.busy_fraction(),
        }
        log(f"freshness at {rate:.2f} articles/s: p50 {result['p50_s']} s, p95 {result['p95_s']} s, "
            f"p99 {result['p99_s']} s ({len(fresh)} of {len(with_claims)} articles)")
        return result

    async def wait_group(self, members: int, timeout: float = 120) -> float:
        """Until the processors' group is Stable with `members` members; seconds waited."""
        watch = stackctl.OffsetWatch(self.stack.bootstrap, self.stack.group_id, [])
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < timeout:
                try:
                    state, count = await watch.members()
                    if state == "Stable" and count == members:
                        return time.monotonic() - t0
                except Exception:  # noqa: BLE001 - coordinator moving, retry
                    await watch.close()
                await asyncio.sleep(0.5)
        finally:
            await watch.close()
        raise RuntimeError(f"the group did not settle with {members} members in {timeout}s")


async def run(stack: stackctl.Stack, supply: ArticleSupply, cfg: Config, results: dict) -> None:
    tracker = Tracker(stack.bootstrap, stack.topic("annotations"), stack.topic("claims"))
    tracking = asyncio.create_task(tracker.run())
    bench = Bench(stack, tracker, supply, cfg)
    try:
        results["startup"]["group_settled_s"] = round(await bench.wait_group(2), 2)
        results["startup"]["warm_up_s"] = round(await bench.warm_up(), 2)
        results["two_workers"] = await bench.saturate("two workers")

        log("stopping the second worker (graceful leave, rebalance)")
        await asyncio.to_thread(stack.remove_worker, stack.workers[1])
        results["startup"]["rebalance_to_one_s"] = round(await bench.wait_group(1), 2)
        await bench.warm_up(4)
        results["one_worker"] = await bench.saturate("one worker")

        capacity = results["one_worker"]["articles_per_s"]
        results["freshness"] = await bench.freshness(capacity / 2)
        # The bound holds at 80% of the measured capacity too, where queues start to form.
        results["freshness_80"] = await bench.freshness(capacity * 0.8)
    finally:
        tracking.cancel()
        await asyncio.gather(tracking, return_exceptions=True)
        await bench.client.aclose()


def fmt(x) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the real ClaimStream stack")
    parser.add_argument("--tiny", action="store_true", help="a configuration that runs in well under a minute")
    parser.add_argument("--out", type=Path, default=ROOT / "test-output" / "bench.json")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--own-broker", action="store_true",
                        help="start a private broker (kafka.sh on free ports, stopped at the end) instead")
    parser.add_argument("--saturate-s", type=float, help="seconds of posting per throughput phase")
    parser.add_argument("--fresh-s", type=float, help="seconds of paced posting for freshness")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cfg = TINY if args.tiny else DEFAULT
    if args.saturate_s:
        cfg.saturate_s = args.saturate_s
    if args.fresh_s:
        cfg.fresh_s = args.fresh_s
    stackctl.install_signal_handlers()
    started = time.monotonic()
    env: dict = {}
    model = stackctl.choose_claim_model(env)
    run_id = f"bench{int(time.time()) % 100000}"
    supply = ArticleSupply(run_id, args.seed)
    results: dict = {"config": {**cfg.__dict__, "tiny": args.tiny, "bootstrap": args.bootstrap,
                                "claim_model": model or "default", "cpus": os.cpu_count(),
                                "loadavg_start": os.getloadavg()},
                     "startup": {}}

    log(f"baseline: NLP functions in a plain loop for {cfg.baseline_s:.0f} s")
    results["baseline"] = [baseline(supply, cfg.baseline_s)]
    log(f"baseline: {results['baseline'][0]['articles_per_s']} articles/s")

    workdir = Path(tempfile.mkdtemp(prefix="claimstream-bench-"))
    broker = stackctl.OwnBroker(workdir / "kafka") if args.own_broker else None
    stack = None
    error = None
    try:
        if broker:
            log(f"starting own broker on {broker.bootstrap}")
            broker.up()
        bootstrap = broker.bootstrap if broker else args.bootstrap
        results["config"]["bootstrap"] = bootstrap
        stack = stackctl.Stack(bootstrap, workdir, namespace=run_id, extra_env=env, supervise_workers=True)
        log(f"starting two processor workers, query and ingest (namespace {stack.namespace})")
        results["startup"]["healthy_s"] = stack.start(workers=2)
        asyncio.run(run(stack, supply, cfg, results))
    except (Exception, KeyboardInterrupt, SystemExit) as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        error = f"{type(exc).__name__}: {exc}"
        log(f"bench failed or interrupted: {error}")
    finally:
        if stack is not None:
            stack.close(copy_logs_to=ROOT / "test-output" / "bench-logs")
        if broker is not None:
            broker.down()
            broker.remove()
        shutil.rmtree(workdir, ignore_errors=True)  # the logs were copied to test-output/bench-logs
    if error is None and cfg.baseline_again:
        log("baseline again, with the stack stopped")
        results["baseline"].append(baseline(supply, cfg.baseline_s))

    base = sum(b["articles_per_s"] for b in results["baseline"]) / len(results["baseline"])
    one = results.get("one_worker", {})
    two = results.get("two_workers", {})
    fresh = results.get("freshness", {})
    summary = {
        "efficiency": round(one["articles_per_s"] / base, 3) if one else None,
        "articles_per_s": one.get("articles_per_s"),
        "words_per_s": one.get("words_per_s"),
        "freshness_p50_s": fresh.get("p50_s"), "freshness_p95_s": fresh.get("p95_s"),
        "freshness_p99_s": fresh.get("p99_s"),
        "freshness80_p95_s": results.get("freshness_80", {}).get("p95_s"),
        "scale2": round(two["articles_per_s"] / one["articles_per_s"], 3) if one and two else None,
        "baseline_articles_per_s": round(base, 3),
        # Kafka messages the processors consumed per completed article, one worker (issue 16: fewer, larger).
        "processor_messages_per_article": round(sum(s["messages"] for s in one["stages"].values())
                                                / max(1, one["complete"]), 2) if one and one.get("stages") else None,
        # CPU seconds per article, baseline (one process) over the whole stack (ingest, query,
        # workers): what the efficiency would be if CPU were the only limit.
        "cpu_efficiency": round(sum(b["cpu_s_per_article"] for b in results["baseline"]) / len(results["baseline"])
                                / one["cpu_s_per_article"], 3) if one and one.get("cpu_s_per_article") else None,
    }
    results["summary"] = summary
    results["error"] = error
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")

    print_report(results)
    print("bench: " + " ".join(f"{k}={fmt(summary[k])}" for k in (
        "efficiency", "articles_per_s", "words_per_s", "freshness_p50_s", "freshness_p95_s", "freshness_p99_s",
        "scale2", "processor_messages_per_article", "freshness80_p95_s")), flush=True)
    return 1 if error else 0


def print_report(r: dict) -> None:
    out = []
    for i, b in enumerate(r["baseline"], 1):
        out.append(f"baseline run {i}: {b['articles_per_s']:.2f} articles/s, {b['words_per_s']:.0f} words/s "
                   f"({b['articles']} articles in {b['seconds']:.1f} s, {b['cpu_s_per_article']:.3f} cpu s/article, "
                   f"machine busy {b['machine_busy']:.0%})")
    for key in ("two_workers", "one_worker"):
        p = r.get(key)
        if not p:
            continue
        out.append(f"{key.replace('_', ' ')}: {p['articles_per_s']:.2f} articles/s, {p['words_per_s']:.0f} words/s "
                   f"(overall {p['articles_per_s_overall']:.2f}; {p['complete']}/{p['posted']} articles, "
                   f"machine busy {p['machine_busy']:.0%})")
        out.append("  cpu s: " + ", ".join(f"{k} {v:.1f}" for k, v in p["cpu_s"].items())
                   + f"; services {p['cpu_s_per_article']:.3f} cpu s/article")
    one = r.get("one_worker")
    if one and one["stages"]:
        out.append(f"  {'stage':<9} {'messages':>9} {'obs':>6} {'s/message':>11} {'s/obs':>9}")
        for stage, s in one["stages"].items():
            out.append(f"  {stage:<9} {s['messages']:>9} {s['observations']:>6} "
                       f"{fmt(s['mean_s_per_message']):>11} {fmt(s['mean_s_per_observation']):>9}")
    for f in (r.get("freshness"), r.get("freshness_80")):
        if not f:
            continue
        out.append(f"freshness at {f['rate_articles_per_s']:.2f} articles/s: p50 {fmt(f['p50_s'])} s, "
                   f"p95 {fmt(f['p95_s'])} s, p99 {fmt(f['p99_s'])} s, max {fmt(f['max_s'])} s "
                   f"({f['measured']}/{f['articles_with_claims']} articles); post->visible p50 "
                   f"{fmt(f['post_to_visible_p50_s'])} s p95 {fmt(f['post_to_visible_p95_s'])} s")
    out.append(f"startup: {r['startup']}")
    sm = r.get("summary", {})
    out.append(f"baseline {fmt(sm.get('baseline_articles_per_s'))} articles/s; cpu efficiency (baseline cpu s/article "
               f"over the stack's) {fmt(sm.get('cpu_efficiency'))}")
    print("\n".join(out), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
