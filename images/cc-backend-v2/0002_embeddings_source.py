# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""embeddings.source: a nullable column (expand-only: release 1.0.0 keeps working)

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS source text")


def downgrade():
    op.execute("ALTER TABLE embeddings DROP COLUMN IF EXISTS source")
