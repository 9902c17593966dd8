"""The databases the query and ingest tests run on: SQLite files and a real PostgreSQL server.

A test session starts one PostgreSQL server with the project's own script (scripts/postgres.sh,
data under `.run/pg-test-<pid>`, a free port) the first time a test asks for it, and stops it at
the end; each test (or module fixture) gets a database of its own from `fresh_db_url`.
Tests take `db_backend` (parametrised: sqlite, postgres) to run once per database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgres")


class PostgresServer:
    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.env = {**os.environ, "PG_PORT": str(port), "PG_DATA_DIR": str(data_dir), "PG_DATABASES": "claimstream"}

    def _script(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "scripts/postgres.sh", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=900)

    def start(self) -> PostgresServer:
        done = self._script("up")
        assert done.returncode == 0, f"scripts/postgres.sh up failed:\n{done.stdout}\n{done.stderr}"
        return self

    def stop(self) -> None:
        self._script("down")
        shutil.rmtree(self.data_dir, ignore_errors=True)
        Path(f"{self.data_dir}.log").unlink(missing_ok=True)

    def url(self, database: str) -> str:
        return self._script("url", database).stdout.strip()

    def create_database(self, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = create_engine(self.url("claimstream"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    from tests.conftest import free_port

    server = PostgresServer(free_port(), ROOT / ".run" / f"pg-test-{os.getpid()}").start()
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def db_backend(request) -> str:
    return request.param


def make_db_url(request, backend: str, directory: Path, name: str) -> str:
    """A new, empty database of `backend`: a file in `directory`, or a database of the session's server."""
    if backend == "sqlite":
        return f"sqlite:///{directory / f'{name}-{uuid.uuid4().hex[:6]}.db'}"
    return request.getfixturevalue("postgres_server").create_database(name.replace("-", "_")[:40])


@pytest.fixture
def fresh_db_url(request, db_backend, tmp_path):
    """`fresh_db_url(name)`: a new database on this test's backend."""
    return lambda name="db": make_db_url(request, db_backend, tmp_path, name)
