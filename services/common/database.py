"""Database engines and schema migrations, for SQLite and PostgreSQL alike.

`create_engine_for(url)` is the one place that knows the dialects: SQLite gets its folder made and
its pragmas (WAL, busy timeout); a plain `postgresql://` URL is read as psycopg 3 (the `postgres`
extra), so operators can paste the URL their database gives them.

`migrate(engine, package)` applies the Alembic revisions kept in `<package>/migrations` (one
history per service database: `services.query`, `services.ingest`). The services call it at
start-up; `claimstream db upgrade` does the same by hand. Each `migrations/env.py` is one call to
`run_migrations(metadata)`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url


class SchemaError(RuntimeError):
    """The database holds a schema these migrations cannot bring up to date."""


def normalise_url(url: str) -> str:
    """`postgres://` and `postgresql://` mean psycopg 3; every other URL is kept as given."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_engine_for(url: str, **kwargs) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        # preserve_rowcount: the projection tells a new row from a replay by the rowcount of
        # "insert ... on conflict do nothing", which PostgreSQL's driver reports only when asked to keep it.
        engine = create_engine(url, pool_pre_ping=True, execution_options={"preserve_rowcount": True}, **kwargs)
    except ModuleNotFoundError as exc:  # the driver is an optional extra
        raise SystemExit(f"claimstream: no driver for {make_url(url).drivername} ({exc.name} is not installed); "
                         "install the extra: pip install 'claimstream[postgres]'") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers (the API) go on while the writer (projection, ledger) commits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _config(package: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(package) / "migrations"))
    return config


def head(package: str) -> str:
    current = ScriptDirectory.from_config(_config(package)).get_current_head()
    assert current is not None  # every service ships at least one revision
    return current


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# pg_advisory_xact_lock key of schema migrations ("claimstr" in ASCII): one migrating process at a time.
MIGRATION_LOCK = 0x636C61696D737472


def migrate(engine: Engine, package: str, metadata: MetaData | None = None,
            legacy_tables: frozenset[str] = frozenset(), revision: str = "head") -> str | None:
    """Upgrade the database to `revision` in one transaction; returns the revision it is at afterwards.

    A database made before the migrations existed (one of `legacy_tables` and no `alembic_version`)
    is stamped at the first revision, the schema the last version without migrations kept every
    database at, and upgraded from there. On PostgreSQL, replicas starting together wait on an
    advisory lock, so one migrates and the others find the work done. With `metadata`, every table
    and column the code maps must
    then exist: a database the migrations cannot bring up to date is refused with the reason.
    """
    config = _config(package)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and tables & legacy_tables:
            base = ScriptDirectory.from_config(config).get_base()
            assert base is not None  # every service ships at least one revision
            command.stamp(config, base)
        command.upgrade(config, revision)
        if metadata is not None and revision == "head":
            missing = missing_columns(conn, metadata)
            if missing:
                raise SchemaError(f"the database lacks {', '.join(missing)} after migrating: it was made by a "
                                  "version older than the migrations and never opened by the last one without "
                                  "them, so it cannot be upgraded in place; rebuild it (the query projection: "
                                  "delete it, the service replays the topics)")
    return current(engine)


def run_migrations(metadata: MetaData) -> None:
    """The whole of a service's `migrations/env.py`: Alembic run on the connection `migrate` opened.

    The caller hands over its connection (inside its transaction and migration lock) through the
    config's attributes. `metadata` lets `alembic revision --autogenerate` compare the models with a
    database when a new revision is written; batch mode lets SQLite alter tables.
    """
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def missing_columns(conn, metadata: MetaData) -> list[str]:
    """`table` or `table.column` names the models map and the database does not have."""
    inspector = inspect(conn)
    have = set(inspector.get_table_names())
    missing = []
    for table in metadata.sorted_tables:
        if table.name not in have:
            missing.append(table.name)
            continue
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in columns]
    return missing
