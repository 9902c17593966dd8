"""Start and stop a ClaimStream stack as child processes, for scripts/bench.py and scripts/chaos.py.

- `Service`: one service process in its own process group (so its children go with it), its
  log in the run folder, a health URL; `stop()` (SIGTERM, then SIGKILL), `kill9()`, `restart()`.
- `Stack`: processors worker(s), query and ingest on free ports with a fresh topic namespace
  and their own SQLite files and faust data folders; add and remove processor workers.
- `OwnBroker`: a private Kafka broker started with deploy/kafka/kafka.sh on free ports and
  a private KAFKA_HOME_DIR (the cached jars of <repo>/.kafka/libs are linked, not resolved
  again); `down()`/`up()` keep its data, so a restart is a real broker restart.
- Kafka helpers: read a topic to its end, group offsets vs end offsets, raw producer.

Nothing here is left running: `Stack.close()` and `OwnBroker.down()` are meant for `finally`,
and `install_signal_handlers()` turns SIGTERM/SIGHUP into SystemExit so those blocks run.
The lead's shared broker (127.0.0.1:9092) is only ever used, never stopped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUTPUT = ROOT / "test-output"
CLAIM_MODEL_ENV = "CLAIMSTREAM_CLAIM_MODEL"


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def install_signal_handlers() -> None:
    """SIGTERM / SIGHUP raise SystemExit, so `finally` blocks stop every child process."""
    def _exit(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)


def choose_claim_model(env: dict) -> str | None:
    """The claim model the services will load. While the new model's metadata file is missing,
    fall back to the older TF-IDF model (CLAIMSTREAM_CLAIM_MODEL=tfidf), unless one is set.

    Sets the variable in `env` and in this process (the in-process baseline and the offline
    expectations must use the same model as the processors). Returns the choice (None: default).
    """
    if env.get(CLAIM_MODEL_ENV):
        os.environ[CLAIM_MODEL_ENV] = env[CLAIM_MODEL_ENV]
        return env[CLAIM_MODEL_ENV]
    from services.nlp import claims

    if not claims.META_PATH.exists():
        log(f"claim model metadata missing at {claims.META_PATH}: using {CLAIM_MODEL_ENV}=tfidf")
        env[CLAIM_MODEL_ENV] = os.environ[CLAIM_MODEL_ENV] = "tfidf"
        return "tfidf"
    return None


# --------------------------------------------------------------------------------------------------
# Processes


class ServiceFailed(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict
    logfile: Path
    health: str
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    healthy_at: float = 0.0

    def start(self) -> Service:
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        with self.logfile.open("ab") as out:
            out.write(f"\n===== start {time.strftime('%H:%M:%S')} {' '.join(self.args)}\n".encode())
            out.flush()
            # Own session = own process group: stop()/kill9() reach every child, and a Ctrl-C
            # in the terminal goes to this script only (which then stops the group itself).
            self.proc = subprocess.Popen([python(), *self.args], cwd=ROOT, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self, timeout: float = 180.0) -> float:
        """Seconds from start to the first 200 on the health URL; raises ServiceFailed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServiceFailed(f"{self.name} exited with {self.proc.returncode if self.proc else '?'}:\n"
                                    f"{self.log_tail()}")
            try:
                if httpx.get(self.health, timeout=2).status_code == 200:
                    self.healthy_at = time.monotonic()
                    return self.healthy_at - self.started_at
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise ServiceFailed(f"{self.name} not healthy at {self.health} within {timeout:.0f}s:\n{self.log_tail()}")

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)  # the group id is the child's pid (own session)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout` seconds."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._signal_group(signal.SIGKILL)  # leftovers of the group, if any

    def kill9(self) -> None:
        if self.proc is not None:
            self._signal_group(signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class Stack:
    """processors worker(s), query and ingest on free ports, a fresh namespace, private state."""

    def __init__(self, bootstrap: str, workdir: Path, namespace: str | None = None, extra_env: dict | None = None,
                 health_timeout: float = 240.0, supervise_workers: bool = False):
        self.bootstrap = bootstrap
        # Under services.common.supervise a worker that exits with code 1 comes back, as under
        # compose or k8s (cpu_seconds counts the supervisor's live child).
        self.supervise_workers = supervise_workers
        self.workdir = workdir
        self.namespace = namespace or f"b{uuid.uuid4().hex[:10]}"
        self.health_timeout = health_timeout
        self.query_port = free_port()
        self.ingest_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "QUERY_", "PROCESSORS_"))}
        env.update({
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CLAIMSTREAM_NAMESPACE": self.namespace,
            "INGEST_DB_URL": f"sqlite:///{workdir / 'ingest.db'}",
            "QUERY_DB_URL": f"sqlite:///{workdir / 'query.db'}",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra_env or {})
        self.env = env
        self.workers: list[Service] = []
        self.query: Service | None = None
        self.ingest: Service | None = None
        self._worker_no = 0

    # names and urls
    @property
    def group_id(self) -> str:
        return f"{self.namespace}-processors" if self.namespace != "claimstream" else "claimstream-processors"

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.query_port}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    def topic(self, thing: str) -> str:
        from schemas import topic_name

        return topic_name(thing, self.namespace)

    # services
    def _worker(self) -> Service:
        self._worker_no += 1
        port = free_port()
        env = {**self.env, "PROCESSORS_WEB_PORT": str(port),
               "PROCESSORS_DATA_DIR": str(self.workdir / f"processors-{self._worker_no}")}
        if self._worker_no == 1:  # restarted in place (kill9 scenario, supervisor): static membership
            env["PROCESSORS_INSTANCE_ID"] = "processors-1"
        worker = ["-m", "services.processors", "worker", "-l", "info"]
        if self.supervise_workers:
            worker = ["-m", "services.common.supervise", python(), *worker]
        return Service(f"processors-{self._worker_no}", worker,
                       env, self.workdir / f"processors-{self._worker_no}.log", f"http://127.0.0.1:{port}/healthz")

    def worker_metrics_url(self, worker: Service) -> str:
        return worker.health.replace("/healthz", "/metrics")

    def _query(self) -> Service:
        return Service("query", ["-m", "uvicorn", "services.query.main:app", "--host", "127.0.0.1", "--port",
                                 str(self.query_port), "--no-access-log"],
                       self.env, self.workdir / "query.log", f"{self.query_url}/healthz")

    def _ingest(self) -> Service:
        return Service("ingest", ["-m", "uvicorn", "services.ingest.main:app", "--host", "127.0.0.1", "--port",
                                  str(self.ingest_port), "--no-access-log"],
                       self.env, self.workdir / "ingest.log", f"{self.ingest_url}/healthz")

    def start(self, workers: int = 1) -> dict[str, float]:
        """Create the topics, start everything at once, wait for every /healthz; seconds to healthy by name."""
        replication = self.env.get("KAFKA_REPLICATION_FACTOR")
        asyncio.run(create_topics(self.bootstrap, self.namespace, int(replication) if replication else None))
        services = [self._worker() for _ in range(workers)]
        self.workers.extend(services)
        self.query, self.ingest = self._query(), self._ingest()
        services += [self.query, self.ingest]
        for service in services:
            service.start()
        return {s.name: round(self._healthy(s), 2) for s in services}

    def _healthy(self, service: Service) -> float:
        try:
            return service.wait_healthy(self.health_timeout)
        except ServiceFailed as exc:
            if not (service.name.startswith("processors") and "model metadata missing" in str(exc)
                    and not self.env.get(CLAIM_MODEL_ENV)):
                raise
        # The new claim model has not landed: the older one for every worker (and this process).
        log(f"{service.name}: claim model metadata missing; restarting it with {CLAIM_MODEL_ENV}=tfidf")
        self.env[CLAIM_MODEL_ENV] = os.environ[CLAIM_MODEL_ENV] = "tfidf"
        for worker in self.workers:
            worker.env[CLAIM_MODEL_ENV] = "tfidf"
        service.start()
        return service.wait_healthy(self.health_timeout)

    def add_worker(self, wait: bool = True) -> Service:
        worker = self._worker().start()
        self.workers.append(worker)
        if wait:
            self._healthy(worker)
        return worker

    def remove_worker(self, worker: Service, kill: bool = False) -> None:
        worker.kill9() if kill else worker.stop()
        self.workers.remove(worker)

    def restart_worker(self, worker: Service, wait: bool = True) -> Service:
        """Start a killed or stopped worker again with the same port, data folder and log."""
        fresh = Service(worker.name, worker.args, worker.env, worker.logfile, worker.health).start()
        self.workers[self.workers.index(worker)] = fresh
        if wait:
            self._healthy(fresh)
        return fresh

    def start_query(self, wait: bool = True) -> Service:
        """A new query process on the same port and database (after `self.query.stop()`)."""
        self.query = self._query().start()
        if wait:
            self._healthy(self.query)
        return self.query

    def restart_query(self, wait: bool = True) -> Service:
        if self.query is not None:
            self.query.stop()
        return self.start_query(wait)

    def all_services(self) -> list[Service]:
        return [s for s in [self.ingest, self.query, *self.workers] if s is not None]

    def close(self, copy_logs_to: Path | None = None) -> None:
        for service in self.all_services():
            try:
                service.stop(timeout=20)
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                log(f"could not stop {service.name}: {exc!r}")
        if copy_logs_to is not None:
            copy_logs_to.mkdir(parents=True, exist_ok=True)
            for logfile in self.workdir.glob("*.log"):
                shutil.copy(logfile, copy_logs_to / logfile.name)


