# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""redis: the role's templates, rendered with the defaults and with inventories/local,
checked by the programs that read them.

- users.acl and redis.conf: redis-server from the offline image, with the very check
  the role's `validate:` runs (files/redis-check.sh, mounted as the role mounts it);
- the exporter's password file: loaded by redis_exporter from the offline image;
- compose.yml: `docker compose config -q` when this machine's docker has the compose
  plugin (skipped otherwise, saying so), and its security settings read from the YAML;
- the offline images' contract (entrypoint, uid, /data, redis-cli);
- the backup user (redis_backup_password set): `redis-cli --rdb` as that user gets a
  loadable RDB with nothing refused, and the user can touch no key; and what Redis 8 does
  with a dump.rdb when the AOF is on (what a restore must take into account).

Needs Docker and the images `make images` builds; skipped with the reason without them.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "redis"
REDIS_IMAGE = "commandcenter/redis:8.0"
EXPORTER_IMAGE = "commandcenter/redis-exporter:1.69"
# Test-only secrets for the "defaults" rendering (the role's defaults leave them empty).
TEST_SECRETS = {"redis_app_password": "r3nd3r-app-Qm7xT2vL9k", "redis_monitor_password": "r3nd3r-mon-Hq4zW8pN1c"}
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml",
                   ROOT / "inventories/local/group_vars/all/redis.yml"]
# The backup user's password for the "backup-user" rendering (the role's default: no backup user).
BACKUP_PASSWORD = "r3nd3r-bak-Wn6yD3fK8s"


pytestmark = needs_images(REDIS_IMAGE, EXPORTER_IMAGE)


CHECK_SCRIPT = ROLE / "files" / "redis-check.sh"


# Every rendering the tests use, made by ONE ansible-playbook run (a play each):
# name -> (with inventories/local?, extra variables).
VARIANTS = {
    "defaults": (False, None),
    "local-inventory": (True, None),
    "bigger-maxmemory": (True, {"redis_maxmemory": "1gb"}),
    "rotated-monitor-password": (True, {"redis_monitor_password": "r0tated-mon-Zp5cV7bX2m"}),
    "published": (True, {"redis_publish_port": True, "redis_host_port": 16379}),
    "no-exporter": (True, {"redis_exporter_enabled": False}),
    "bad-policy": (True, {"redis_maxmemory_policy": "nonsense"}),
    "bad-directive": (True, {"redis_config_extra": {"no-such-directive": "yes"}}),
    "bad-appendfsync": (True, {"redis_appendfsync": "sometimes"}),
    "bad-acl-rule": (True, {"redis_app_denied_commands": ["FLUSHALL", "NOSUCHCOMMAND"]}),
    "backup-user": (False, {"redis_backup_password": BACKUP_PASSWORD}),
}


# What each play hands back: the rendered files (as the template lookup renders
# them, on the controller: no module runs, so ten renderings take seconds).
RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "redis.conf": "{{ lookup('ansible.builtin.template', 'redis.conf.j2') }}",
    "users.acl": "{{ lookup('ansible.builtin.template', 'users.acl.j2') }}",
    "redis_exporter_password.json": "{{ _redis_exporter_password_json }}",
    "derived.json": "{{ {'mem_limit': _redis_mem_limit, 'maxmemory_bytes': _redis_maxmemory_bytes | int,"
                    " 'config_hash': _redis_config_hash, 'exporter_hash': _redis_exporter_config_hash} | to_json }}",
    "checks.json": "{{ {'acl': _redis_check_acl, 'conf': _redis_check_conf} | to_json }}",
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """Render the role's templates for every variant into <tmp>/<variant>/ (one ansible-playbook run).

    Precedence as in a real run: role defaults, then the inventory (when asked), then
    the variant's variables, with the role's vars/main.yml for the internal variables.
    """
    return render_variants(tmp_path_factory.mktemp("redis-render"), "redis", VARIANTS, RENDERED, LOCAL_INVENTORY,
                           TEST_SECRETS)


