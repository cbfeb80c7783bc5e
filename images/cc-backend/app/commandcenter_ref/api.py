# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The HTTP API (FastAPI): health, version, metrics, embeddings, tasks."""
import concurrent.futures
import logging
import time

import redis
import sqlalchemy
from celery.result import AsyncResult
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field

from . import config, db, nats
from .celery_app import add, app as celery_app

CHECK_TIMEOUT = 2.0
VERSION = config.version()
EMBEDDING_DIM = config.embedding_dim()

log = logging.getLogger("commandcenter_ref.api")

REQUESTS = Counter("cc_http_requests_total", "HTTP requests by method, route and status",
                   ["method", "path", "status"])
LATENCY = Histogram("cc_http_request_duration_seconds", "HTTP request duration by route",
                    ["method", "path"])

app = FastAPI(title="CommandCenter reference backend", version=VERSION,
              docs_url=None, redoc_url=None, openapi_url=None)
_checks_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")
_redis = redis.Redis.from_url(config.redis_url(), socket_timeout=CHECK_TIMEOUT,
                              socket_connect_timeout=CHECK_TIMEOUT)
_nats = nats.Connection(config.nats_url(), timeout=CHECK_TIMEOUT)


class MetricsMiddleware:
    """Count and time every request by its route template (not the raw path)."""

    def __init__(self, app):
        self.inner = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        try:
            await self.inner(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], path, str(status["code"])).inc()
            LATENCY.labels(scope["method"], path).observe(time.perf_counter() - start)


app.add_middleware(MetricsMiddleware)


# --- health -------------------------------------------------------------------------

def _reason(exc, url=None):
    where = f" ({config.endpoint(url)})" if url else ""
    return config.redact(f"fail: {type(exc).__name__}{where}")


def _check_database():
    with db.engine().connect() as conn:
        conn.execute(sqlalchemy.text("SELECT 1"))
        try:
            current = conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()
        except sqlalchemy.exc.ProgrammingError:
            current = None
    return current


def _migrations_state(current):
    head = db.image_head()
    if current == head:
        return "ok"
    if current is None:
        return f"fail: database not migrated (image head {head})"
    if current in db.known_revisions():
        return f"fail: database at {current}, image head {head}; run migrate"
    # A revision this image does not know: a newer release migrated the schema
    # (expand-only migrations), which this release keeps working with.
    return "ok"


def _check_redis():
    _redis.ping()


def _check_nats():
    _nats.ping()


def run_checks():
    futures = {
        "database": _checks_pool.submit(_check_database),
        "redis": _checks_pool.submit(_check_redis),
        "nats": _checks_pool.submit(_check_nats),
    }
    urls = {"database": config.database_url(), "redis": config.redis_url(), "nats": config.nats_url()}
    checks, revision = {}, None
    for name, future in futures.items():
        try:
            result = future.result(timeout=CHECK_TIMEOUT + 0.5)
            checks[name] = "ok"
            if name == "database":
                revision = result
        except concurrent.futures.TimeoutError:
            checks[name] = f"fail: timeout ({config.endpoint(urls[name])})"
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure
            checks[name] = _reason(exc, urls[name])
    if checks["database"] == "ok":
        checks["migrations"] = _migrations_state(revision)
    else:
        checks["migrations"] = "fail: database unavailable"
    if config.broken_health():
        checks["build"] = "fail: deliberately broken build"
    return checks, revision


@app.get("/health")
def health():
    checks, revision = run_checks()
    healthy = all(value == "ok" for value in checks.values())
    body = {
        "status": "ok" if healthy else "fail",
        "version": VERSION,
        "checks": checks,
        "schema": {"database": revision, "image": db.image_head()},
    }
    if not healthy:
        log.warning("health check failed", extra={"checks": ", ".join(
            f"{k}={v}" for k, v in checks.items() if v != "ok")})
    return JSONResponse(body, status_code=200 if healthy else 503)


@app.get("/version")
def version():
    return {"version": VERSION}


@app.get("/metrics")
def metrics():
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


# --- embeddings ---------------------------------------------------------------------

class EmbeddingIn(BaseModel):
    content: str = Field(min_length=1, max_length=10000)
    embedding: list[float]


class SearchIn(BaseModel):
    embedding: list[float]
    limit: int = Field(default=3, ge=1, le=100)


def _check_dim(values):
    if len(values) != EMBEDDING_DIM:
        raise HTTPException(422, f"embedding must have {EMBEDDING_DIM} dimensions, got {len(values)}")


@app.post("/embeddings", status_code=201)
def store_embedding(item: EmbeddingIn):
    _check_dim(item.embedding)
    with db.engine().begin() as conn:
        new_id = conn.execute(
            sqlalchemy.text("INSERT INTO embeddings (content, embedding) "
                            "VALUES (:content, CAST(:embedding AS vector)) RETURNING id"),
            {"content": item.content, "embedding": db.vector_literal(item.embedding)},
        ).scalar_one()
    return {"id": new_id}


@app.post("/embeddings/search")
def search_embeddings(query: SearchIn):
    _check_dim(query.embedding)
    with db.engine().connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("SELECT id, content, embedding <-> CAST(:q AS vector) AS distance "
                            "FROM embeddings ORDER BY embedding <-> CAST(:q AS vector) LIMIT :limit"),
            {"q": db.vector_literal(query.embedding), "limit": query.limit},
        ).all()
    return {"results": [{"id": r.id, "content": r.content, "distance": float(r.distance)} for r in rows]}


# --- tasks --------------------------------------------------------------------------

class AddIn(BaseModel):
    x: float
    y: float


def _number(value):
    return int(value) if float(value).is_integer() else value


@app.post("/tasks/add", status_code=202)
def enqueue_add(item: AddIn):
    result = add.apply_async(
        (_number(item.x), _number(item.y)),
        retry=True, retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
    )
    return {"task_id": result.id}


@app.get("/tasks/{task_id}")
def task_state(task_id: str):
    result = AsyncResult(task_id, app=celery_app)
    body = {"task_id": task_id, "state": result.state, "result": None}
    if result.successful():
        body["result"] = result.result
    elif result.failed():
        body["result"] = type(result.result).__name__
    return body
