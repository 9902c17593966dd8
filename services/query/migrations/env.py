"""Alembic environment of the query projection: run by services.common.database.migrate."""

from services.common.database import run_migrations
from services.query.db import Base

run_migrations(Base.metadata)
