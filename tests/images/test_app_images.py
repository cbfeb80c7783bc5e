# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The reference application images work, end to end, as the `app` role runs them.

On a throw-away Docker network: commandcenter/postgres-pgvector:17 (a non-superuser
app role owning the database, the vector extension created by the superuser),
commandcenter/redis:8.0 (an app user denied the same commands as the redis role's),
commandcenter/nats:2.10 (user and password). Then cc-backend migrate, api, worker,
beat and flower, and cc-frontend, all hardened as the role runs them (read-only root,
tmpfs /tmp, no capabilities, uid 10001, no-new-privileges), probed from a toolbox
container. Then release 2.0.0 (its migration) and the broken build. Every container,
the network and the secrets volume are removed at the end.

Needs the Docker engine and the images `make images` builds.
"""
from __future__ import annotations

import hashlib
import io
import json
import secrets
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "commandcenter/{}".format
PREFIX = f"cc-appimg-{uuid.uuid4().hex[:8]}"
HARDENED = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--user", "10001:10001",
            "--security-opt", "no-new-privileges"]
DENIED = yaml.safe_load((ROOT / "roles/redis/defaults/main.yml").read_text())["redis_app_denied_commands"]


def docker(*args: str, check: bool = True, stdin: bytes | None = None,
           timeout: int = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], input=stdin, capture_output=True, timeout=timeout, check=False)
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                      proc.stderr.decode(errors="replace"))
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} ... failed ({out.returncode}):\n"
                             f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return out


def tar_of(files: dict[str, tuple[str, int, int]]) -> bytes:
    """A tar stream of {path: (content, mode, uid)} for `docker cp -`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, (content, mode, uid) in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, uid, time.time()
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wait_for(what: str, probe, timeout: float = 60, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Stack:
    """Containers on one network, named PREFIX-<alias>, reachable by <alias>."""

    def __init__(self):
        self.network = PREFIX
        self.volume = f"{PREFIX}-secrets"
        self.containers: list[str] = []
        self.oneshot_output: list[str] = []
        self.pw = {name: secrets.token_urlsafe(18) for name in
                   ("pg_super", "pg_app", "redis_app", "nats_app", "secret_key")}
        docker("network", "create", "--label", "org.commandcenter.test=app-images", self.network)
        docker("volume", "create", "--label", "org.commandcenter.test=app-images", self.volume)

    def close(self):
        if self.containers:
            docker("rm", "-f", "-v", *self.containers, check=False)
        docker("volume", "rm", "-f", self.volume, check=False)
        docker("network", "rm", self.network, check=False)

    def start(self, alias: str, image: str, *command: str, options: tuple[str, ...] = (),
              env: dict[str, str] | None = None, files: dict | None = None) -> str:
        name = f"{PREFIX}-{alias}"
        env_args = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        self.containers.append(name)
        docker("create", "--name", name, "--network", self.network, "--network-alias", alias,
               "--label", "org.commandcenter.test=app-images", *options, *env_args, image, *command)
        if files:
            docker("cp", "-", f"{name}:/", stdin=tar_of(files))
        docker("start", name)
        return name

    def oneshot(self, image: str, *command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        env_args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        proc = docker("run", "--rm", "--network", self.network, *HARDENED, *env_args,
                      "-v", f"{self.volume}:/run/secrets:ro", image, *command, check=False)
        self.oneshot_output.append(proc.stdout + proc.stderr)
        return proc

    def exec(self, alias: str, *command: str, check: bool = False, env: dict[str, str] | None = None):
        env_args = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        return docker("exec", *env_args, f"{PREFIX}-{alias}", *command, check=check)

    def http(self, method: str, url: str, body: dict | None = None) -> tuple[int, str]:
        """(status, body) of a request made from the toolbox container."""
        args = ["curl", "-sS", "--max-time", "10", "-X", method, "-w", "\n%{http_code}", url]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        proc = self.exec("toolbox", *args)
        text, _, status = proc.stdout.rpartition("\n")
        return int(status or 0), text

    def json(self, method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
        status, text = self.http(method, url, body)
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, {"raw": text}

    # --- backend environment --------------------------------------------------------
    @property
    def database_url(self) -> str:
        return f"postgresql+psycopg://app:{self.pw['pg_app']}@postgres:5432/commandcenter"

    def backend_env(self) -> dict[str, str]:
        """As the app role passes it: URLs with passwords and the key in secret files."""
        return {
            "DATABASE_URL_FILE": "/run/secrets/database_url",
            "SECRET_KEY_FILE": "/run/secrets/secret_key",
            "REDIS_URL": f"redis://app:{self.pw['redis_app']}@redis:6379/0",
            "NATS_URL": f"nats://app:{self.pw['nats_app']}@nats:4222",
        }

    def start_backend(self, alias: str, image: str, command: str) -> str:
        return self.start(alias, image, command, env=self.backend_env(),
                          options=(*HARDENED, "-v", f"{self.volume}:/run/secrets:ro"))

    def logs(self) -> str:
        chunks = list(self.oneshot_output)
        for name in self.containers:
            proc = docker("logs", name, check=False)
            chunks.append(proc.stdout + proc.stderr)
        return "\n".join(chunks)


def postgres_init(stack: Stack) -> str:
    return (f"CREATE ROLE app LOGIN PASSWORD '{stack.pw['pg_app']}';\n"
            "ALTER DATABASE commandcenter OWNER TO app;\n"
            "CREATE EXTENSION IF NOT EXISTS vector;\n")


def redis_files(stack: Stack) -> dict:
    denied = " ".join(f"-{command.lower()}" for command in DENIED)
    app_hash = hashlib.sha256(stack.pw["redis_app"].encode()).hexdigest()
    return {
        "/usr/local/etc/redis/redis.conf": (
            "bind 0.0.0.0\nport 6379\nprotected-mode no\nsave \"\"\nappendonly no\n"
            "aclfile /usr/local/etc/redis/users.acl\n", 0o644, 0),
        "/usr/local/etc/redis/users.acl": (
            f"user default reset off\nuser app reset on #{app_hash} ~* &* +@all {denied}\n", 0o644, 0),
    }


def nats_conf(stack: Stack) -> str:
    return ("port: 4222\nhttp: 8222\n"
            f"authorization {{\n  users = [ {{ user: \"app\", password: \"{stack.pw['nats_app']}\" }} ]\n}}\n")


@pytest.fixture(scope="module")
def stack():
    if not shutil.which("docker") or subprocess.run(["docker", "version"], capture_output=True, check=False).returncode:
        pytest.skip("no Docker engine")
    for ref in ("cc-backend:1.0.0", "cc-backend:2.0.0", "cc-backend:broken", "cc-frontend:1.0.0",
                "cc-frontend:2.0.0", "toolbox:trixie", "postgres-pgvector:17", "redis:8.0", "nats:2.10"):
        docker("image", "inspect", IMAGE(ref))  # fails with a clear message: run `make images`
    started = time.monotonic()
    s = Stack()
    try:
        # Secret files as the role mounts them: owned by the app's uid, mode 0600.
        docker("run", "--rm", "-i", "-v", f"{s.volume}:/s", IMAGE("toolbox:trixie"),
               "tar", "-x", "--same-owner", "-p", "-C", "/s",
               stdin=tar_of({"database_url": (s.database_url, 0o600, 10001),
                             "secret_key": (s.pw["secret_key"], 0o600, 10001)}))
        s.start("postgres", IMAGE("postgres-pgvector:17"),
                env={"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": s.pw["pg_super"],
                     "POSTGRES_DB": "commandcenter"},
                files={"/docker-entrypoint-initdb.d/10-app.sql": (postgres_init(s), 0o644, 0)})
        s.start("redis", IMAGE("redis:8.0"), "redis-server", "/usr/local/etc/redis/redis.conf",
                files=redis_files(s))
        s.start("nats", IMAGE("nats:2.10"), files={"/etc/nats/nats-server.conf": (nats_conf(s), 0o644, 0)})
        s.start("toolbox", IMAGE("toolbox:trixie"), "sleep", "infinity")
        for alias, tag in (("frontend", "1.0.0"), ("frontend2", "2.0.0")):
            s.start(alias, IMAGE(f"cc-frontend:{tag}"), options=tuple(HARDENED))
        # TCP on 127.0.0.1 answers only once the entrypoint's init server is gone.
        wait_for("postgres", lambda: s.exec("postgres", "pg_isready", "-q", "-h", "127.0.0.1").returncode == 0)
        s.migrate_v1 = s.oneshot(IMAGE("cc-backend:1.0.0"), "migrate",
                                 env={"DATABASE_URL": s.database_url})
        for alias in ("api", "worker", "beat", "flower"):
            s.start_backend(alias, IMAGE("cc-backend:1.0.0"), alias)
        wait_for("api", lambda: s.http("GET", "http://api:8000/version")[0] == 200)
        s.setup_seconds = time.monotonic() - started
        yield s
    finally:
        s.close()


# --- client and frontend ----------------------------------------------------------------

def test_toolbox_has_its_tools(stack):
    proc = stack.exec("toolbox", "sh", "-c",
                      "id -u; curl --version | head -1; jq --version; openssl version; "
                      "python3 -c 'import requests; print(\"requests\")'", check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "0" and lines[1].startswith("curl ") and lines[2].startswith("jq-")
    assert lines[3].startswith("OpenSSL ") and lines[4] == "requests"


@pytest.mark.parametrize(("alias", "version"), [("frontend", "1.0.0"), ("frontend2", "2.0.0")])
def test_frontend_serves_its_version_on_a_read_only_root(stack, alias, version):
    status, page = stack.http("GET", f"http://{alias}:8080/")
    assert status == 200 and f"CommandCenter frontend {version}" in page
    assert stack.http("GET", f"http://{alias}:8080/healthz") == (200, "ok\n")
    assert stack.http("GET", f"http://{alias}:8080/version") == (200, f"{version}\n")
    assert stack.http("GET", f"http://{alias}:8080/nothing-here")[0] == 404
    assert stack.exec(alias, "cc-frontend-healthcheck").returncode == 0
    assert stack.exec(alias, "id", "-u").stdout.strip() == "10001"
    assert docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", f"{PREFIX}-{alias}").stdout.strip() == "true"
    access = [json.loads(line) for line in docker("logs", f"{PREFIX}-{alias}").stdout.splitlines()
              if line.startswith("{")]
    assert {"uri": "/version", "status": 200} in [{"uri": e["uri"], "status": e["status"]} for e in access]


# --- backend 1.0.0 ----------------------------------------------------------------------

def test_migrate_ran_and_a_bad_password_fails_clearly(stack):
    assert stack.migrate_v1.returncode == 0, stack.migrate_v1.stdout + stack.migrate_v1.stderr
    assert '"migrations at head"' in stack.migrate_v1.stdout
    wrong = stack.oneshot(IMAGE("cc-backend:1.0.0"), "migrate", env={
        "DATABASE_URL": f"postgresql://app:not-{stack.pw['pg_app']}@postgres:5432/commandcenter"})
    assert wrong.returncode == 1
    assert "migration failed: OperationalError" in wrong.stdout
    assert "password authentication failed" in wrong.stdout


def test_api_refuses_to_start_without_a_proper_secret_key(stack):
    proc = stack.oneshot(IMAGE("cc-backend:1.0.0"), "api", env={**stack.backend_env(),
                         "SECRET_KEY_FILE": "", "SECRET_KEY": "too-short"})
    assert proc.returncode == 2
    assert "SECRET_KEY must be at least 16 characters long" in proc.stdout


def test_health_reports_every_check_ok_and_the_version(stack):
    status, body = wait_for("a healthy api", lambda: (lambda r: r if r[0] == 200 else None)(
        stack.json("GET", "http://api:8000/health")), timeout=20)
    assert body["status"] == "ok" and body["version"] == "1.0.0"
    assert body["checks"] == {"database": "ok", "redis": "ok", "nats": "ok", "migrations": "ok"}
    assert stack.json("GET", "http://api:8000/version") == (200, {"version": "1.0.0"})


def test_health_checks_reuse_one_nats_connection(stack):
    """NATS verifies a bcrypt hash per CONNECT: /health under load must not reconnect."""
    stack.json("GET", "http://api:8000/health")
    before = stack.json("GET", "http://nats:8222/varz")[1]["total_connections"]
    for _ in range(10):
        assert stack.json("GET", "http://api:8000/health")[1]["checks"]["nats"] == "ok"
    assert stack.json("GET", "http://nats:8222/varz")[1]["total_connections"] == before


def test_nats_check_reports_a_wrong_password(stack):
    proc = stack.exec("api", "python3", "-c",
                      "from commandcenter_ref import nats; nats.ping('nats://app:wrong-password@nats:4222')")
    assert proc.returncode == 1 and "Authorization Violation" in proc.stderr


def test_embedding_stored_and_nearest_neighbour_found(stack):
    ids = {}
    for content, vector in (("north", [0.0, 1.0, 0.0]), ("east", [1.0, 0.0, 0.0]), ("up", [0.0, 0.0, 1.0])):
        status, body = stack.json("POST", "http://api:8000/embeddings", {"content": content, "embedding": vector})
        assert status == 201, body
        ids[content] = body["id"]
    status, body = stack.json("POST", "http://api:8000/embeddings/search",
                              {"embedding": [0.9, 0.1, 0.0], "limit": 2})
    assert status == 200, body
    assert [r["id"] for r in body["results"]] == [ids["east"], ids["north"]]
    assert body["results"][0]["content"] == "east"
    assert body["results"][0]["distance"] < body["results"][1]["distance"]
    assert stack.json("POST", "http://api:8000/embeddings", {"content": "x", "embedding": [1.0, 2.0]})[0] == 422


def test_celery_task_round_trips(stack):
    status, body = stack.json("POST", "http://api:8000/tasks/add", {"x": 2, "y": 3})
    assert status == 202, body
    task = body["task_id"]
    _, done = wait_for("the task result", lambda: (lambda r: r if r[1].get("state") == "SUCCESS" else None)(
        stack.json("GET", f"http://api:8000/tasks/{task}")), timeout=30)
    assert done == {"task_id": task, "state": "SUCCESS", "result": 5}


def test_metrics_count_requests_by_route(stack):
    status, text = stack.http("GET", "http://api:8000/metrics")
    assert status == 200
    assert 'cc_http_requests_total{method="GET",path="/version",status="200"}' in text
    assert 'cc_http_requests_total{method="GET",path="/tasks/{task_id}",status="200"}' in text
    assert "cc_http_request_duration_seconds_bucket" in text and "process_resident_memory_bytes" in text


def test_metrics_show_the_database_pool_and_query_time(stack):
    """What the monitoring role's DatabasePoolExhausted and SlowDatabaseQueries alerts read."""
    status, body = stack.json("GET", "http://api:8000/health")
    assert status == 200 and body["checks"]["database"] == "ok", body   # two statements on a pool connection
    status, text = stack.http("GET", "http://api:8000/metrics")
    assert status == 200
    values = {name: float(value) for name, _, value in
              (line.partition(" ") for line in text.splitlines() if line.startswith("cc_db_"))}
    assert values["cc_db_pool_max_connections"] == 10            # pool_size 5 + max_overflow 5
    assert values["cc_db_pool_checked_out_connections"] == 0     # the health check gave its connection back
    assert values["cc_db_query_duration_seconds_count"] >= 2
    assert 'cc_db_query_duration_seconds_bucket{le="1.0"}' in text


def test_beat_heartbeat_reaches_redis_through_the_worker(stack):
    def heartbeat():
        proc = stack.exec("redis", "redis-cli", "--no-auth-warning", "--user", "app", "GET", "cc:beat:last",
                          env={"REDISCLI_AUTH": stack.pw["redis_app"]})
        return proc.stdout.strip()
    assert wait_for("cc:beat:last", heartbeat, timeout=30).startswith("20")
    # ... while the app user really is denied what the redis role denies it
    denied = stack.exec("redis", "redis-cli", "--no-auth-warning", "--user", "app", "FLUSHALL",
                        env={"REDISCLI_AUTH": stack.pw["redis_app"]})
    assert "NOPERM" in denied.stdout + denied.stderr


def test_healthcheck_subcommands(stack):
    for alias in ("api", "worker", "beat", "flower"):
        wait_for(f"{alias} healthcheck", lambda a=alias: stack.exec(a, "cc-backend", "healthcheck", a).returncode == 0,
                 timeout=30, interval=1)
        # without an argument it checks the service its container runs
        assert stack.exec(alias, "cc-backend", "healthcheck").returncode == 0, alias
    assert stack.exec("api", "id", "-u").stdout.strip() == "10001"


def test_flower_sees_the_worker(stack):
    assert stack.http("GET", "http://flower:5555/healthcheck") == (200, "OK")
    worker = "worker@" + stack.exec("worker", "hostname").stdout.strip()
    _, body = wait_for("flower's worker list", lambda: (lambda r: r if any(
        w.get("hostname") == worker for w in r[1].get("data", [])) else None)(
        stack.json("GET", "http://flower:5555/workers?refresh=1&json=1")), timeout=20, interval=1)
    assert stack.http("GET", "http://flower:5555/broker")[0] == 200


def test_logs_are_json_lines(stack):
    for alias in ("api", "worker", "beat"):
        lines = [line for line in docker("logs", f"{PREFIX}-{alias}").stdout.splitlines() if line.strip()]
        assert lines, alias
        assert all(json.loads(line)["level"] for line in lines), alias


# --- releases: 2.0.0 and the broken build -------------------------------------------------

def test_v2_needs_its_migration(stack):
    stack.start_backend("api2", IMAGE("cc-backend:2.0.0"), "api")
    _, body = wait_for("api2", lambda: (lambda r: r if r[0] in (200, 503) else None)(
        stack.json("GET", "http://api2:8000/health")), timeout=30)
    assert body["version"] == "2.0.0" and body["status"] == "fail"
    assert body["checks"]["migrations"].startswith("fail: database at 0001, image head 0002")
    assert stack.exec("api2", "cc-backend", "healthcheck", "api").returncode == 1
    migrate = stack.oneshot(IMAGE("cc-backend:2.0.0"), "migrate", env={"DATABASE_URL": stack.database_url})
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    status, body = stack.json("GET", "http://api2:8000/health")
    assert (status, body["status"], body["version"]) == (200, "ok", "2.0.0"), body
    # 0002 is expand-only: release 1.0.0 keeps serving (and passing its health) on it
    status, body = stack.json("GET", "http://api:8000/health")
    assert (status, body["checks"]["migrations"]) == (200, "ok"), body
    assert stack.json("POST", "http://api:8000/embeddings/search", {"embedding": [1, 0, 0]})[0] == 200
    # and its migrate, as a rollback would run it, leaves the newer schema alone
    back = stack.oneshot(IMAGE("cc-backend:1.0.0"), "migrate", env={"DATABASE_URL": stack.database_url})
    assert back.returncode == 0 and "newer than this image" in back.stdout, back.stdout + back.stderr


def test_broken_build_never_passes_its_health_check(stack):
    stack.start_backend("broken", IMAGE("cc-backend:broken"), "api")
    status, body = wait_for("the broken api", lambda: (lambda r: r if r[0] else None)(
        stack.json("GET", "http://broken:8000/health")), timeout=30)
    assert status == 503 and body["status"] == "fail" and body["version"] == "2.0.1-broken"
    assert body["checks"]["build"] == "fail: deliberately broken build"
    assert {k: v for k, v in body["checks"].items() if k != "build"} == {
        "database": "ok", "redis": "ok", "nats": "ok", "migrations": "ok"}
    assert stack.exec("broken", "cc-backend", "healthcheck", "api").returncode == 1
    assert stack.json("GET", "http://broken:8000/version") == (200, {"version": "2.0.1-broken"})


@pytest.mark.parametrize(("alias", "said"), [("broken", '"Finished server process'),
                                             ("frontend2", "gracefully shutting down")])
def test_stop_is_graceful(stack, alias, said):
    started = time.monotonic()
    docker("stop", "-t", "15", f"{PREFIX}-{alias}")
    assert time.monotonic() - started < 10
    assert docker("inspect", "-f", "{{.State.ExitCode}}", f"{PREFIX}-{alias}").stdout.strip() == "0"
    logs = docker("logs", f"{PREFIX}-{alias}")
    assert said in logs.stdout + logs.stderr


def test_no_secret_in_any_log(stack):
    logs = stack.logs()
    assert "CommandCenter" in logs or "uvicorn" in logs  # the logs were read at all
    for name, password in stack.pw.items():
        assert password not in logs, f"the {name} secret appears in a container log"
