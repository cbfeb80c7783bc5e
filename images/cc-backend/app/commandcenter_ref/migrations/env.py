# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Alembic environment: DATABASE_URL (or DATABASE_URL_FILE), no alembic.ini."""
from alembic import context
from sqlalchemy import create_engine, pool

from commandcenter_ref import config

engine = create_engine(config.database_url(), poolclass=pool.NullPool,
                       connect_args={"connect_timeout": 5, "application_name": "cc-backend-migrate"})
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
