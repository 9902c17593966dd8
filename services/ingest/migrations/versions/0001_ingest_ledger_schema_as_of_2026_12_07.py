"""The ingest ledger's schema as of 2026-12-07 (written with alembic revision --autogenerate, reviewed).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('published_versions',
    sa.Column('article_id', sa.String(length=200), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('article_id', 'content_hash')
    )


def downgrade() -> None:
    op.drop_table('published_versions')
