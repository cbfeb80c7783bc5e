# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The SQLAlchemy engine (psycopg 3) and the Alembic helpers."""
import functools
import os
import time

import sqlalchemy
from alembic.config import Config
from alembic.script import ScriptDirectory
from prometheus_client import Gauge, Histogram

from . import config

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")
POOL_SIZE = 5
MAX_OVERFLOW = 5

# The pool as the application sees it (postgres only sees connections, not the pool's
# limit or the requests waiting for one): the DatabasePoolExhausted and
# SlowDatabaseQueries alerts read these from the api's /metrics.
POOL_MAX = Gauge("cc_db_pool_max_connections", "Connections the SQLAlchemy pool may open (size + overflow)")
POOL_MAX.set(POOL_SIZE + MAX_OVERFLOW)
POOL_CHECKED_OUT = Gauge("cc_db_pool_checked_out_connections", "Pool connections in use by a request")
QUERY_DURATION = Histogram("cc_db_query_duration_seconds", "Duration of the SQL statements the application runs")


def _start_timer(conn, _cursor, _statement, _parameters, _context, _executemany):
    conn.info["cc_query_start"] = time.perf_counter()


def _observe(conn, *_args):
    start = conn.info.pop("cc_query_start", None)
    if start is not None:
        QUERY_DURATION.observe(time.perf_counter() - start)


def _observe_failed(context):
    # A statement cancelled by statement_timeout is the slowest of all: count it too.
    if context.connection is not None:
        _observe(context.connection)


@functools.lru_cache(maxsize=1)
def engine():
    eng = sqlalchemy.create_engine(
        config.database_url(),
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=2,
        pool_pre_ping=True,
        pool_recycle=300,
        connect_args={"connect_timeout": 2, "application_name": "cc-backend",
                      "options": "-c statement_timeout=5000"},
    )
    POOL_CHECKED_OUT.set_function(eng.pool.checkedout)
    sqlalchemy.event.listen(eng, "before_cursor_execute", _start_timer)
    sqlalchemy.event.listen(eng, "after_cursor_execute", _observe)
    sqlalchemy.event.listen(eng, "handle_error", _observe_failed)
    return eng


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
