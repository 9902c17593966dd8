#!/usr/bin/env python
"""Soak: steady load on the full stack for a fixed time, so that a leak or an unbounded table shows.

    .venv/bin/python scripts/soak.py --minutes 30 [--rate A/S] [--brokers 3] [--out test-output/soak.json]

Starts processors (under its supervisor), query and ingest on free ports with a fresh namespace
(scripts/stackctl.py) on KAFKA_BOOTSTRAP_SERVERS (default 127.0.0.1:9092), or on its own broker /
three-node cluster (--own-broker, --brokers 3). Posts generated articles to /articles/batch at
`--rate` articles/s (default: half the capacity `make bench` measured, as in scripts/chaos.py) for
`--minutes`, then stops the load, waits for the pipeline to drain (bounded) and stops everything
it started, also on Ctrl-C / SIGTERM. Every loop has a deadline: the run ends by itself.

Measured:
- every `--sample-s` s: RSS and open file descriptors of each service (its whole process tree:
  the supervised worker counts under processors). Growth is the median of the last three samples
  against the median of the first three after the warm-up: 5 minutes, or the first sixth of
  shorter runs (models loading, caches filling and SQLite's page cache are not leaks).
- lag: every `--probe-s` s the newest acknowledged article is followed from ingest's 202 until
  its annotated sentences show in the query's GET /articles/{id}; lag_max_s is the longest.
- lost, after the drain: acknowledged articles missing from the `articles` topic, or whose
  /articles/{id} shows fewer sentences than the `sentences` topic holds for them.
- db_mb: the query's and ingest's SQLite files (with WAL) at the end.
- the matching window, kept by design (claims stay 14 days): the worker's
  claimstream_processor_match_window_claims and ..._match_index_bytes gauges, sampled with RSS.
  window_claims is how many claims the window gained over the growth interval, bytes_per_claim the
  processors' RSS growth per such claim, and rss_growth_pct_ex_window the processors' growth less
  what those claims cost the index (its bytes per claim at the end): the growth the window does not
  explain.

The last line printed is:
soak: minutes=… articles=… lost=… rss_growth_pct=… fd_growth=… lag_max_s=… db_mb=… window_claims=…
bytes_per_claim=… rss_growth_pct_ex_window=…
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stackctl
from chaos import Load, Supply, default_rate
from stackctl import ROOT, log

WARM_UP_CAP_S = 300.0


# --------------------------------------------------------------------------------------------------
# Pure figures (unit-tested)


def warm_up_s(duration_s: float) -> float:
    """Time excluded from growth: the first 5 minutes, or the first sixth of a shorter run."""
    return min(WARM_UP_CAP_S, duration_s / 6)


def growth(series: list[tuple[float, float]], warm_s: float, window: int = 3) -> tuple[float, float] | None:
    """(start, end) of a sampled series (t, value) after `warm_s`: medians of the first and the last
    `window` samples from then on, which one noisy sample cannot move. None without enough samples."""
    after = [v for t, v in series if t >= warm_s]
    if len(after) < 2:
        return None
    n = min(window, len(after) // 2)
    return statistics.median(after[:n]), statistics.median(after[-n:])


def growth_pct(series: list[tuple[float, float]], warm_s: float) -> float | None:
    found = growth(series, warm_s)
    if found is None or found[0] <= 0:
        return None
    return round(100.0 * (found[1] - found[0]) / found[0], 1)


def window_figures(rss: list[tuple[float, float]], claims: list[tuple[float, float]],
                   index_bytes: list[tuple[float, float]], warm_s: float) -> dict:
    """The processors' growth set against the matching window's (sampled series (t, value) after `warm_s`):
    claims the window gained, RSS bytes per gained claim, and the growth % less what those claims cost the
    index by design. usearch reserves its memory in steps, so the index's bytes per claim at the end (its
    size over its claims) prices each gained claim, not the step the gauge happened to take."""
    rss_found, claims_found, index_found = growth(rss, warm_s), growth(claims, warm_s), growth(index_bytes, warm_s)
    if rss_found is None or claims_found is None or index_found is None or rss_found[0] <= 0:
        return {"window_claims": None, "bytes_per_claim": None, "index_bytes_per_claim": None,
                "rss_growth_pct_ex_window": None}
    (rss0, rss1), (_, claims1), (_, index1) = rss_found, claims_found, index_found
    added = int(claims1 - claims_found[0])
    per_claim = index1 / claims1 if claims1 > 0 else 0.0
    return {"window_claims": added,
            "bytes_per_claim": round((rss1 - rss0) / added) if added > 0 else None,
            "index_bytes_per_claim": round(per_claim),
            "rss_growth_pct_ex_window": round(100.0 * (rss1 - rss0 - max(added, 0) * per_claim) / rss0, 1)}


def lost_articles(acked: list[str], in_topic: set[str], topic_sentences: dict[str, int],
                  shown_sentences: dict[str, int | None]) -> list[str]:
    """Acknowledged articles that never reached Kafka, or whose query view lacks sentences the
    pipeline produced for them (None: the query does not know the article)."""
    return [aid for aid in acked
            if aid not in in_topic or (shown := shown_sentences.get(aid)) is None
            or shown < topic_sentences.get(aid, 0)]


def summarize(minutes: float, articles: int, lost: int, rss: dict[str, list], fds: dict[str, list],
              lags: list[float], db_bytes: int, duration_s: float, window: dict[str, list] | None = None) -> dict:
    """`window`: the first worker's matching-window series, "claims" and "index_bytes" ([(t, value)])."""
    warm = warm_up_s(duration_s)
    rss_pct = {name: growth_pct(series, warm) for name, series in rss.items()}
    fd_growth = {}
    for name, series in fds.items():
        found = growth(series, warm)
        fd_growth[name] = None if found is None else int(found[1] - found[0])
    known_rss = [v for v in rss_pct.values() if v is not None]
    known_fd = [v for v in fd_growth.values() if v is not None]
    return {
        "minutes": round(minutes, 1), "articles": articles, "lost": lost,
        "rss_growth_pct": max(known_rss) if known_rss else None, "rss_growth_pct_by_service": rss_pct,
        "fd_growth": max(known_fd) if known_fd else None, "fd_growth_by_service": fd_growth,
        "lag_max_s": round(max(lags), 2) if lags else None,
        "lag_p50_s": round(statistics.median(lags), 2) if lags else None, "lag_probes": len(lags),
        "db_mb": round(db_bytes / 1e6, 1), "warm_up_s": round(warm, 1),
        **window_figures(rss.get("processors-1", []), (window or {}).get("claims", []),
                         (window or {}).get("index_bytes", []), warm),
    }


