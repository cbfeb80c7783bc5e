# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""redis: Redis answers its users as the ACL says, keeps its data, and is watched.

Clients run on the platform's nested engine from the deployed Redis image
(`docker run --rm --network data <image> redis-cli -h redis ...`).
Passwords reach them as files (REDISCLI_AUTH read inside the container); the
application password is written to the platform host through stdin. No test
prints a password.
"""
from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest
import yaml
from conftest import (
    COMPOSE_LOG_CONFIG,
    BoundedLoad,
    container_run_id,
    docker_json,
    inventory_hostvars,
    put_root_file,
    sh,
)

PROJECT = "cc-redis"
STACK_DIR = "/opt/commandcenter/redis"
REDIS = f"{PROJECT}-redis-1"
EXPORTER = f"{PROJECT}-redis-exporter-1"
APP_PASSWORD_FILE = "/root/.cc-test-redis-app-password"
MONITOR_PASSWORD_FILE = f"{STACK_DIR}/secrets/redis_monitor_password"
MIB = 1024 * 1024
# Test converges re-apply only this role (docker_host is converged and proven idempotent).
ONLY_REDIS = {"cc_molecule_roles": ["redis"]}


HOSTVARS = inventory_hostvars()


def role_default(name: str):
    """A variable as the inventory sets it, else the role's default."""
    if name in HOSTVARS:
        return HOSTVARS[name]
    defaults = Path(__file__).resolve().parents[3] / "roles" / "redis" / "defaults" / "main.yml"
    return yaml.safe_load(defaults.read_text())[name]
APP_USER = HOSTVARS.get("redis_app_user", "commandcenter")
MONITOR_USER = HOSTVARS.get("redis_monitor_user", "monitor")
BACKUP_USER = HOSTVARS.get("redis_backup_user", "backup")
BACKUP_PASSWORD_FILE = "/root/.cc-test-redis-backup-password"
BACKUP_DIR = "/root/.cc-test-redis-backup"


@pytest.fixture(scope="module")
def image(host) -> str:
    return docker_json(host, "inspect", REDIS)["Config"]["Image"]


@pytest.fixture(scope="module")
def app_password_file(host):
    """The application password as a root-only file on the platform host, written via stdin."""
    put_root_file(APP_PASSWORD_FILE, HOSTVARS["redis_app_password"])
    yield APP_PASSWORD_FILE
    host.run(f"rm -f {APP_PASSWORD_FILE}")


def cli(host, image: str, *args: str, user: str | None = None, password_file: str | None = None,
        network: str = "data") -> str:
    """redis-cli -h redis from a throw-away container; stdout+stderr of the call."""
    auth = ""
    mount = ""
    if password_file:
        mount = f"-v {password_file}:/run/secrets/pw:ro"
        auth = 'REDISCLI_AUTH="$(cat /run/secrets/pw)" '
    user_opt = f"--user {shlex.quote(user)} " if user else ""
    inner = f"{auth}redis-cli -h redis --no-auth-warning {user_opt}" + " ".join(shlex.quote(a) for a in args) + " 2>&1"
    result = host.run(f"docker run --rm --network {network} {mount} --entrypoint sh {image} -c {shlex.quote(inner)}")
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def app(host, image, password_file, *args):
    return cli(host, image, *args, user=APP_USER, password_file=password_file)


def monitor_exec(host, *args: str) -> str:
    """redis-cli inside the redis container as the monitoring user (the admin read path)."""
    inner = ('REDISCLI_AUTH="$(cat /run/secrets/redis_monitor_password)" redis-cli --no-auth-warning '
             f"--user {shlex.quote(MONITOR_USER)} " + " ".join(shlex.quote(a) for a in args))
    return sh(host, f"docker exec {REDIS} sh -c %s", inner)