def redis_check(out: Path, conf: bool = True) -> subprocess.CompletedProcess:
    """The role's check: redis-server on the rendered ACL file (and redis.conf) in a throw-away container."""
    cmd = ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", "--log-driver", "none",
           "-v", f"{CHECK_SCRIPT}:/cc-check/redis-check.sh:ro",
           "-v", f"{out / 'users.acl'}:/usr/local/etc/redis/users.acl:ro"]
    if conf:
        cmd += ["-v", f"{out / 'redis.conf'}:/check/redis.conf:ro", REDIS_IMAGE, "/cc-check/redis-check.sh",
                "/check/redis.conf"]
    else:
        cmd += [REDIS_IMAGE, "/cc-check/redis-check.sh", "--aclfile", "/usr/local/etc/redis/users.acl"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def test_the_check_is_the_roles(renders):
    """The validate: commands mount files/redis-check.sh and run it as redis_check() does."""
    checks = json.loads((renders["local-inventory"] / "checks.json").read_text())
    mount = "-v /opt/commandcenter/redis/checks/redis-check.sh:/cc-check/redis-check.sh:ro"
    assert mount in checks["acl"] and checks["acl"].endswith(" /cc-check/redis-check.sh --aclfile /check/users.acl")
    assert mount in checks["conf"] and checks["conf"].endswith(" /cc-check/redis-check.sh /check/redis.conf")
    assert all(c.startswith("docker run --rm --network none --user 0 --entrypoint sh ") for c in checks.values())


@pytest.fixture(params=["defaults", "local-inventory"])
def rendered(request, renders) -> tuple[str, Path]:
    return request.param, renders[request.param]


def test_redis_server_accepts_the_acl_file_and_config(rendered):
    _, out = rendered
    for conf in (False, True):
        proc = redis_check(out, conf=conf)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "redis-server accepted the configuration" in proc.stdout


def test_acl_file_holds_hashes_not_passwords(rendered):
    which, out = rendered
    acl = (out / "users.acl").read_text()
    values = TEST_SECRETS if which == "defaults" else {
        k: yaml.safe_load(LOCAL_INVENTORY[1].read_text())[k] for k in TEST_SECRETS}
    for name, value in values.items():
        assert value not in acl, f"{name} in plaintext"
    lines = acl.splitlines()
    assert lines[0] == "user default reset off"
    assert lines[1].startswith("user commandcenter reset on #") and " -flushall " in lines[1] and " -keys " in lines[1]
    assert lines[2].startswith("user monitor reset on #") and "resetkeys" in lines[2] and "-@all" in lines[2]
    # The checked key only, read-only, sized by type and length (redis_exporter_check_keys).
    assert " %R~celery " in lines[2] and " +llen " in lines[2] and "~*" not in lines[2] and "+get" not in lines[2]


def test_redis_conf_carries_the_settings(rendered):
    _, out = rendered
    conf = (out / "redis.conf").read_text().splitlines()
    for line in ("maxmemory 512mb", "maxmemory-policy allkeys-lru", "appendonly yes", "appendfsync everysec",
                 "save 3600 1 300 100 60 10000", "aclfile /usr/local/etc/redis/users.acl", "dir /data"):
        assert line in conf, line


def test_derived_memory_limit_is_above_maxmemory(rendered):
    _, out = rendered
    derived = json.loads((out / "derived.json").read_text())
    assert derived["mem_limit"] == "704m"   # 512 MiB * 1.25 + 64 MiB
    assert derived["maxmemory_bytes"] == 512 * 1024 * 1024


def test_compose_file_is_hardened_and_holds_no_secret(rendered):
    which, out = rendered
    text = (out / "compose.yml").read_text()
    for value in TEST_SECRETS.values():
        assert value not in text
    compose = yaml.safe_load(text)
    redis, exporter = compose["services"]["redis"], compose["services"]["redis-exporter"]
    assert redis["user"] == "999:999" and exporter["user"] == "59000:59000"
    for service in (redis, exporter):
        assert service["cap_drop"] == ["ALL"]
        assert service["security_opt"] == ["no-new-privileges:true"]
        assert service["read_only"] is True
        assert service["restart"] == "unless-stopped"
        assert "ports" not in service
        assert len(service["labels"]["com.commandcenter.config-hash"]) == 64
        assert service["logging"]["driver"] == "json-file"
    # Redis on the data network alone (never monitoring, where Traefik is); its exporter on both.
    assert redis["mem_limit"] == "704m" and redis["networks"] == ["data"]
    assert exporter["networks"] == ["data", "monitoring"]
    assert compose["networks"] == {"data": {"name": "data", "external": True}, "monitoring": {"name": "monitoring", "external": True}}
    assert "$$(cat /run/secrets/redis_monitor_password)" in redis["healthcheck"]["test"][1]
    assert exporter["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9121/health"]
    assert (redis["pids_limit"], exporter["pids_limit"]) == (128, 256)
    assert redis["memswap_limit"] == redis["mem_limit"] and exporter["memswap_limit"] == exporter["mem_limit"]
    assert exporter["environment"]["REDIS_PASSWORD_FILE"] == "/run/secrets/redis_exporter_password.json"
    # The Celery queue's length (the monitoring role's CeleryQueueBacklog).
    assert exporter["environment"]["REDIS_EXPORTER_CHECK_SINGLE_KEYS"] == "db0=celery"
    assert not any("PASSWORD" in k and not k.endswith("_FILE") for k in exporter["environment"])
    if which == "local-inventory":
        assert redis["image"] == "172.17.0.1:5000/commandcenter/redis:8.0"
    else:
        assert redis["image"] == "redis:8.0.2" and exporter["image"] == "oliver006/redis_exporter:v1.69.0-alpine"


def test_docker_compose_accepts_the_compose_file(rendered):
    _, out = rendered
    (out / "config").mkdir()
    (out / "secrets").mkdir()
    for rel in ("config/redis.conf", "config/users.acl", "secrets/redis_monitor_password",
                "secrets/redis_exporter_password.json"):
        (out / rel).write_text("x")
    proc = compose_config(out)
    assert proc.returncode == 0, proc.stderr


def test_publish_port_binds_loopback_only(renders):
    compose = yaml.safe_load((renders["published"] / "compose.yml").read_text())
    assert compose["services"]["redis"]["ports"] == ["127.0.0.1:16379:6379"]
    assert "ports" not in compose["services"]["redis-exporter"]


def test_exporter_disabled_leaves_redis_alone(renders):
    compose = yaml.safe_load((renders["no-exporter"] / "compose.yml").read_text())
    assert list(compose["services"]) == ["redis"]
    assert compose["networks"] == {"data": {"name": "data", "external": True}}


def test_config_hash_follows_only_what_each_service_reads(renders):
    derived = {name: json.loads((renders[name] / "derived.json").read_text())
               for name in ("local-inventory", "bigger-maxmemory", "rotated-monitor-password")}
    base = derived["local-inventory"]
    # maxmemory is redis's business only; the monitoring password is read by both.
    assert derived["bigger-maxmemory"]["config_hash"] != base["config_hash"]
    assert derived["bigger-maxmemory"]["exporter_hash"] == base["exporter_hash"]
    assert derived["rotated-monitor-password"]["config_hash"] != base["config_hash"]
    assert derived["rotated-monitor-password"]["exporter_hash"] != base["exporter_hash"]


@pytest.mark.parametrize(("variant", "message"), [
    ("bad-policy", "'maxmemory-policy nonsense'"),
    ("bad-directive", "'no-such-directive yes'"),
    ("bad-appendfsync", "'appendfsync sometimes'"),
])
def test_redis_server_refuses_a_bad_directive(renders, variant, message):
    """What argument_specs/preflight would stop, rendered anyway: redis-server itself refuses it."""
    proc = redis_check(renders[variant])
    assert proc.returncode != 0
    assert "FATAL CONFIG FILE ERROR" in proc.stdout or "Unresolved Configuration" in proc.stdout, proc.stdout
    assert message in proc.stdout, proc.stdout


def test_redis_server_refuses_a_bad_acl_rule(renders):
    proc = redis_check(renders["bad-acl-rule"], conf=False)
    assert proc.returncode != 0
    assert "Aborting Redis startup because of ACL errors" in proc.stdout
    assert "Unknown command or category name in ACL" in proc.stdout


def test_exporter_loads_its_password_file(rendered):
    """redis_exporter parses the rendered JSON map (it logs how many entries it loaded)."""
    _, out = rendered
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "sh",
         "-v", f"{out / 'redis_exporter_password.json'}:/run/secrets/redis_exporter_password.json:ro",
         "-e", "REDIS_PASSWORD_FILE=/run/secrets/redis_exporter_password.json", "-e", "REDIS_USER=monitor",
         EXPORTER_IMAGE, "-c", "timeout 2 /redis_exporter; true"],
        capture_output=True, text=True, check=False, timeout=60)
    logs = proc.stdout + proc.stderr
    assert "Loaded 1 entries from /run/secrets/redis_exporter_password.json" in logs, logs
    assert json.loads((out / "redis_exporter_password.json").read_text()).keys() == {"redis://monitor@redis:6379"}