def summary_line(s: dict) -> str:
    def fmt(value, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    return (f"soak: minutes={fmt(s['minutes'], '.1f')} articles={s['articles']} lost={s['lost']} "
            f"rss_growth_pct={fmt(s['rss_growth_pct'], '.1f')} fd_growth={fmt(s['fd_growth'], 'd')} "
            f"lag_max_s={fmt(s['lag_max_s'], '.2f')} db_mb={fmt(s['db_mb'], '.1f')} "
            f"window_claims={fmt(s.get('window_claims'), 'd')} bytes_per_claim={fmt(s.get('bytes_per_claim'), 'd')} "
            f"rss_growth_pct_ex_window={fmt(s.get('rss_growth_pct_ex_window'), '.1f')}")


# --------------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Samples:
    rss: dict = field(default_factory=lambda: defaultdict(list))  # service -> [(t, bytes)]
    fds: dict = field(default_factory=lambda: defaultdict(list))  # service -> [(t, count)]
    lags: list = field(default_factory=list)
    probe_timeouts: int = 0
    worker_pids: set = field(default_factory=set)
    window: dict = field(default_factory=lambda: defaultdict(list))  # "claims" / "index_bytes" -> [(t, value)]


WINDOW_GAUGES = {"claimstream_processor_match_window_claims": "claims",
                 "claimstream_processor_match_index_bytes": "index_bytes"}


def window_gauges(metrics_text: str) -> dict[str, float]:
    """The matching window's gauges in a worker's /metrics text."""
    from prometheus_client.parser import text_string_to_metric_families

    return {WINDOW_GAUGES[sample.name]: sample.value for family in text_string_to_metric_families(metrics_text)
            for sample in family.samples if sample.name in WINDOW_GAUGES}


async def sample_window(client: httpx.AsyncClient, url: str, samples: Samples, t: float) -> None:
    try:
        r = await client.get(url, timeout=5)
    except httpx.HTTPError:
        return  # a restarting worker: the next sample has it
    if r.status_code == 200:
        for name, value in window_gauges(r.text).items():
            samples.window[name].append((t, value))


async def sample_processes(stack: stackctl.Stack, samples: Samples, t0: float, stop_at: float, every: float,
                           client: httpx.AsyncClient) -> None:
    while time.monotonic() < stop_at:
        t = time.monotonic() - t0
        for service in stack.all_services():
            if not service.alive():
                code = service.proc.returncode if service.proc else None
                raise RuntimeError(f"{service.name} exited ({code}):\n{service.log_tail()}")
            samples.rss[service.name].append((t, stackctl.rss_bytes(service.pid)))
            samples.fds[service.name].append((t, stackctl.open_fds(service.pid)))
        for worker in stack.workers:  # the supervisor's child: a new pid is a restarted worker
            if worker.pid is not None:
                samples.worker_pids.update(stackctl._children(worker.pid))
        if stack.workers:
            await sample_window(client, stack.worker_metrics_url(stack.workers[0]), samples, t)
        if int(t // 60) > int((t - every) // 60):
            log(f"  {t / 60:.0f} min: RSS MB " + ", ".join(f"{name} {series[-1][1] / 1e6:.0f}"
                                                       for name, series in samples.rss.items())
                + (f"; window {samples.window['claims'][-1][1]:.0f} claims" if samples.window.get("claims") else "")
                + (f"; lag max so far {max(samples.lags):.1f} s" if samples.lags else ""))
        await asyncio.sleep(max(0.0, min(every, stop_at - time.monotonic())))


async def probe_lag(client: httpx.AsyncClient, query_url: str, acked: dict, samples: Samples, stop_at: float,
                    every: float, timeout: float = 120.0) -> None:
    seen: set[str] = set()
    while time.monotonic() < stop_at:
        started = time.monotonic()
        newest = next(reversed(acked), None) if acked else None
        if newest and newest not in seen:
            seen.add(newest)
            acked_at = acked[newest]["acked_at"]
            deadline = acked_at + timeout
            while True:
                try:
                    r = await client.get(f"{query_url}/articles/{newest}")
                    if r.status_code == 200 and r.json()["sentence_count"] > 0:
                        samples.lags.append(time.monotonic() - acked_at)
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    samples.lags.append(timeout)
                    samples.probe_timeouts += 1
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(max(0.0, min(started + every - time.monotonic(), stop_at - time.monotonic())))


async def topic_contents(stack: stackctl.Stack) -> tuple[set[str], dict[str, int]]:
    """Article ids in `articles`, and distinct sentence ids per article id in `sentences`."""
    records = await stackctl.read_topics(stack.bootstrap, [stack.topic("articles"), stack.topic("sentences")])
    in_topic: set[str] = set()
    sentences: dict[str, set] = defaultdict(set)
    for record in records:
        if not record.value:
            continue
        value = json.loads(record.value)
        if record.topic == stack.topic("articles"):
            in_topic.add(value["article_id"])
        else:
            sentences[value["article_id"]].add(value["sentence_id"])
    return in_topic, {aid: len(ids) for aid, ids in sentences.items()}


async def shown(client: httpx.AsyncClient, query_url: str, ids: list[str]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    sem = asyncio.Semaphore(8)

    async def one(aid: str) -> None:
        async with sem:
            r = await client.get(f"{query_url}/articles/{aid}")
        out[aid] = r.json()["sentence_count"] if r.status_code == 200 else None

    await asyncio.gather(*(one(aid) for aid in ids))
    return out


async def reconcile(client: httpx.AsyncClient, stack: stackctl.Stack, acked: dict, timeout: float) -> list[str]:
    """Lost articles once the pipeline has caught up, or what is still missing at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        in_topic, topic_sentences = await topic_contents(stack)
        lost = lost_articles(list(acked), in_topic, topic_sentences,
                             await shown(client, stack.query_url, list(acked)))
        if not lost or time.monotonic() > deadline:
            return lost
        await asyncio.sleep(5)


async def run(stack: stackctl.Stack, supply: Supply, rate: float, duration_s: float, sample_s: float,
              probe_s: float, drain_s: float) -> dict:
    acked: dict = {}
    samples = Samples()
    client = httpx.AsyncClient(timeout=30)
    load = Load(stack.ingest_url, supply, acked, rate, batch=2)
    t0 = time.monotonic()
    stop_at = t0 + duration_s
    load.start()
    tasks = [asyncio.create_task(sample_processes(stack, samples, t0, stop_at, sample_s, client)),
             asyncio.create_task(probe_lag(client, stack.query_url, acked, samples, stop_at, probe_s))]
    try:
        # A failing sampler (a service died) ends the run early; otherwise it ends at stop_at.
        done, _ = await asyncio.wait(tasks, timeout=max(0.0, stop_at - time.monotonic()),
                                     return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # raises what failed
        loaded_s = time.monotonic() - t0
        stats = await load.stop()
        log(f"load stopped after {loaded_s:.0f} s: {stats.published} published, errors {dict(stats.http_errors)}; "
            f"draining (up to {drain_s:.0f} s)")
        lost = await reconcile(client, stack, acked, drain_s)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await load.stop()
        await load.close()
        await client.aclose()
    db_bytes = sum(f.stat().st_size for f in stack.workdir.glob("*.db*") if f.is_file())
    summary = summarize(loaded_s / 60, len(acked), len(lost), samples.rss, samples.fds, samples.lags,
                        db_bytes, loaded_s, samples.window)
    summary.update({"rate": rate, "lost_examples": lost[:5], "lag_probe_timeouts": samples.probe_timeouts,
                    "worker_processes": len(samples.worker_pids), "load": {**stats.__dict__,
                                                                           "http_errors": dict(stats.http_errors)}})
    return {"summary": summary,
            "samples": {"rss": {k: v for k, v in samples.rss.items()}, "fds": {k: v for k, v in samples.fds.items()},
                        "lags": [round(x, 3) for x in samples.lags], "window": dict(samples.window)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Steady load on the full stack; resource growth and lag")
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("MINUTES", "30")))
    parser.add_argument("--rate", type=float, help="articles/s (default: half the capacity make bench measured)")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--own-broker", action="store_true", help="start a private broker for the run")
    parser.add_argument("--brokers", type=int, default=1,
                        help="nodes of an own broker (more than 1 implies --own-broker); without it the run "
                             "uses --bootstrap with KAFKA_REPLICATION_FACTOR, as `make soak BROKERS=3` sets them")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--probe-s", type=float, default=15.0)
    parser.add_argument("--drain-s", type=float, default=240.0)
    parser.add_argument("--out", type=Path, default=ROOT / "test-output" / "soak.json")
    args = parser.parse_args(argv)
    if args.minutes <= 0:
        parser.error("--minutes must be positive")
    rate, rate_source = (args.rate, "--rate") if args.rate else default_rate(ROOT / "test-output" / "bench.json")
    stackctl.install_signal_handlers()
    run_id = f"soak{int(time.time()) % 100000}"
    workdir = Path(tempfile.mkdtemp(prefix="claimstream-soak-"))
    env: dict = {}
    stackctl.choose_claim_model(env)
    own = args.own_broker or args.brokers > 1
    broker = stackctl.OwnBroker(workdir / "kafka", brokers=args.brokers) if own else None
    if broker and broker.brokers > 1:
        env["KAFKA_REPLICATION_FACTOR"] = str(broker.replication_factor)
    report: dict = {"config": {"minutes": args.minutes, "rate": rate, "rate_source": rate_source,
                               "brokers": args.brokers if own else None, "loadavg_start": os.getloadavg()}}
    error, stack = None, None
    log(f"soak: {args.minutes} min at {rate} articles/s ({rate_source})")
    try:
        if broker:
            log(f"starting own broker on {broker.bootstrap}")
            broker.up()
        stack = stackctl.Stack(broker.bootstrap if broker else args.bootstrap, workdir, namespace=run_id,
                               extra_env=env, supervise_workers=True)
        report["config"]["healthy_s"] = stack.start(workers=1)
        report.update(asyncio.run(run(stack, Supply(run_id, 5), rate, args.minutes * 60, args.sample_s,
                                      args.probe_s, args.drain_s)))
    except (Exception, KeyboardInterrupt, SystemExit) as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        error = f"{type(exc).__name__}: {exc}"
        log(f"soak failed or interrupted: {error}")
    finally:
        if stack is not None:
            stack.close(copy_logs_to=ROOT / "test-output" / "soak-logs")
        if broker is not None:
            broker.down()
            broker.remove()
        shutil.rmtree(workdir, ignore_errors=True)
    report["error"] = error
    report["config"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    summary = report.get("summary")
    if summary is None:
        print(f"soak: failed: {error}", flush=True)
        return 1
    by = summary["rss_growth_pct_by_service"]
    print("rss growth % by service: " + ", ".join(f"{k} {v}" for k, v in by.items()) +
          f"; fd growth: {summary['fd_growth_by_service']}; lag p50 {summary['lag_p50_s']} s over "
          f"{summary['lag_probes']} probes ({summary['lag_probe_timeouts']} timed out); "
          f"worker processes {summary['worker_processes']}")
    print(summary_line(summary), flush=True)
    return 0 if error is None and summary["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
