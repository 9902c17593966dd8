"""Alembic environment of the ingest ledger: run by services.common.database.migrate."""

from services.common.database import run_migrations
from services.ingest.ledger import Base

run_migrations(Base.metadata)
