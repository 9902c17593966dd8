"""Shared fixtures: the real Kafka broker and the real services as subprocesses."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# In-process faust test contexts (agent unit tests) use the memory store; the
# services that the `stack` fixture starts use RocksDB, as deployed.
os.environ.setdefault("PROCESSORS_STORE", "memory://")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
OUTPUT = ROOT / "test-output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _docker_engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap():
    """KAFKA_BOOTSTRAP_SERVERS when set; else testcontainers when Docker runs; else the project's own broker."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    env = {**os.environ, "PYTHON": sys.executable}
    was_running = subprocess.run(["bash", "deploy/kafka/kafka.sh", "status"], cwd=ROOT, env=env,
                                 capture_output=True).returncode == 0
    up = subprocess.run(["bash", "deploy/kafka/kafka.sh", "up"], cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=600)
    assert up.returncode == 0, f"could not start the local Kafka broker:\n{up.stdout}\n{up.stderr}"
    yield f"{os.environ.get('KAFKA_HOST', '127.0.0.1')}:{os.environ.get('KAFKA_PORT', '9092')}"
    if not was_running:
        subprocess.run(["bash", "deploy/kafka/kafka.sh", "down"], cwd=ROOT, env=env, capture_output=True)


@pytest.fixture(scope="session")
def namespace() -> str:
    # A fresh topic namespace per run: no test reads an earlier run's messages.
    return f"t{uuid.uuid4().hex[:10]}"


@dataclass
class Stack:
    ingest: str
    query: str
    processors: str
    namespace: str
    bootstrap: str
    env: dict
    workdir: Path
    procs: dict


def _wait_healthy(name: str, url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} not healthy at {url} within {timeout}s:\n{log.read_text()[-4000:]}")


# Under its supervisor, as in every deployment: a worker that stops itself (watchdog, records
# skipped after a rebalance) comes back and replays from the committed offsets.
PROCESSORS_WORKER = ["-m", "services.common.supervise", sys.executable, "-m", "services.processors", "worker",
                     "-l", "info"]


def start_service(name: str, args: list[str], env: dict, workdir: Path, health: str) -> subprocess.Popen:
    log = workdir / f"{name}.log"
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    _wait_healthy(name, health, proc, log)
    return proc


def stop_service(proc: subprocess.Popen, sig: str = "term") -> None:
    """SIGTERM to the process (a supervisor passes it on), or SIGKILL to its whole process group."""
    if proc.poll() is None:
        if sig == "kill":
            _kill_group(proc)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.wait()


def _kill_group(proc: subprocess.Popen) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: the group id is the pid
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def feed_server(tmp_path_factory):
    """A local HTTP server for RSS tests, started before the stack so ingest can poll it."""
    import http.server
    import threading

    root = tmp_path_factory.mktemp("feeds")
    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # keep pytest's output readable
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def stack(kafka_bootstrap, namespace, tmp_path_factory, feed_server, postgres_server) -> Stack:
    """ingest, processors and query as real processes on free ports, on a fresh namespace.

    Ingest keeps its ledger in PostgreSQL and query its projection in SQLite, so the whole pipeline
    runs on both databases (the other ingest ledgers of the tests, and tests/databases.py, cover
    the other halves)."""
    workdir = tmp_path_factory.mktemp("stack")
    feed_root, feed_url = feed_server
    ports = {"ingest": free_port(), "query": free_port(), "processors": free_port()}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CLAIMSTREAM_NAMESPACE": namespace,
        "PROCESSORS_STORE": "rocksdb://",
        "PROCESSORS_WEB_PORT": str(ports["processors"]),
        "INGEST_DB_URL": postgres_server.create_database("stack_ingest"),
        "INGEST_FEEDS": f'["{feed_url}/feed.xml"]',
        "INGEST_FEED_INTERVAL_S": "1",
        "INGEST_FEED_ALLOW_PRIVATE": "true",  # the test feed is served from 127.0.0.1
        "QUERY_DB_URL": f"sqlite:///{workdir / 'query.db'}",
    }
    (feed_root / "feed.xml").write_text(EMPTY_FEED)
    procs = {}
    try:
        procs["processors"] = start_service("processors", PROCESSORS_WORKER, env, workdir,
                                            f"http://127.0.0.1:{ports['processors']}/healthz")
        procs["query"] = start_service("query", ["-m", "uvicorn", "services.query.main:app", "--port",
                                                 str(ports["query"])], env, workdir,
                                       f"http://127.0.0.1:{ports['query']}/healthz")
        procs["ingest"] = start_service("ingest", ["-m", "uvicorn", "services.ingest.main:app", "--port",
                                                   str(ports["ingest"])], env, workdir,
                                        f"http://127.0.0.1:{ports['ingest']}/healthz")
        yield Stack(ingest=f"http://127.0.0.1:{ports['ingest']}", query=f"http://127.0.0.1:{ports['query']}",
                    processors=f"http://127.0.0.1:{ports['processors']}", namespace=namespace,
                    bootstrap=kafka_bootstrap, env=env, workdir=workdir, procs=procs)
    finally:
        for proc in procs.values():
            stop_service(proc)
        OUTPUT.mkdir(exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, OUTPUT / log.name)


EMPTY_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Empty</title></channel></rss>"""


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.5, message: str = "condition"):
    """Poll until predicate() returns a truthy value; return it, or fail with the message."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")


# SQLite and PostgreSQL for the query and ingest tests (tests/databases.py).
pytest_plugins = ["tests.databases"]