# --- the offline images honour the upstream contracts ----------------------------

def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def test_redis_image_contract():
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", REDIS_IMAGE))
    assert config["Entrypoint"] == ["docker-entrypoint.sh"] and config["Cmd"] == ["redis-server"]
    assert config["WorkingDir"] == "/data" and "/data" in config["Volumes"] and "6379/tcp" in config["ExposedPorts"]
    # A first argument that is a flag runs redis-server with it; any other command runs as given.
    assert "v=8.0.2" in _docker("run", "--rm", REDIS_IMAGE, "--version")
    assert _docker("run", "--rm", REDIS_IMAGE, "id", "-u", "redis") == "999"
    assert _docker("run", "--rm", REDIS_IMAGE, "redis-cli", "--version").startswith("redis-cli 8.0.2")


@pytest.mark.parametrize("user", [None, "999:999"], ids=["as-root-drops-to-redis", "as-999"])
def test_redis_image_serves_with_a_conf_file_argument(tmp_path, user):
    """`docker run IMAGE /path/x.conf` runs redis-server with it, started as root or as 999."""
    conf = tmp_path / "redis.conf"
    conf.write_text("port 6380\nappendonly yes\n")
    conf.chmod(0o644)
    name = f"cc-redis-render-{os.getpid()}-{user is None}"
    args = ["run", "-d", "--name", name, "-v", f"{conf}:/usr/local/etc/redis/redis.conf:ro"]
    if user:
        args += ["--user", user]
    _docker(*args, REDIS_IMAGE, "/usr/local/etc/redis/redis.conf")
    try:
        for _ in range(50):
            pong = subprocess.run(["docker", "exec", name, "redis-cli", "-p", "6380", "ping"],
                                  capture_output=True, text=True, check=False).stdout.strip()
            if pong == "PONG":
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert pong == "PONG"
        assert _docker("exec", name, "sh", "-c", "cat /proc/1/status | awk '/^Uid:/{print $2}'") == "999"
        assert _docker("exec", name, "stat", "-c", "%u", "/data/appendonlydir") == "999"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def test_exporter_image_contract():
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", EXPORTER_IMAGE))
    assert config["Entrypoint"] == ["/redis_exporter"]
    assert config["User"] == "59000:59000" and "9121/tcp" in config["ExposedPorts"]
    proc = subprocess.run(["docker", "run", "--rm", EXPORTER_IMAGE, "-version"], capture_output=True, text=True,
                          check=True)
    assert "Redis Metrics Exporter 1.69.0" in proc.stdout + proc.stderr


