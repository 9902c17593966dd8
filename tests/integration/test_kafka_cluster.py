"""deploy/kafka/kafka.sh with KAFKA_BROKERS=3: a real three-node KRaft cluster on spare ports.

The project's topic creation gives it 3 copies and min.insync.replicas 2; with one node killed
(SIGKILL) an acks=all produce still succeeds; `up` brings the node back; `down` stops all three.
The shared broker on 9092 is neither used nor touched.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.topics import topic_name
from services.common.kafka import ensure_topics, make_producer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.fixture
def cluster(tmp_path: Path):
    ports = _free_ports(6)
    home = tmp_path / "kafka"
    home.mkdir()
    if (ROOT / ".kafka" / "libs").is_dir():  # the repo's jars, resolved once (else kafka.sh runs Maven)
        (home / "libs").symlink_to(ROOT / ".kafka" / "libs")
    env = {**os.environ, "KAFKA_HOME_DIR": str(home), "KAFKA_BROKERS": "3", "KAFKA_HEAP": "256m",
           "KAFKA_PORTS": ",".join(map(str, ports[:3])), "KAFKA_CONTROLLER_PORTS": ",".join(map(str, ports[3:])),
           "PYTHON": sys.executable, "KAFKA_WAIT_TIMEOUT": "180", "KAFKA_STOP_TIMEOUT": "20"}

    def run(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)

    run.bootstrap = ",".join(f"127.0.0.1:{p}" for p in ports[:3])
    try:
        yield run
    finally:
        down = run("down")
        assert down.returncode == 0, down.stderr
        assert run("pids").stdout == ""


async def _describe(bootstrap: str, topic: str) -> tuple[list[int], str | None]:
    """Replica counts per partition and min.insync.replicas of `topic`.

    A new topic reaches every broker's metadata a moment after CreateTopics returns, so the broker
    asked may not know it yet (no partitions, no configs): ask again for a bounded time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        replicas: list[int] = []
        min_isr: str | None = None
        for _ in range(60):
            (described,) = await admin.describe_topics([topic])
            replicas = [len(p["replicas"]) for p in described["partitions"]]
            (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            min_isr = {entry[0]: entry[1] for entry in configs.resources[0][4]}.get("min.insync.replicas")
            if replicas and min_isr is not None:
                break
            await asyncio.sleep(0.5)
        return replicas, min_isr
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, n: int) -> int:
    producer = make_producer(bootstrap, "cluster-test")  # acks=all, idempotent: as every service
    await producer.start()
    try:
        acked = 0
        for i in range(n):
            await asyncio.wait_for(producer.send_and_wait(topic, f"m{i}".encode(), key=f"k{i}".encode()), 60)
            acked += 1
        return acked
    finally:
        await producer.stop()


@pytest.mark.timeout(600)
def test_three_brokers_survive_one_killed(cluster):
    up = cluster("up")
    assert up.returncode == 0, up.stderr
    assert "cluster of 3 ready" in up.stderr
    pids = dict(line.split()[:2] for line in cluster("pids").stdout.splitlines())
    assert sorted(pids) == ["1", "2", "3"]

    namespace = f"tc{uuid.uuid4().hex[:8]}"
    topic = topic_name("articles", namespace)
    asyncio.run(ensure_topics(cluster.bootstrap, namespace, replication_factor=3))
    replicas, min_isr = asyncio.run(_describe(cluster.bootstrap, topic))
    assert replicas and set(replicas) == {3}
    assert min_isr == "2"

    leader = cluster("leader")
    assert leader.returncode == 0 and leader.stdout.strip() in pids, leader.stderr
    victim = leader.stdout.strip()  # the active controller: the harder case
    os.kill(int(pids[victim]), signal.SIGKILL)
    # kill() returns before the process is gone: until it is reaped, status sees it "running".
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pids[victim]}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    status = cluster("status")
    assert status.returncode == 1 and f"node {victim} not running" in status.stdout
    assert asyncio.run(_produce(cluster.bootstrap, topic, 20)) == 20

    again = cluster("up")  # starts only the missing node
    assert again.returncode == 0, again.stderr
    assert f"node {victim}" in again.stderr and again.stderr.count("starting Kafka") == 1
    assert cluster("status").returncode == 0
