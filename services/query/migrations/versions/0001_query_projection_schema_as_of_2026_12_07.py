"""The query projection's schema as of 2026-12-07 (written with alembic revision --autogenerate, reviewed).

A database the services made before the migrations existed has exactly this schema and is
adopted at this revision (services.common.database.migrate).

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
    op.create_table('alerts',
    sa.Column('alert_id', sa.String(length=40), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('alert_id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_fired_at'), ['fired_at'], unique=False)

    op.create_table('article_revisions',
    sa.Column('article_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_version', sa.Integer(), nullable=False),
    sa.Column('revised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('article_id', 'version')
    )
    op.create_table('articles',
    sa.Column('article_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('outlet', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('credit', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('article_id', 'version')
    )
    op.create_table('claims',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('claim_id', sa.String(length=40), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.Column('copy_of', sa.String(length=40), nullable=True),
    sa.Column('update_of', sa.String(length=40), nullable=True),
    sa.Column('claim_type', sa.String(length=20), nullable=True),
    sa.Column('article_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.Column('outlet', sa.String(length=200), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('claim_score', sa.Float(), nullable=False),
    sa.Column('checkworthy_score', sa.Float(), nullable=False),
    sa.Column('is_checkworthy', sa.Boolean(), nullable=False),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('enrichment', sa.JSON(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('claim_id')
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claims_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_claim_type'), ['claim_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_outlet'), ['outlet'], unique=False)
        batch_op.create_index('ix_claims_received', ['received_at'], unique=False)
        batch_op.create_index('ix_claims_seen', [sa.literal_column('seen_at DESC')], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_seen_at'), ['seen_at'], unique=False)

    op.create_table('cluster_redirects',
    sa.Column('merged_id', sa.String(length=40), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('merged_id')
    )
    with op.batch_alter_table('cluster_redirects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_redirects_cluster_id'), ['cluster_id'], unique=False)

    op.create_table('clusters',
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.Column('first_outlet', sa.String(length=200), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_claim_id', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('outlets', sa.JSON(), nullable=False),
    sa.Column('appearance_count', sa.Integer(), nullable=False),
    sa.Column('independent_outlets', sa.Integer(), nullable=False),
    sa.Column('update_of', sa.String(length=40), nullable=True),
    sa.Column('appearances', sa.JSON(), nullable=False),
    sa.Column('merged_from', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('cluster_id')
    )
    op.create_table('consumed_offsets',
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition')
    )
    op.create_table('feed_events',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.Column('claim_id', sa.String(length=40), nullable=True),
    sa.Column('facets', sa.JSON(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('feed_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_events_cluster_id'), ['cluster_id'], unique=False)

    op.create_table('feedback',
    sa.Column('feedback_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('claim_id', sa.String(length=40), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=False),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('check_worthy', sa.Boolean(), nullable=True),
    sa.Column('correct_member', sa.Boolean(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('feedback_id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_recorded_at'), ['recorded_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('thing', sa.String(length=40), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_table('sentences',
    sa.Column('sentence_id', sa.String(length=40), nullable=False),
    sa.Column('article_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.Column('claim_score', sa.Float(), nullable=False),
    sa.Column('is_claim', sa.Boolean(), nullable=False),
    sa.Column('model_version', sa.String(length=100), nullable=False),
    sa.Column('entities', sa.JSON(), nullable=False),
    sa.Column('cluster_id', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('sentence_id')
    )
    with op.batch_alter_table('sentences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sentences_article_id'), ['article_id'], unique=False)

    op.create_table('watchlists',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('webhook_url', sa.Text(), nullable=True),
    sa.Column('webhook_secret', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_table('claim_entities',
    sa.Column('claim_id', sa.String(length=40), nullable=False),
    sa.Column('canonical', sa.String(length=200), nullable=False),
    sa.Column('canonical_lower', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.claim_id'], ),
    sa.PrimaryKeyConstraint('claim_id', 'canonical')
    )
    with op.batch_alter_table('claim_entities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_entities_canonical_lower'), ['canonical_lower'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('claim_entities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_entities_canonical_lower'))

    op.drop_table('claim_entities')
    op.drop_table('watchlists')
    with op.batch_alter_table('sentences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sentences_article_id'))

    op.drop_table('sentences')
    op.drop_table('outbox')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_recorded_at'))
        batch_op.drop_index(batch_op.f('ix_feedback_cluster_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_claim_id'))

    op.drop_table('feedback')
    with op.batch_alter_table('feed_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_events_cluster_id'))

    op.drop_table('feed_events')
    op.drop_table('consumed_offsets')
    op.drop_table('clusters')
    with op.batch_alter_table('cluster_redirects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_redirects_cluster_id'))

    op.drop_table('cluster_redirects')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claims_seen_at'))
        batch_op.drop_index('ix_claims_seen')
        batch_op.drop_index('ix_claims_received')
        batch_op.drop_index(batch_op.f('ix_claims_outlet'))
        batch_op.drop_index(batch_op.f('ix_claims_cluster_id'))
        batch_op.drop_index(batch_op.f('ix_claims_claim_type'))
        batch_op.drop_index(batch_op.f('ix_claims_article_id'))

    op.drop_table('claims')
    op.drop_table('articles')
    op.drop_table('article_revisions')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_fired_at'))
        batch_op.drop_index(batch_op.f('ix_alerts_cluster_id'))

    op.drop_table('alerts')
