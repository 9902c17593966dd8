"""Alembic environment of the ingest ledger: run by services.common.database.migrate.

The caller hands over an open connection (inside its transaction and migration lock), so this
file only points Alembic at it. `target_metadata` lets `alembic revision --autogenerate` compare
the models with a database when a new revision is written.
"""

from alembic import context

from services.ingest.ledger import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
