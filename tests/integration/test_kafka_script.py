"""Cheap checks of deploy/kafka/kafka.sh: exit codes of status/down/up that start no broker.

Every test uses its own KAFKA_HOME_DIR and free ports, so a broker already running on
127.0.0.1:9092 is neither seen nor disturbed. Starting a real broker is left to the fixtures of
the integration tests that need one.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "kafka" / "kafka.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(home: Path, *args: str, port: int | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KAFKA_HOME_DIR": str(home),
        "KAFKA_HOST": "127.0.0.1",
        "KAFKA_PORT": str(port or _free_port()),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "PYTHON": "/nonexistent/python",
    }
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=timeout)


class _Server:
    """TCP server on a free port; `kafka=True` answers one Metadata request like a one-broker cluster."""

    def __init__(self, kafka: bool) -> None:
        self.kafka = kafka
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(3)
                try:
                    if not self.kafka:
                        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                        continue
                    (size,) = struct.unpack(">i", conn.recv(4))
                    request = b""
                    while len(request) < size:
                        request += conn.recv(size - len(request))
                    api_key, _version, correlation_id = struct.unpack(">hhi", request[:8])
                    assert api_key == 3  # Metadata
                    # throttle_time_ms=0, one broker: node 1 at 127.0.0.1:port, no rack, no cluster id...
                    body = struct.pack(">iii", correlation_id, 0, 1) + struct.pack(">ih", 1, 9) + b"127.0.0.1"
                    body += struct.pack(">ihh", self.port, -1, -1) + struct.pack(">ii", 1, 0)
                    conn.sendall(struct.pack(">i", len(body)) + body)
                except (OSError, AssertionError, struct.error):
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake_kafka() -> Iterator[_Server]:
    server = _Server(kafka=True)
    yield server
    server.close()


@pytest.fixture
def not_kafka() -> Iterator[_Server]:
    server = _Server(kafka=False)
    yield server
    server.close()


def test_status_not_running(tmp_path: Path) -> None:
    result = _run(tmp_path, "status")
    assert result.returncode == 3, result
    assert "not running" in result.stdout


def test_status_and_down_with_stale_pid_file(tmp_path: Path) -> None:
    (tmp_path / "kafka.pid").write_text("999999999\n")
    result = _run(tmp_path, "status")
    assert result.returncode == 1, result
    assert "stale" in result.stdout
    result = _run(tmp_path, "down")
    assert result.returncode == 0, result
    assert not (tmp_path / "kafka.pid").exists()


def test_down_when_not_running_is_a_no_op(tmp_path: Path) -> None:
    result = _run(tmp_path, "down")
    assert result.returncode == 0, result
    assert "not running" in result.stderr


def test_down_never_kills_a_process_that_is_not_our_broker(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "kafka.pid").write_text(f"{sleeper.pid}\n")
        result = _run(tmp_path, "down")
        assert result.returncode == 0, result
        assert sleeper.poll() is None, "kafka.sh down killed a process that is not its broker"
        assert not (tmp_path / "kafka.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_foreign_kafka_broker_is_reported_and_used(tmp_path: Path, fake_kafka: _Server) -> None:
    result = _run(tmp_path, "status", port=fake_kafka.port)
    assert result.returncode == 0, result
    assert "not started by this script" in result.stdout
    result = _run(tmp_path, "up", port=fake_kafka.port)
    assert result.returncode == 0, result
    assert "not started by this script" in result.stderr
    assert not (tmp_path / "kafka.pid").exists()


def test_up_refuses_a_port_taken_by_something_else(tmp_path: Path, not_kafka: _Server) -> None:
    result = _run(tmp_path, "up", port=not_kafka.port)
    assert result.returncode == 1, result
    assert "does not answer Kafka" in result.stderr


def test_usage_and_logs_without_log(tmp_path: Path) -> None:
    assert _run(tmp_path, "bogus").returncode == 2
    result = _run(tmp_path, "logs")
    assert result.returncode == 1 and "no log yet" in result.stderr
