# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The SQLAlchemy engine (psycopg 3) and the Alembic helpers."""
import functools
import os

import sqlalchemy
from alembic.config import Config
from alembic.script import ScriptDirectory

from . import config

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


@functools.lru_cache(maxsize=1)
def engine():
    return sqlalchemy.create_engine(
        config.database_url(),
        pool_size=5,
        max_overflow=5,
        pool_timeout=2,
        pool_pre_ping=True,
        pool_recycle=300,
        connect_args={"connect_timeout": 2, "application_name": "cc-backend",
                      "options": "-c statement_timeout=5000"},
    )


def alembic_config():
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    return cfg


@functools.lru_cache(maxsize=1)
def script_directory():
    return ScriptDirectory.from_config(alembic_config())


def image_head():
    """The newest migration this image carries."""
    return script_directory().get_current_head()


def known_revisions():
    return {rev.revision for rev in script_directory().walk_revisions()}


def current_revision():
    """The database's alembic revision (None: not migrated), on a fresh connection."""
    from alembic.runtime.migration import MigrationContext
    url = config.database_url()
    eng = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool,
                                   connect_args={"connect_timeout": 5})
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        eng.dispose()


def vector_literal(values):
    return "[" + ",".join(repr(float(v)) for v in values) + "]"
