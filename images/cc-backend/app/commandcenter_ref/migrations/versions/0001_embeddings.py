# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""embeddings table with a pgvector column and an HNSW index

Revision ID: 0001
Revises:
"""
from alembic import op

from commandcenter_ref import config

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    # The platform's postgres role creates the extension as superuser; the app user
    # is not one, so only create it when missing (and never fail when it exists).
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    dim = config.embedding_dim()
    op.execute(
        "CREATE TABLE embeddings ("
        " id bigserial PRIMARY KEY,"
        " content text NOT NULL,"
        f" embedding vector({dim}) NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute("CREATE INDEX embeddings_embedding_hnsw ON embeddings USING hnsw (embedding vector_l2_ops)")


def downgrade():
    op.execute("DROP TABLE embeddings")
