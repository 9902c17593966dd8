"""How many live SSE clients one query process serves with a p99 delivery delay under a limit.

For each N in --clients (default 50,100,200,400,800,1600) the script opens N concurrent
`/claims/stream` clients on loopback, all filtered on the server to this run's outlet, then
publishes --events claims (at --rate per second) straight to the claims topic, as the
processors would. Each client notes when each claim arrives; the delay of one delivery is
receipt time minus publish time (one clock: this process). It prints one line per N and stops
after the last N or after the first N whose p99 is over --limit-s (or that lost deliveries).

By default it starts its own query service on a fresh topic namespace and a temporary
database, and stops it at the end; `--url URL --namespace NS` measures a running one (loopback
only; the claims it publishes stay in that namespace's topics). Needs the Kafka broker
(KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:9092).

    .venv/bin/python scripts/feed_capacity.py
    .venv/bin/python scripts/feed_capacity.py --clients 100,200 --events 200 --rate 50

The clients run in --procs worker processes on the same machine: the figures include their CPU
use, and whatever else the machine runs (the load average is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas import ClaimDetected, ClusterKey, encode, topic_name  # noqa: E402 - needs the sys.path set-up above
from services.common.kafka import make_producer  # noqa: E402 - needs the sys.path set-up above

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CLAIM_ID = re.compile(rb'"claim_id":"(cap-[0-9a-f]+-\d+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Client:
    """A minimal SSE client on a raw asyncio stream: records when each of our claim ids arrives."""

    def __init__(self, host: str, port: int, path: str, received: dict) -> None:
        self.host, self.port, self.path = host, port, path
        self.received = received  # claim id -> list of receipt times, shared by all clients
        self.ready = asyncio.Event()
        self.writer: asyncio.StreamWriter | None = None

    async def run(self) -> None:
        reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n\r\n"
                          .encode())
        await self.writer.drain()
        buffer = b""
        while True:
            chunk = await reader.read(1 << 16)
            if not chunk:
                return
            now = time.time()
            buffer += chunk
            if not self.ready.is_set() and b"claimstream feed" in buffer:
                self.ready.set()
            cut = buffer.rfind(b"\n\n")
            if cut < 0:
                continue
            complete, buffer = buffer[:cut], buffer[cut + 2:]
            for match in CLAIM_ID.finditer(complete):
                self.received.setdefault(match.group(1).decode(), []).append(now)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def client_process(conn, host: str, port: int, path: str, n: int) -> None:
    """A worker process holding n clients. Protocol on `conn`: it sends "ready" (or an error), then
    answers "count" with the deliveries so far and "stop" with {claim id: [receipt times]}."""
    asyncio.run(_client_process(conn, host, port, path, n))


async def _client_process(conn, host: str, port: int, path: str, n: int) -> None:
    loop = asyncio.get_running_loop()
    received: dict[str, list[float]] = {}
    clients = [Client(host, port, path, received) for _ in range(n)]
    tasks = [asyncio.create_task(c.run()) for c in clients]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), timeout=60)
        conn.send("ready")
    except TimeoutError:
        conn.send("clients did not connect within 60 s")
    while True:
        message = await loop.run_in_executor(None, conn.recv)
        if message == "count":
            conn.send(sum(len(v) for v in received.values()))
        else:
            break
    for client in clients:
        client.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(received)


async def measure(args, base: str, namespace: str, n: int, pid: int | None) -> dict:
    parts = urlsplit(base)
    run = uuid.uuid4().hex[:8]
    outlet = f"Capacity {run}"
    path = "/claims/stream?" + urlencode({"outlet": outlet, "types": "claim"})
    context = multiprocessing.get_context("spawn")
    shares = [n // args.procs + (1 if i < n % args.procs else 0) for i in range(args.procs)]
    workers = []
    for share in (s for s in shares if s):
        parent, child = context.Pipe()
        proc = context.Process(target=client_process, args=(child, parts.hostname, parts.port, path, share),
                               daemon=True)
        proc.start()
        workers.append((proc, parent))
    loop = asyncio.get_running_loop()

    async def ask(conn, message=None):
        if message is not None:
            conn.send(message)
        return await loop.run_in_executor(None, conn.recv)

    try:
        states = [await ask(conn) for _, conn in workers]
        if any(state != "ready" for state in states):
            return {"clients": n, "error": next(s for s in states if s != "ready")}
        producer = make_producer(args.bootstrap, client_id=f"feed-capacity-{run}")
        await producer.start()
        sent: dict[str, float] = {}
        cpu_before = cpu_seconds(pid)
        try:
            text = "The port authority said 40,000 containers were delayed during the three-day strike, " * 2
            start = time.monotonic()
            for i in range(args.events):
                await asyncio.sleep(max(0.0, start + i / args.rate - time.monotonic()))
                claim_id = f"cap-{run}-{i}"
                at = datetime.now(timezone.utc)
                event = ClaimDetected(claim_id=claim_id, cluster_id=f"c_cap{run}{i}", article_id=f"cap-{run}",
                                      version=1, sentence_id=claim_id, text=text, start=0, end=len(text),
                                      outlet=outlet, received_at=at, detected_at=at, claim_score=0.9,
                                      model_version="capacity")
                sent[claim_id] = time.time()
                await producer.send(topic_name("claims", namespace),
                                    key=encode(ClusterKey(cluster_id=event.cluster_id)), value=encode(event))
            await producer.flush()
        finally:
            await producer.stop()
        expected = n * args.events
        deadline = time.monotonic() + args.settle_s
        while time.monotonic() < deadline:
            if sum([await ask(conn, "count") for _, conn in workers]) >= expected:
                break
            await asyncio.sleep(0.5)
        cpu_after = cpu_seconds(pid)
        received: list[dict] = [await ask(conn, "stop") for _, conn in workers]
    finally:
        for proc, _ in workers:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    delays = [t - sent[cid] for part in received for cid, times in part.items() if cid in sent for t in times]
    return {
        "clients": n, "events": args.events, "delivered": len(delays), "expected": expected,
        "p50": statistics.median(delays) if delays else None, "p99": percentile(delays, 0.99) if delays else None,
        "max": max(delays) if delays else None,
        "server_cpu_s": None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    }


def start_query(args) -> tuple[subprocess.Popen, str, str, Path]:
    namespace = f"capacity{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix="feed-capacity-"))
    port = free_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": args.bootstrap, "CLAIMSTREAM_NAMESPACE": namespace,
           "QUERY_DB_URL": f"sqlite:///{workdir / 'query.db'}", "QUERY_STREAM_MAX_CLIENTS": "100000",
           "CLAIMSTREAM_LOG_LEVEL": "WARNING"}
    log = (workdir / "query.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "services.query.main:app", "--port", str(port),
                             "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the query service exited; see {workdir / 'query.log'}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base, namespace, workdir
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"the query service did not become healthy; see {workdir / 'query.log'}")


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


async def main_async(args, base: str, namespace: str, pid: int | None) -> int:
    print(f"query {base}  namespace {namespace}  events/step {args.events} at {args.rate:g}/s  "
          f"limit p99 < {args.limit_s:g} s  client processes {args.procs}  cpus {os.cpu_count()}  "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{'clients':>7} {'delivered':>15} {'p50_ms':>7} {'p99_ms':>7} {'max_ms':>7} {'server_cpu_s':>12}")
    best = 0
    for n in args.clients:
        row = await measure(args, base, namespace, n, pid)
        if "error" in row:
            print(f"{n:>7} {row['error']}")
            break
        cpu = "-" if row["server_cpu_s"] is None else f"{row['server_cpu_s']:.1f}"
        print(f"{n:>7} {row['delivered']:>7}/{row['expected']:<7} {fmt_ms(row['p50']):>7} {fmt_ms(row['p99']):>7} "
              f"{fmt_ms(row['max']):>7} {cpu:>12}", flush=True)
        ok = row["delivered"] == row["expected"] and row["p99"] is not None and row["p99"] < args.limit_s
        if not ok:
            break
        best = n
        await asyncio.sleep(1.0)  # let the server forget the last step's clients
    print(f"largest tested N with every event delivered and p99 < {args.limit_s:g} s: {best or 'none'}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="50,100,200,400,800,1600",
                        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
                        help="comma-separated client counts, tried in order")
    parser.add_argument("--events", type=int, default=100, help="claims published per step")
    parser.add_argument("--rate", type=float, default=20.0, help="claims per second")
    parser.add_argument("--limit-s", type=float, default=1.0, help="stop after a step whose p99 is over this")
    parser.add_argument("--procs", type=int, default=2, help="client processes (the clients are spread over them)")
    parser.add_argument("--settle-s", type=float, default=30.0, help="longest wait for the last deliveries")
    parser.add_argument("--url", help="a running query service (loopback only); default: start one")
    parser.add_argument("--namespace", help="its topic namespace (with --url)")
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args()
    if not args.clients or min(args.clients) < 1 or args.events < 1 or args.rate <= 0 or args.procs < 1:
        parser.error("--clients, --events, --rate and --procs must be positive")
    if args.url:
        host = urlsplit(args.url).hostname
        if host not in LOOPBACK:
            parser.error(f"--url must be a loopback address, not {host!r}")
        if not args.namespace:
            parser.error("--url needs --namespace (the topic namespace that service reads)")
        return asyncio.run(main_async(args, args.url.rstrip("/"), args.namespace, None))
    proc, base, namespace, workdir = start_query(args)
    try:
        return asyncio.run(main_async(args, base, namespace, proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"(query service stopped; its log and database are in {workdir})")


if __name__ == "__main__":
    raise SystemExit(main())