def test_exporter_image_answers_the_roles_healthcheck(renders):
    """The rendered healthcheck (wget of /health, as in the upstream -alpine image) passes in the offline image."""
    compose = yaml.safe_load((renders["local-inventory"] / "compose.yml").read_text())
    kind, *probe = compose["services"]["redis-exporter"]["healthcheck"]["test"]
    assert kind == "CMD"
    name = f"cc-render-redis-exporter-{os.getpid()}"
    subprocess.run(["docker", "run", "-d", "--name", name, "--network", "none", "-e", "REDIS_ADDR=redis://127.0.0.1:1",
                    EXPORTER_IMAGE], check=True, capture_output=True)
    try:
        for _ in range(50):
            proc = subprocess.run(["docker", "exec", name, *probe], capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        body = subprocess.run(["docker", "exec", name, "wget", "-q", "-O", "-", probe[-1]], capture_output=True,
                              text=True, check=False).stdout
        assert body == "ok", body
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


# --- the backup user -------------------------------------------------------------------------

def test_backup_user_exists_only_with_a_password(renders):
    """Empty redis_backup_password (the default): no backup user; set: one more hashed user with
    no key, no channel and exactly SYNC and REPLCONF, which redis-server accepts."""
    assert "user backup " not in (renders["defaults"] / "users.acl").read_text()
    out = renders["backup-user"]
    acl = (out / "users.acl").read_text()
    digest = hashlib.sha256(BACKUP_PASSWORD.encode()).hexdigest()
    assert BACKUP_PASSWORD not in acl
    assert f"user backup reset on #{digest} resetkeys resetchannels -@all +sync +replconf" in acl.splitlines()
    for conf in (False, True):
        proc = redis_check(out, conf=conf)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def _redis_up(name: str, *args: str) -> str:
    """A redis-server container (--network none) started with args; its log once it accepts connections."""
    _docker("run", "-d", "--name", name, "--network", "none", "--user", "999:999", *args)
    logs = ""
    for _ in range(100):
        proc = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        logs = proc.stdout + proc.stderr
        if "Ready to accept connections" in logs:
            return logs
        time.sleep(0.1)
    pytest.fail(f"{name} did not start: {logs[-2000:]}")


def test_backup_user_takes_an_rdb_snapshot_and_nothing_else(renders, tmp_path):
    """The rendered pair (backup-user) served as the role serves it; keys set by the application
    user; `redis-cli --rdb` as the backup user (REDISCLI_AUTH) transfers an RDB with no command
    refused, which a fresh redis-server loads with the keys; the backup user gets NOPERM for
    every key command and more."""
    out = renders["backup-user"]
    for name in ("redis.conf", "users.acl"):
        (out / name).chmod(0o644)
    name = f"cc-redis-render-backup-{os.getpid()}"
    app_pw, etc = TEST_SECRETS["redis_app_password"], "/usr/local/etc/redis"
    try:
        _redis_up(name, "--tmpfs", "/data:uid=999,gid=999,mode=0700", "--tmpfs", "/tmp:mode=1777",
                  "-v", f"{out / 'redis.conf'}:{etc}/redis.conf:ro",
                  "-v", f"{out / 'users.acl'}:{etc}/users.acl:ro", REDIS_IMAGE, f"{etc}/redis.conf")

        def cli(user: str, password: str, *args: str) -> str:
            return subprocess.run(["docker", "exec", "-e", f"REDISCLI_AUTH={password}", name, "redis-cli",
                                   "--no-auth-warning", "--user", user, *args],
                                  capture_output=True, text=True, check=False, timeout=60)

        assert cli("commandcenter", app_pw, "MSET", "cc:a", "1", "cc:b", "2").stdout.strip() == "OK"
        assert cli("commandcenter", app_pw, "RPUSH", "celery", "t1", "t2").stdout.strip() == "2"
        proc = cli("backup", BACKUP_PASSWORD, "--rdb", "/tmp/dump.rdb")
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "Transfer finished with success" in log, log
        # redis-cli 8 sends REPLCONF capa eof and REPLCONF rdb-only 1, then SYNC: none refused.
        assert "sending REPLCONF rdb-only 1" in log and "error" not in log.lower() and "NOPERM" not in log, log
        for args, command in ((["GET", "cc:a"], "get"), (["SET", "cc:a", "x"], "set"), (["KEYS", "*"], "keys"),
                              (["SCAN", "0"], "scan"), (["LRANGE", "celery", "0", "-1"], "lrange"),
                              (["DUMP", "cc:a"], "dump"), (["CONFIG", "GET", "dir"], "config|get"),
                              (["FLUSHALL"], "flushall"), (["PING"], "ping")):
            refused = cli("backup", BACKUP_PASSWORD, *args).stdout.strip()
            assert refused == f"NOPERM User backup has no permissions to run the '{command}' command", (args, refused)
        assert cli("commandcenter", app_pw, "GET", "cc:a").stdout.strip() == "1"
        (tmp_path / "dump.rdb").write_bytes(subprocess.run(["docker", "exec", name, "cat", "/tmp/dump.rdb"],
                                                           capture_output=True, check=True).stdout)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    # The file loads: a fresh server on it (AOF off) has the keys.
    (tmp_path / "dump.rdb").chmod(0o644)
    try:
        _redis_up(name, "-v", f"{tmp_path / 'dump.rdb'}:/data/dump.rdb:ro", REDIS_IMAGE, "redis-server", "--dir", "/data", "--appendonly", "no", "--save", "",
                  "--dbfilename", "dump.rdb")
        assert _docker("exec", name, "redis-cli", "MGET", "cc:a", "cc:b").split() == ["1", "2"]
        assert _docker("exec", name, "redis-cli", "LLEN", "celery") == "2"
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


AOF_RESTORE_SCRIPT = r"""
set -e
cli() { redis-cli -s /tmp/r.sock "$@"; }
start() {  # start DIR ARGS...: redis-server on the unix socket, data in /tmp/DIR
  d=$1; shift
  redis-server --port 0 --unixsocket /tmp/r.sock --daemonize yes --logfile "/tmp/$d.log" --dir "/tmp/$d" "$@"
  i=0; until [ "$(cli ping 2>/dev/null)" = PONG ]; do i=$((i + 1)); [ $i -lt 100 ]; sleep 0.1; done
}
stop() { cli shutdown >/dev/null 2>&1 || true; i=0; while [ -S /tmp/r.sock ]; do i=$((i + 1)); [ $i -lt 100 ]; sleep 0.1; done; }
mkdir -p /tmp/seed /tmp/plain /tmp/base/appendonlydir /tmp/switch
start seed --appendonly no; cli mset a 1 b 2 >/dev/null; cli save >/dev/null; stop
# A restore that only replaces dump.rdb: the AOF is on, there is no appendonlydir.
cp /tmp/seed/dump.rdb /tmp/plain/
start plain --appendonly yes --save "3600 1"; echo "plain-keys $(cli dbsize)"; stop
grep -q 'Creating AOF base file appendonly.aof.1.base.rdb on server start' /tmp/plain.log && echo "plain-empty-base yes"
start plain --appendonly no --save ""; echo "plain-dump-after-stop $(cli dbsize)"; stop
# The RDB as the AOF base, with a manifest naming it.
cp /tmp/seed/dump.rdb /tmp/base/appendonlydir/appendonly.aof.1.base.rdb
printf 'file appendonly.aof.1.base.rdb seq 1 type b\n' >/tmp/base/appendonlydir/appendonly.aof.manifest
start base --appendonly yes; echo "base-keys $(cli dbsize)"; stop
# The RDB loaded with the AOF off, then the AOF turned on (Redis writes its base), then a normal start.
cp /tmp/seed/dump.rdb /tmp/switch/
start switch --appendonly no; cli config set appendonly yes >/dev/null
i=0; until cli info persistence | grep -q 'aof_rewrite_in_progress:0' \
  && cli info persistence | grep -q 'aof_last_bgrewrite_status:ok' && [ -f /tmp/switch/appendonlydir/appendonly.aof.manifest ]; do
  i=$((i + 1)); [ $i -lt 100 ]; sleep 0.1; done
stop; rm /tmp/switch/dump.rdb
start switch --appendonly yes; echo "switch-keys $(cli dbsize)"; stop
"""


def test_redis_8_with_the_aof_on_ignores_a_restored_dump_rdb():
    """What a restore of an RDB must take into account (README, Backups). With appendonly yes and
    no appendonlydir, Redis 8 does not load dump.rdb: it starts empty, creates an empty AOF base,
    and its shutdown save then overwrites dump.rdb with the empty dataset. The RDB as the AOF's
    base (plus a manifest), or loaded with the AOF off and the AOF then turned on, restores it."""
    out = _docker("run", "--rm", "--network", "none", "--user", "999:999", "--tmpfs", "/tmp:mode=1777",
                  "--entrypoint", "sh", REDIS_IMAGE, "-c", AOF_RESTORE_SCRIPT)
    assert dict(line.split(" ", 1) for line in out.splitlines()) == {
        "plain-keys": "0", "plain-empty-base": "yes", "plain-dump-after-stop": "0", "base-keys": "2",
        "switch-keys": "2"}, out