def cpu_seconds(pid: int | None) -> float:
    """utime + stime of a process, its reaped children and its live descendants, in seconds.

    Live descendants count too: a supervised worker's CPU is spent in the supervisor's child.
    0 when the process is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    own = sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
    return own + sum(cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(x) for x in listing.read_text().split()]
        except OSError:
            pass
    return found


def _tree(pid: int) -> list[int]:
    return [pid, *(p for child in _children(pid) for p in _tree(child))]


def rss_bytes(pid: int | None) -> int:
    """Resident memory of a process and its live descendants (VmRSS), in bytes; 0 when it is gone."""
    total = 0
    for member in _tree(pid) if pid else []:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def open_fds(pid: int | None) -> int:
    """Open file descriptors of a process and its live descendants; 0 when it is gone."""
    total = 0
    for member in _tree(pid) if pid else []:
        try:
            total += len(os.listdir(f"/proc/{member}/fd"))
        except OSError:
            pass
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    parts = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0.0)
    return sum(parts) - idle, sum(parts)


class MachineLoad:
    """Share of all cores busy (any process on the machine) between start() and stop()."""

    def __init__(self) -> None:
        self.begin = machine_cpu()

    def busy_fraction(self) -> float:
        busy, total = machine_cpu()
        d_total = total - self.begin[1]
        return round((busy - self.begin[0]) / d_total, 3) if d_total > 0 else 0.0


# --------------------------------------------------------------------------------------------------
# Own broker


class OwnBroker:
    """A private broker, or a cluster of `brokers` nodes, via deploy/kafka/kafka.sh on free ports,
    state in `home`. A cluster's single nodes can be killed, frozen and restarted (`up` starts only
    the nodes that do not run)."""

    def __init__(self, home: Path | None = None, heap: str | None = None, brokers: int = 1):
        self.home = home or Path(tempfile.mkdtemp(prefix="claimstream-kafka-"))
        self.brokers = brokers
        self.ports = [free_port() for _ in range(brokers)]
        self.controller_ports = [free_port() for _ in range(brokers)]
        self.heap = heap or ("512m" if brokers == 1 else "384m")
        self.started = False
        libs = ROOT / ".kafka" / "libs"
        if libs.is_dir() and not (self.home / "libs").exists():
            self.home.mkdir(parents=True, exist_ok=True)
            (self.home / "libs").symlink_to(libs)  # jars resolved once for the repo; never re-resolved here

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.ports)

    @property
    def replication_factor(self) -> int:
        return min(3, self.brokers)

    def _run(self, action: str, timeout: float) -> subprocess.CompletedProcess:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(self.controller_ports[0]),
               "KAFKA_BROKERS": str(self.brokers), "KAFKA_PORTS": ",".join(map(str, self.ports)),
               "KAFKA_CONTROLLER_PORTS": ",".join(map(str, self.controller_ports)),
               "KAFKA_HOME_DIR": str(self.home), "KAFKA_HEAP": self.heap, "PYTHON": python(),
               "KAFKA_WAIT_TIMEOUT": "120", "KAFKA_STOP_TIMEOUT": "30"}
        return subprocess.run(["bash", str(ROOT / "deploy" / "kafka" / "kafka.sh"), action], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def up(self) -> float:
        t0 = time.monotonic()
        self.started = True  # from here on, `down()` must run (a half-started JVM too)
        done = self._run("up", 240)
        if done.returncode != 0:
            raise RuntimeError(f"own broker did not start on {self.bootstrap}:\n{done.stdout}\n{done.stderr[-3000:]}")
        return time.monotonic() - t0

    def down(self) -> float:
        t0 = time.monotonic()
        if self.started:
            done = self._run("down", 120)
            if done.returncode != 0:
                log(f"kafka.sh down failed: {done.stderr[-1000:]}")
        return time.monotonic() - t0

    def pids(self) -> dict[int, int]:
        """node id -> pid of each running node."""
        done = self._run("pids", 30)
        return {int(node): int(pid) for node, pid, _ in (line.split() for line in done.stdout.splitlines() if line)}

    def leader(self) -> int:
        """Node id of the active controller (the KRaft quorum leader)."""
        done = self._run("leader", 30)
        if done.returncode != 0:
            raise RuntimeError(f"no controller leader: {done.stderr.strip()}")
        return int(done.stdout.strip())

    def signal(self, node: int, sig: int) -> int:
        """Send `sig` to node `node`'s JVM; returns its pid."""
        pid = self.pids()[node]
        os.kill(pid, sig)
        return pid

    def remove(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# Kafka helpers (aiokafka)


async def create_topics(bootstrap: str, namespace: str, replication_factor: int | None = None) -> None:
    from services.common.kafka import ensure_topics, wait_for_broker

    await wait_for_broker(bootstrap, 60)
    await ensure_topics(bootstrap, namespace, replication_factor)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


async def read_topics(bootstrap: str, topics: list[str], timeout: float = 60.0) -> list[Record]:
    """Every record of `topics` from the start up to the end offsets seen when called."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
                                fetch_max_bytes=16 * 1024 * 1024)
    await consumer.start()
    out: list[Record] = []
    try:
        partitions = []
        for topic in topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                await consumer._client.force_metadata_update()
                found = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        if not partitions:
            return out
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not behind:
                break
            batches = await consumer.getmany(*behind, timeout_ms=500)
            for tp, messages in batches.items():
                out += [Record(tp.topic, tp.partition, m.offset, m.key, m.value) for m in messages]
    finally:
        await consumer.stop()
    return out


@dataclass
class GroupOffsets:
    end: dict = field(default_factory=dict)  # (topic, partition) -> end offset
    committed: dict = field(default_factory=dict)  # (topic, partition) -> position: committed, else log start
    raw_committed: dict = field(default_factory=dict)  # (topic, partition) -> committed offset (-1: none)


class OffsetWatch:
    """End offsets of some topics and a consumer group's committed offsets (one client pair, reused)."""

    def __init__(self, bootstrap: str, group_id: str, topics: list[str], request_timeout_ms: int = 5000):
        self.bootstrap, self.group_id, self.topics = bootstrap, group_id, topics
        self.timeout_ms = request_timeout_ms
        self._admin = None
        self._consumer = None
        self._partitions: list = []

    async def _clients(self):
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient

        if self._admin is None:
            self._admin = admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap,
                                                      request_timeout_ms=self.timeout_ms)
            await admin.start()
            self._consumer = consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                                         enable_auto_commit=False, request_timeout_ms=self.timeout_ms)
            await consumer.start()
            self._partitions = []
            for topic in self.topics:
                found = consumer.partitions_for_topic(topic)
                if not found:
                    await consumer._client.force_metadata_update()
                    found = consumer.partitions_for_topic(topic) or set()
                self._partitions += [TopicPartition(topic, p) for p in sorted(found)]
        return self._admin, self._consumer

    async def read(self) -> GroupOffsets:
        admin, consumer = await self._clients()
        committed = await admin.list_consumer_group_offsets(self.group_id, partitions=self._partitions)
        end = await consumer.end_offsets(self._partitions)
        begin = await consumer.beginning_offsets(self._partitions)
        out = GroupOffsets()
        for tp in self._partitions:
            key = (tp.topic, tp.partition)
            out.end[key] = end[tp]
            meta = committed.get(tp)
            offset = meta.offset if meta is not None else -1
            out.raw_committed[key] = offset
            # No commit yet (-1), or one retention has passed: the group starts at the log start.
            out.committed[key] = max(offset, begin[tp])
        return out

    async def members(self) -> tuple[str, int]:
        """(state, member count) of the group."""
        admin, _ = await self._clients()
        described = await admin.describe_consumer_groups([self.group_id])
        group = described[0].groups[0] if hasattr(described[0], "groups") else described[0]
        if isinstance(group, tuple):  # aiokafka returns the raw response tuples
            return str(group[2]), len(group[5])
        return str(getattr(group, "state", "?")), len(getattr(group, "members", []))

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        for client, closer in ((consumer, "stop"), (admin, "close")):
            if client is not None:
                try:
                    await getattr(client, closer)()
                except Exception:  # noqa: BLE001 - closing a broken client
                    pass


def make_raw_producer(bootstrap: str):
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                            max_request_size=4 * 1024 * 1024, request_timeout_ms=30_000)


def parse_metrics(text: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text -> {(sample name, sorted label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric(samples: dict, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))