def wait_healthy(host, container: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = host.run(f"docker inspect -f '{{{{.State.Health.Status}}}}' {container}").stdout.strip()
        if status == "healthy":
            return
        time.sleep(1)
    pytest.fail(f"{container} not healthy after {timeout} s (last: {status})")


def container_id(host, name: str) -> str:
    return sh(host, f"docker inspect -f '{{{{.Id}}}}' {name}")


def metrics(host, image: str) -> dict[str, str]:
    """GET /metrics from redis-exporter over the monitoring network (bash /dev/tcp, no extra tools)."""
    inner = ('exec 3<>/dev/tcp/redis-exporter/9121 && printf "GET /metrics HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n" >&3 '
             "&& cat <&3")
    out = sh(host, f"docker run --rm --network monitoring --entrypoint bash {image} -c %s", inner)
    values = {}
    for line in out.splitlines():
        if line and not line.startswith("#") and " " in line:
            name, value = line.rsplit(" ", 1)
            values[name] = value
    return values


# --- access control -----------------------------------------------------------

def test_unauthenticated_client_is_refused(host, image):
    """The default user is off: an anonymous PING is refused before it runs."""
    assert cli(host, image, "PING") == "NOAUTH Authentication required."
    assert cli(host, image, "GET", "anything") == "NOAUTH Authentication required."


def test_wrong_password_is_refused(host, image):
    out = cli(host, image, "PING", user=APP_USER, password_file="/etc/hostname")
    assert "WRONGPASS invalid username-password pair or user is disabled." in out
    assert "PONG" not in out


def test_app_user_reads_and_writes(host, image, app_password_file):
    assert app(host, image, app_password_file, "SET", "cc:test:greeting", "hello") == "OK"
    assert app(host, image, app_password_file, "GET", "cc:test:greeting") == "hello"
    assert app(host, image, app_password_file, "PUBLISH", "cc:test:channel", "x") == "0"


@pytest.mark.parametrize(("args", "command"), [
    (["CONFIG", "GET", "maxmemory"], "config|get"),
    (["FLUSHALL"], "flushall"),
    (["FLUSHDB"], "flushdb"),
    (["KEYS", "*"], "keys"),
    (["SHUTDOWN", "NOSAVE"], "shutdown"),
    (["ACL", "LIST"], "acl|list"),
])
def test_app_user_is_denied_dangerous_commands(host, image, app_password_file, args, command):
    out = app(host, image, app_password_file, *args)
    assert out == f"NOPERM User {APP_USER} has no permissions to run the '{command}' command"


def test_denied_flush_left_the_data(host, image, app_password_file):
    assert app(host, image, app_password_file, "SET", "cc:test:kept", "1") == "OK"
    app(host, image, app_password_file, "FLUSHALL")
    assert app(host, image, app_password_file, "EXISTS", "cc:test:kept") == "1"


def test_monitor_user_cannot_touch_keys(host, image):
    out = cli(host, image, "GET", "cc:test:greeting", user=MONITOR_USER, password_file=MONITOR_PASSWORD_FILE)
    assert out == f"NOPERM User {MONITOR_USER} has no permissions to run the 'get' command"
    assert cli(host, image, "PING", user=MONITOR_USER, password_file=MONITOR_PASSWORD_FILE) == "PONG"


def test_acl_file_holds_only_hashes(host):
    acl = host.file(f"{STACK_DIR}/config/users.acl")
    assert (acl.uid, acl.mode) == (999, 0o400)
    content = acl.content_string
    assert "user default reset off" in content
    for name in ("redis_app_password", "redis_monitor_password", "redis_backup_password"):
        assert HOSTVARS[name] not in content, f"{name} in plaintext in users.acl"
    # The application's, the monitoring user's, the backup user's and the configuration user's.
    assert content.count(" #") == 4


@pytest.fixture(scope="module")
def backup_password_file(host):
    """The backup password as a root-only file on the platform host, written via stdin."""
    put_root_file(BACKUP_PASSWORD_FILE, HOSTVARS["redis_backup_password"])
    yield BACKUP_PASSWORD_FILE
    host.run(f"rm -f {BACKUP_PASSWORD_FILE}")


def test_backup_user_takes_a_loadable_rdb_snapshot(host, image, app_password_file, backup_password_file):
    """As the backup role does it: `redis-cli --rdb` as the backup user from a one-shot container on
    the data network (password in REDISCLI_AUTH, from a file), no command refused; a fresh
    redis-server (no network) loads the file and has the application's key."""
    assert app(host, image, app_password_file, "SET", "cc:test:backup", "in-the-rdb") == "OK"
    host.run(f"rm -rf {BACKUP_DIR}")
    sh(host, f"mkdir -m 0700 {BACKUP_DIR}")
    try:
        inner = ('REDISCLI_AUTH="$(cat /run/secrets/pw)" redis-cli -h redis --no-auth-warning '
                 f"--user {shlex.quote(BACKUP_USER)} --rdb /backup/dump.rdb 2>&1")
        out = sh(host, f"docker run --rm --network data -v {backup_password_file}:/run/secrets/pw:ro "
                       f"-v {BACKUP_DIR}:/backup --entrypoint sh {image} -c %s", inner)
        assert "Transfer finished with success" in out and "error" not in out.lower(), out
        load = ("redis-server --port 0 --unixsocket /tmp/r.sock --dir /backup --dbfilename dump.rdb --appendonly no "
                "--save '' --daemonize yes --logfile /tmp/r.log && i=0 && "
                "until [ \"$(redis-cli -s /tmp/r.sock ping 2>/dev/null)\" = PONG ]; do "
                "i=$((i + 1)); [ $i -lt 100 ] || { cat /tmp/r.log; exit 1; }; sleep 0.1; done && "
                "redis-cli -s /tmp/r.sock GET cc:test:backup")
        assert sh(host, f"docker run --rm --network none -v {BACKUP_DIR}:/backup:ro --entrypoint sh {image} -c %s",
                  load) == "in-the-rdb"
    finally:
        host.run(f"rm -rf {BACKUP_DIR}")


@pytest.mark.parametrize(("args", "command"), [(["GET", "cc:test:greeting"], "get"), (["SET", "cc:test:x", "1"], "set")])
def test_backup_user_cannot_read_or_write_keys(host, image, backup_password_file, args, command):
    out = cli(host, image, *args, user=BACKUP_USER, password_file=backup_password_file)
    assert out == f"NOPERM User {BACKUP_USER} has no permissions to run the '{command}' command"


# --- memory and persistence ------------------------------------------------------

def test_maxmemory_and_policy_as_configured(host):
    info = dict(line.split(":", 1) for line in monitor_exec(host, "INFO", "memory").splitlines() if ":" in line)
    assert info["maxmemory"] == str(256 * MIB)
    assert info["maxmemory_policy"] == "allkeys-lru"


def test_container_memory_limit_is_above_maxmemory(host):
    """256mb maxmemory -> derived limit 256 * 1.25 + 64 = 384 MiB."""
    assert docker_json(host, "inspect", REDIS)["HostConfig"]["Memory"] == 384 * MIB


def test_persistence_is_aof_everysec_with_snapshots(host):
    assert monitor_exec(host, "CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
    assert monitor_exec(host, "CONFIG", "GET", "appendfsync").split() == ["appendfsync", "everysec"]
    assert monitor_exec(host, "CONFIG", "GET", "save").splitlines()[1] == "3600 1 300 100 60 10000"
    assert host.file(f"{STACK_DIR}/data/appendonlydir").is_directory


def test_key_survives_restart_and_recreate(host, image, app_password_file):
    assert app(host, image, app_password_file, "SET", "cc:test:durable", "survives") == "OK"
    sh(host, f"docker restart {REDIS}")
    wait_healthy(host, REDIS)
    assert app(host, image, app_password_file, "GET", "cc:test:durable") == "survives"

    before = container_id(host, REDIS)
    sh(host, f"cd {STACK_DIR} && docker compose -p {PROJECT} up -d --force-recreate --no-deps redis")
    wait_healthy(host, REDIS)
    assert container_id(host, REDIS) != before, "compose did not recreate the container"
    assert app(host, image, app_password_file, "GET", "cc:test:durable") == "survives"


# --- containers ------------------------------------------------------------------

def test_containers_are_hardened(host):
    for name, user in ((REDIS, "999:999"), (EXPORTER, "59000:59000")):
        c = docker_json(host, "inspect", name)
        assert c["Config"]["User"] == user, name
        hc = c["HostConfig"]
        assert hc["ReadonlyRootfs"] is True, name
        assert hc["CapDrop"] == ["ALL"], name
        assert "no-new-privileges:true" in hc["SecurityOpt"], name
        assert hc["Memory"] > 0 and hc["NanoCpus"] > 0, name
        assert hc["RestartPolicy"]["Name"] == "unless-stopped", name
        assert hc["LogConfig"] == COMPOSE_LOG_CONFIG, name
        assert "com.commandcenter.config-hash" in c["Config"]["Labels"], name
        # Both have a healthcheck: the exporter's probes its /health with wget (see compose.yml.j2).
        assert c["State"]["Health"]["Status"] == "healthy", name
    assert set(docker_json(host, "inspect", REDIS)["NetworkSettings"]["Networks"]) == {"data"}
    assert set(docker_json(host, "inspect", EXPORTER)["NetworkSettings"]["Networks"]) == {"data", "monitoring"}


def test_healthcheck_authenticates_without_exposing_the_password(host):
    c = docker_json(host, "inspect", REDIS)
    test = " ".join(c["Config"]["Healthcheck"]["Test"])
    assert f"--user {MONITOR_USER}" in test and "/run/secrets/redis_monitor_password" in test
    assert c["State"]["Health"]["Status"] == "healthy"
    assert c["State"]["Health"]["Log"][-1]["ExitCode"] == 0


def test_nothing_listens_on_the_host(host):
    assert docker_json(host, "inspect", REDIS)["HostConfig"]["PortBindings"] in ({}, None)
    assert docker_json(host, "inspect", EXPORTER)["HostConfig"]["PortBindings"] in ({}, None)
    listening = sh(host, "ss -Htln")
    assert ":6379 " not in listening and ":9121 " not in listening, listening


def test_exporter_reports_redis_up(host, image):
    values = metrics(host, image)
    assert values.get("redis_up") == "1", {k: v for k, v in values.items() if "error" in k}
    assert float(values["redis_memory_max_bytes"]) == 256 * MIB
    assert values.get('redis_exporter_last_scrape_error{err=""}') == "0"
    env = docker_json(host, "inspect", EXPORTER)["Config"]["Env"]
    assert "REDIS_PASSWORD_FILE=/run/secrets/redis_exporter_password.json" in env
    assert not [e for e in env if e.startswith("REDIS_PASSWORD=")]


def test_exporter_reports_the_celery_queue_length_and_no_more(host, image, app_password_file):
    """redis_exporter_check_keys: the monitoring user may size the queue key (TYPE, LLEN), not read it."""
    app(host, image, app_password_file, "DEL", "celery")
    assert app(host, image, app_password_file, "RPUSH", "celery", "m1", "m2", "m3") == "3"
    try:
        values = metrics(host, image)
        assert values.get('redis_key_size{db="db0",key="celery"}') == "3", {
            k: v for k, v in values.items() if "key" in k or "error" in k}
        assert values.get('redis_exporter_last_scrape_error{err=""}') == "0"
        out = cli(host, image, "LRANGE", "celery", "0", "-1", user=MONITOR_USER, password_file=MONITOR_PASSWORD_FILE)
        assert out == f"NOPERM User {MONITOR_USER} has no permissions to run the 'lrange' command"
        assert cli(host, image, "LLEN", "celery", user=MONITOR_USER, password_file=MONITOR_PASSWORD_FILE) == "3"
        out = cli(host, image, "LLEN", "cc:test:greeting", user=MONITOR_USER, password_file=MONITOR_PASSWORD_FILE)
        assert out == "NOPERM No permissions to access a key", out
    finally:
        app(host, image, app_password_file, "DEL", "celery")


# --- changes ---------------------------------------------------------------------

def test_bad_directive_is_refused_and_redis_untouched(host, converge):
    """redis-server checks redis.conf before it lands: a bad value fails the play at render time."""
    conf_before = host.file(f"{STACK_DIR}/config/redis.conf").content_string
    redis_before = container_id(host, REDIS)
    run = converge(extra_vars={**ONLY_REDIS, "redis_config_extra": {"maxmemory-eviction-tenacity": "plenty"}})
    assert run.returncode != 0, "a redis.conf that redis-server refuses must fail the play"
    output = " ".join(run.output.split())
    assert "FATAL CONFIG FILE ERROR" in output and "'maxmemory-eviction-tenacity plenty'" in output, output[-4000:]
    assert host.file(f"{STACK_DIR}/config/redis.conf").content_string == conf_before
    assert container_id(host, REDIS) == redis_before


def test_live_settable_change_under_load_keeps_the_containers(host, image, app_password_file, converge):
    """maxmemory (its container limit held), policy, loglevel, save and an ACL rule: taken live.

    A client loop (SET and GET as the application user, 20 a second) runs through the
    converge: not one request fails, and neither container is recreated or restarted
    (same Id and StartedAt); the play names what it applied live.
    """
    before = container_run_id(host, REDIS), container_run_id(host, EXPORTER)
    live = {**ONLY_REDIS, "redis_maxmemory": "300mb", "redis_mem_limit": "384m",
            "redis_maxmemory_policy": "volatile-lru", "redis_loglevel": "warning", "redis_save": ["900 1"],
            "redis_app_denied_commands": [*role_default("redis_app_denied_commands"), "DBSIZE"]}
    probe = ('REDISCLI_AUTH="$(cat /run/secrets/pw)" redis-cli -h redis --no-auth-warning '
             f"--user {shlex.quote(APP_USER)} SET cc:test:load x | grep -qx OK "
             f'&& REDISCLI_AUTH="$(cat /run/secrets/pw)" redis-cli -h redis --no-auth-warning '
             f"--user {shlex.quote(APP_USER)} GET cc:test:load | grep -qx x")
    load = BoundedLoad(host, image, "data", probe, mounts=(f"{app_password_file}:/run/secrets/pw:ro",))
    try:
        run = converge(extra_vars=live)
    finally:
        ok, failed, log = load.stop()
    print(f"live change under load: {ok} requests ok, {failed} failed")
    assert run.returncode == 0, run.output[-4000:]
    output = " ".join(run.output.split())
    assert "applied live, no restart: redis (maxmemory, maxmemory-policy, loglevel, save, users.acl)" in output, \
        output[-4000:]
    assert "a restart is needed" not in output
    assert failed == 0 and ok > 100, log[-2000:]
    assert (container_run_id(host, REDIS), container_run_id(host, EXPORTER)) == before, "a container was restarted"
    assert monitor_exec(host, "CONFIG", "GET", "maxmemory-policy").split() == ["maxmemory-policy", "volatile-lru"]
    assert "maxmemory:314572800" in monitor_exec(host, "INFO", "memory")
    assert "NOPERM" in app(host, image, app_password_file, "DBSIZE")
    again = converge(extra_vars=live)
    assert again.returncode == 0 and again.changed == 0, again.output[-4000:]

    back = converge(extra_vars=ONLY_REDIS)
    assert back.returncode == 0, back.output[-4000:]
    assert "maxmemory:268435456" in monitor_exec(host, "INFO", "memory")
    assert monitor_exec(host, "CONFIG", "GET", "maxmemory-policy").split()[1] == role_default(
        "redis_maxmemory_policy")
    assert (container_run_id(host, REDIS), container_run_id(host, EXPORTER)) == before


def test_restart_only_change_is_reported_and_recreates_redis_only(host, image, app_password_file, converge):
    """maxmemory with the derived container limit: the limit moves, so Redis is recreated, and the play says why."""
    redis_before, exporter_before = container_id(host, REDIS), container_id(host, EXPORTER)
    try:
        run = converge(extra_vars={**ONLY_REDIS, "redis_maxmemory": "300mb"})
        assert run.returncode == 0, run.output[-4000:]
        output = " ".join(run.output.split())
        assert "cc-redis: a restart is needed for redis: mem_limit 384m -> 439m" in output, output[-4000:]
        assert container_id(host, REDIS) != redis_before, "redis was not recreated for its new container limit"
        assert container_id(host, EXPORTER) == exporter_before, "the exporter was recreated for redis's settings"
        assert "maxmemory:314572800" in monitor_exec(host, "INFO", "memory")
        assert app(host, image, app_password_file, "GET", "cc:test:durable") == "survives"
    finally:
        back = converge(extra_vars=ONLY_REDIS)
    assert back.returncode == 0, back.output[-4000:]
    assert "a restart is needed for redis: mem_limit 439m -> 384m" in " ".join(back.output.split())
    assert "maxmemory:268435456" in monitor_exec(host, "INFO", "memory")
    assert container_id(host, EXPORTER) == exporter_before
