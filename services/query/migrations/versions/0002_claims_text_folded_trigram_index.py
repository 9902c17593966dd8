"""Claims get their wording folded for free text, and PostgreSQL indexes it by trigrams.

`GET /claims?q=` on PostgreSQL used a case-insensitive regular expression with accent classes on
`claims.text`, which no index can serve: every search read every claim. The folded copy
(`services.query.folding.fold`, the same folding as the live matcher and SQLite's FTS5 index) lets
the expression be plain letters, which a pg_trgm GIN index narrows. pg_trgm is a trusted extension
(PostgreSQL 13+: a database owner may create it); where it cannot be created the column is still
filled and searched, without the index, and the migration says so in the log.

Revision ID: 0002
Revises: 0001
"""

import logging

import sqlalchemy as sa
from alembic import op

from services.query.folding import fold

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

INDEX = "ix_claims_text_folded_trgm"
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    conn = op.get_bind()
    # A database adopted at 0001 may have been made by create_all with today's models (tests do).
    if "text_folded" not in {c["name"] for c in sa.inspect(conn).get_columns("claims")}:
        with op.batch_alter_table("claims") as batch_op:
            batch_op.add_column(sa.Column("text_folded", sa.Text(), nullable=True))
    claims = sa.table("claims", sa.column("seq", sa.Integer), sa.column("text", sa.Text),
                      sa.column("text_folded", sa.Text))
    rows = conn.execute(sa.select(claims.c.seq, claims.c.text).where(claims.c.text_folded.is_(None))).all()
    if rows:
        conn.execute(sa.update(claims).where(claims.c.seq == sa.bindparam("b_seq"))
                     .values(text_folded=sa.bindparam("b_folded")),
                     [{"b_seq": seq, "b_folded": fold(str(text))} for seq, text in rows])
    if conn.dialect.name == "postgresql":
        _trigram_index(conn)


def _trigram_index(conn) -> None:
    savepoint = conn.begin_nested()  # a refused CREATE EXTENSION must not abort the migration
    try:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        log.warning("pg_trgm could not be created (%s): free text on claims works without an index",
                    str(exc.orig).strip())
        return
    savepoint.commit()
    conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {INDEX} ON claims USING gin (text_folded gin_trgm_ops)"))


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    with op.batch_alter_table("claims") as batch_op:
        batch_op.drop_column("text_folded")
