# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""backup: the programs of commandcenter/backup:1.0, run against real servers.

Every container runs on a private Docker network this module creates; containers,
volumes and the network are named cc-test-backup-<id>-... and removed afterwards, even
when a test fails.

- NATS (commandcenter/nats:2.10, JetStream, one account with a user and password):
  roles/backup/files/cc_nats_snapshot.py, mounted read-only, backs up every stream while
  a client keeps publishing into one of them; a restore over an existing stream is
  refused (exit 2) unless --replace, which brings back exactly the snapshot's messages
  (and its durable consumer); a fresh server restores the whole backup, the stream that
  was written to during the snapshot as a gapless prefix; errors are one line naming the
  stream and leave no files; a new backup replaces the previous one; the password is in
  no output;
- Redis (commandcenter/redis:8.0): `redis-cli --rdb` as a user allowed `+sync +replconf`
  and nothing else (no key, no channel) transfers an RDB that a fresh redis-server loads;
  without REPLCONF the transfer falls back to a BGSAVE on the server's disk, without SYNC
  it fails;
- restic against commandcenter/rest-server:0.13 (htpasswd auth): init, backup, check
  --read-data-subset=100%, wrong credentials refused, and the repository on the server's
  volume holds no plaintext of the backed-up file; the image's entrypoint contract;
- barman 3 and the PostgreSQL 17 client programs are in the image, as its contract says.

Needs Docker and the images `make images` builds; skipped with the reason without them.
"""
from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import needs_images

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_TOOL = ROOT / "roles" / "backup" / "files" / "cc_nats_snapshot.py"
BACKUP_IMAGE = "commandcenter/backup:1.0"
NATS_IMAGE = "commandcenter/nats:2.10"
REDIS_IMAGE = "commandcenter/redis:8.0"
REST_IMAGE = "commandcenter/rest-server:0.13"
PREFIX = "cc-test-backup-"
NATS_PASSWORD = "t3st-nats-Jq8vR2mX5w"
REST_PASSWORD = "t3st-rest-Lp4nB7cK2z"
REPO_PASSWORD = "t3st-repo-Hd9sF3gW6t"
REDIS_PASSWORD = "t3st-redis-Vx2mQ8rT4y"
TOOL = "/opt/cc/cc_nats_snapshot.py"

pytestmark = needs_images(BACKUP_IMAGE, NATS_IMAGE, REDIS_IMAGE, REST_IMAGE)

NATS_CONF = f"""
listen: "0.0.0.0:4222"
http: "127.0.0.1:8222"
jetstream {{ store_dir: "/data", max_memory_store: 16MB, max_file_store: 256MB }}
accounts {{
  APP {{ jetstream: enabled, users: [ {{ user: "backup", password: "{NATS_PASSWORD}" }} ] }}
}}
"""

# The client side of the NATS tests, run with python3 and nats-py in the backup image.
NATS_CLIENT = """
import asyncio, json, os, sys
import nats

async def main():
    nc = await nats.connect(os.environ["NATS_URL"], user="backup", password=open("/t/nats.pw").read().strip())
    js = nc.jetstream()
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        await js.add_stream(name="ORDERS", subjects=["orders.>"])
        await js.add_stream(name="EVENTS", subjects=["events.>"])
        await js.add_stream(name="LIVE", subjects=["live.>"])
        await js.add_stream(name="MEM", subjects=["mem.>"], storage="memory")
        for i in range(1, 6):
            await js.publish(f"orders.{i}", f"order-{i}".encode())
        for i in range(1, 4):
            await js.publish(f"events.{i}", f"event-{i}".encode())
        await js.publish("mem.1", b"mem-1")
        await js.add_consumer("ORDERS", durable_name="worker", ack_policy="explicit")
    elif command == "publish":  # publish PREFIX FIRST LAST: PREFIX.N carrying PREFIX-N
        prefix, first, last = args[0], int(args[1]), int(args[2])
        for i in range(first, last + 1):
            await js.publish(f"{prefix}.{i}", f"{prefix}-{i}".encode())
    elif command == "live":  # publish live.N until /tmp/stop exists; /tmp/started after 100 messages
        count = 0
        while not os.path.exists("/tmp/stop") and count < 100000:
            count += 1
            await js.publish(f"live.{count}", f"live-{count}".encode())
            await asyncio.sleep(0.002)  # a steady trickle, not thousands of messages to read back
            if count == 100:
                open("/tmp/started", "w").close()
        print(count, file=open("/tmp/published", "w"))
    elif command == "dump":  # every message's payload and the durable consumers, a stream each
        out = {}
        for name in args:
            info = await js.stream_info(name)
            msgs = [(await js.get_msg(name, seq)).data.decode()
                    for seq in range(info.state.first_seq, info.state.last_seq + 1)] if info.state.messages else []
            out[name] = {"messages": msgs, "consumers": sorted(c.name for c in await js.consumers_info(name))}
        print(json.dumps(out))
    await nc.close()

asyncio.run(main())
"""

# What a backup directory holds: its entries, and per stream the files, their sizes, backup.json.
LIST_BACKUPS = """
import json, os
top = "/var/lib/barman/nats"
streams = [n for n in sorted(os.listdir(top)) if not n.startswith(".")]
print(json.dumps({
    "entries": sorted(os.listdir(top)),
    "files": {n: sorted(os.listdir(f"{top}/{n}")) for n in streams},
    "sizes": {n: os.path.getsize(f"{top}/{n}/stream.tar.s2") for n in streams},
    "meta": {n: json.load(open(f"{top}/{n}/backup.json")) for n in streams},
}))
"""

# repl-diskless-sync-delay 0: a diskless transfer starts at once (by default the server waits
# 5 s for more replicas to share it: every `--rdb` then takes 5 s longer, nothing else changes).
REDIS_CONF = f"""
bind 0.0.0.0
repl-diskless-sync-delay 0
protected-mode no
dir /data
save ""
appendonly no
user default off
user admin on >{REDIS_PASSWORD} ~* &* +@all
user backup on >{REDIS_PASSWORD}
"""


class Lab:
    """The module's Docker network and the containers and volumes on it, all labelled."""

    def __init__(self, tmp: Path):
        self.id = uuid.uuid4().hex[:8]
        self.network = f"{PREFIX}{self.id}"
        self.label = f"org.commandcenter.test={self.network}"
        self.tmp = tmp
        self.outputs: list[str] = []  # every output of the snapshot tool, checked for the password

    def name(self, what: str) -> str:
        return f"{self.network}-{what}"

    def volume(self, what: str) -> str:
        name = self.name(what)
        subprocess.run(["docker", "volume", "create", "--label", self.label, name], check=True, capture_output=True)
        return name

    def run(self, image: str, *command: str, volumes: tuple[str, ...] = (), env: dict | None = None,
            user: str | None = None, stdin: str | None = None, timeout: int = 60, entrypoint: str | None = None,
            ) -> subprocess.CompletedProcess:
        """A one-shot container on the network (removed when it ends)."""
        cmd = ["docker", "run", "--rm", "--network", self.network, "--label", self.label]
        if stdin is not None:
            cmd.append("-i")
        for volume in volumes:
            cmd += ["-v", volume]
        for key, value in (env or {}).items():
            cmd += ["-e", f"{key}={value}"]
        if user:
            cmd += ["--user", user]
        if entrypoint is not None:
            cmd += ["--entrypoint", entrypoint]
        return subprocess.run([*cmd, image, *command], input=stdin, capture_output=True, text=True, check=False,
                              timeout=timeout)

    def daemon(self, what: str, image: str, options: list[str], command: list[str] | None = None) -> str:
        """Start a named long-running container: docker run -d OPTIONS IMAGE COMMAND."""
        name = self.name(what)
        subprocess.run(["docker", "run", "-d", "--name", name, "--network", self.network, "--label", self.label,
                        *options, image, *(command or [])], check=True, capture_output=True, text=True)
        return name

    def cleanup(self) -> None:
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={self.label}"],
                             capture_output=True, text=True, check=False).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", "-v", *ids], capture_output=True, check=False)
        volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label={self.label}"],
                                 capture_output=True, text=True, check=False).stdout.split()
        if volumes:
            subprocess.run(["docker", "volume", "rm", "-f", *volumes], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", self.network], capture_output=True, check=False)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("backup-tools")
    tmp.chmod(0o755)  # the containers' users (999, 1000) read the mounted files
    lab = Lab(tmp)
    try:
        subprocess.run(["docker", "network", "create", "--label", lab.label, lab.network], check=True,
                       capture_output=True)
        yield lab
    finally:
        lab.cleanup()


def wait_for(check, what: str, timeout: float = 20.0):
    """Poll check() until it returns a true value."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"{what}: not ready in {timeout} s"
        time.sleep(0.2)
    return result


def container_logs(name: str) -> str:
    """A container's stdout and stderr."""
    proc = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


# ---------------------------------------------------------------- NATS JetStream


@pytest.fixture(scope="module")
def nats_files(lab) -> Path:
    files = lab.tmp / "nats"
    files.mkdir(mode=0o755)
    for name, text in (("nats-server.conf", NATS_CONF), ("nats.pw", NATS_PASSWORD + "\n"),
                       ("client.py", NATS_CLIENT), ("wrong.pw", "not-the-password\n")):
        (files / name).write_text(text)
        (files / name).chmod(0o644)
    return files


def start_nats(lab: Lab, files: Path, what: str) -> str:
    name = lab.daemon(what, NATS_IMAGE, ["--tmpfs", "/data:uid=1000,gid=1000,mode=0700",
                                         "-v", f"{files / 'nats-server.conf'}:/etc/nats/nats-server.conf:ro"])

    def healthy():
        return subprocess.run(["docker", "exec", name, "wget", "-q", "-O", "-",
                               "http://127.0.0.1:8222/healthz?js-enabled-only=true"],
                              capture_output=True, text=True, check=False).stdout.strip() == '{"status":"ok"}'

    wait_for(healthy, f"nats-server {name}")
    return name


def nats_client(lab: Lab, files: Path, server: str, *args: str) -> subprocess.CompletedProcess:
    proc = lab.run(BACKUP_IMAGE, "python3", "/t/client.py", *args, volumes=(f"{files}:/t:ro",),
                   env={"NATS_URL": f"nats://{server}:4222"})
    assert proc.returncode == 0, proc.stderr
    return proc


def dump(lab: Lab, files: Path, server: str, *streams: str) -> dict:
    return json.loads(nats_client(lab, files, server, "dump", *streams).stdout)


def snapshot_tool(lab: Lab, files: Path, backups: str, server: str, *args: str, password: str = "nats.pw",
                  wrap: str = "") -> subprocess.CompletedProcess:
    """cc_nats_snapshot.py in the backup image (the script mounted read-only), its backups in a volume;
    wrap: a shell script that runs it as "$@" (with more around it, in the same container)."""
    command = ["python3", TOOL, args[0], "--server", f"nats://{server}:4222", "--user", "backup",
               "--password-file", f"/t/{password}", *args[1:]]
    if wrap:
        command = ["sh", "-c", wrap, "sh", *command]
    proc = lab.run(BACKUP_IMAGE, *command, volumes=(f"{files}:/t:ro", f"{SNAPSHOT_TOOL}:{TOOL}:ro",
                                                    f"{backups}:/var/lib/barman"),
                   env={"NATS_URL": f"nats://{server}:4222"})
    lab.outputs += [proc.stdout, proc.stderr]
    return proc


def test_nats_snapshot_backup_and_restore(lab, nats_files):
    files = nats_files
    first = start_nats(lab, files, "nats-a")
    backups = lab.volume("nats-backups")
    nats_client(lab, files, first, "setup")

    # Back up every stream while a client publishes into LIVE: from its 100th message until the backup ended.
    proc = snapshot_tool(lab, files, backups, first, "backup", "--dest", "/var/lib/barman/nats", wrap=(
        'python3 /t/client.py live & pid=$!; i=0; until [ -e /tmp/started ] || [ $i -gt 200 ]; do sleep 0.05; '
        'i=$((i+1)); done; "$@"; rc=$?; touch /tmp/stop; wait $pid; echo "published $(cat /tmp/published)" >&2; '
        'exit $rc'))
    assert proc.returncode == 0, proc.stderr
    published = int(proc.stderr.split("published ")[1].split()[0])
    summary = json.loads(proc.stdout)
    assert len(proc.stdout.strip().splitlines()) == 1
    assert summary["action"] == "backup" and summary["streams"] == ["EVENTS", "LIVE", "ORDERS"]
    assert summary["skipped_memory_streams"] == ["MEM"]
    assert summary["bytes"] > 0
    listing = lab.run(BACKUP_IMAGE, "python3", "-c", LIST_BACKUPS, volumes=(f"{backups}:/var/lib/barman",))
    assert listing.returncode == 0, listing.stderr
    saved = json.loads(listing.stdout)
    assert saved["entries"] == ["EVENTS", "LIVE", "ORDERS"], "no temporary directory is left behind"
    assert all(names == ["backup.json", "stream.tar.s2"] for names in saved["files"].values()), saved
    assert sum(saved["sizes"].values()) == summary["bytes"]
    orders_meta = saved["meta"]["ORDERS"]
    assert orders_meta["config"]["name"] == "ORDERS" and orders_meta["config"]["subjects"] == ["orders.>"]
    assert orders_meta["state"]["messages"] == 5 and orders_meta["state"]["last_seq"] == 5
    live_at_snapshot = saved["meta"]["LIVE"]["state"]["messages"]
    assert 100 <= live_at_snapshot < published
    assert summary["messages"] == 5 + 3 + live_at_snapshot

    # After the snapshot: more orders.
    nats_client(lab, files, first, "publish", "orders", "6", "8")
    assert len(dump(lab, files, first, "ORDERS")["ORDERS"]["messages"]) == 8

    # A restore over existing streams is refused, and changes nothing.
    proc = snapshot_tool(lab, files, backups, first, "restore", "--src", "/var/lib/barman/nats", "--stream", "ORDERS")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert "stream ORDERS already exists" in proc.stderr and "--replace" in proc.stderr
    assert len(dump(lab, files, first, "ORDERS")["ORDERS"]["messages"]) == 8

    # --replace: exactly the snapshot's orders are back, with the durable consumer.
    proc = snapshot_tool(lab, files, backups, first, "restore", "--src", "/var/lib/barman/nats", "--stream", "ORDERS",
                         "--replace")
    assert proc.returncode == 0, proc.stderr
    restored = json.loads(proc.stdout)
    assert restored["streams"] == ["ORDERS"] and restored["replaced"] == ["ORDERS"]
    assert restored["messages"] == 5 and restored["bytes"] == saved["sizes"]["ORDERS"]
    orders = dump(lab, files, first, "ORDERS")["ORDERS"]
    assert orders["messages"] == [f"order-{i}" for i in range(1, 6)]
    assert orders["consumers"] == ["worker"]

    # A second, fresh server: the whole backup.
    second = start_nats(lab, files, "nats-b")
    proc = snapshot_tool(lab, files, backups, second, "restore", "--src", "/var/lib/barman/nats")
    assert proc.returncode == 0, proc.stderr
    restored = json.loads(proc.stdout)
    assert restored["streams"] == ["EVENTS", "LIVE", "ORDERS"] and restored["replaced"] == []
    got = dump(lab, files, second, "ORDERS", "EVENTS", "LIVE")
    assert got["ORDERS"] == {"messages": [f"order-{i}" for i in range(1, 6)], "consumers": ["worker"]}
    assert got["EVENTS"]["messages"] == [f"event-{i}" for i in range(1, 4)]
    # The stream written to during the snapshot: a gapless prefix, at least what the state counted.
    live = got["LIVE"]["messages"]
    assert live_at_snapshot <= len(live) < published
    assert live == [f"live-{i}" for i in range(1, len(live) + 1)]
    assert restored["messages"] == 5 + 3 + len(live)

    assert all(NATS_PASSWORD not in out for out in lab.outputs)


def test_nats_snapshot_errors_are_one_line_naming_the_stream(lab, nats_files):
    files = nats_files
    server = start_nats(lab, files, "nats-c")
    backups = lab.volume("nats-errors")
    nats_client(lab, files, server, "setup")
    cases = [
        (("backup", "--dest", "/var/lib/barman/nats", "--stream", "NOPE"), "nats.pw",
         "stream NOPE: stream not found"),
        (("backup", "--dest", "/var/lib/barman/nats", "--stream", "MEM"), "nats.pw",
         "stream MEM: memory storage cannot be snapshotted"),
        (("backup", "--dest", "/var/lib/barman/nats"), "wrong.pw", "Authorization Violation"),
        (("restore", "--src", "/var/lib/barman/none"), "nats.pw", "no such directory"),
    ]
    for args, password, expected in cases:
        proc = snapshot_tool(lab, files, backups, server, *args, password=password)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("cc_nats_snapshot: ") and expected in proc.stderr, proc.stderr
    left = lab.run(BACKUP_IMAGE, "ls", "-A", "/var/lib/barman/nats", volumes=(f"{backups}:/var/lib/barman",))
    assert left.returncode == 0 and left.stdout == "", "a failed backup leaves nothing behind"
    # An account without streams backs up as an empty directory, which restores nothing.
    proc = snapshot_tool(lab, files, backups, server, "restore", "--src", "/var/lib/barman/nats")
    assert proc.returncode == 0 and json.loads(proc.stdout)["streams"] == [], proc.stderr
    # A second backup replaces the first, leaving nothing else behind either.
    for attempt in range(2):
        proc = snapshot_tool(lab, files, backups, server, "backup", "--dest", "/var/lib/barman/nats",
                             "--stream", "ORDERS", "--stream", "EVENTS")
        assert proc.returncode == 0, (attempt, proc.stderr)
        assert json.loads(proc.stdout)["streams"] == ["ORDERS", "EVENTS"]
    left = lab.run(BACKUP_IMAGE, "ls", "-A", "/var/lib/barman/nats", volumes=(f"{backups}:/var/lib/barman",))
    assert left.stdout.split() == ["EVENTS", "ORDERS"]
    assert all(NATS_PASSWORD not in out for out in lab.outputs)


# ---------------------------------------------------------------- Redis


def test_redis_cli_rdb_needs_only_sync_and_replconf(lab):
    conf = lab.tmp / "redis.conf"
    conf.write_text(REDIS_CONF)
    conf.chmod(0o644)
    redis = lab.daemon("redis", REDIS_IMAGE, ["-v", f"{conf}:/usr/local/etc/redis/redis.conf:ro"],
                       ["/usr/local/etc/redis/redis.conf"])

    def admin(*args: str) -> str:
        return subprocess.run(["docker", "exec", "-e", f"REDISCLI_AUTH={REDIS_PASSWORD}", redis, "redis-cli",
                               "--user", "admin", *args], capture_output=True, text=True, check=False).stdout.strip()

    wait_for(lambda: admin("PING") == "PONG", "redis-server")
    assert admin("SET", "cc:backup:key", "value-before-the-rdb") == "OK"
    backups = lab.volume("redis-backups")

    def rdb(*rules: str) -> subprocess.CompletedProcess:
        assert admin("ACL", "SETUSER", "backup", "reset", "on", f">{REDIS_PASSWORD}", "resetkeys", "resetchannels",
                     "-@all", *rules) == "OK"
        return lab.run(BACKUP_IMAGE, "sh", "-c", "rm -f dump.rdb; redis-cli -h \"$0\" --user backup --rdb dump.rdb",
                       redis, volumes=(f"{backups}:/var/lib/barman",), env={"REDISCLI_AUTH": REDIS_PASSWORD})

    # Without SYNC: refused.
    proc = rdb("+replconf")
    assert proc.returncode != 0 and "no permissions to run the 'sync' command" in proc.stdout + proc.stderr
    # Without REPLCONF: it works, but as a replica: REPLCONF refused, the server writes an RDB to its own disk.
    seen = len(container_logs(redis))
    proc = rdb("+sync")
    assert proc.returncode == 0 and "NOPERM" in proc.stdout + proc.stderr
    assert "Starting BGSAVE for SYNC with target: disk" in container_logs(redis)[seen:]
    # +sync +replconf: rdb-only, diskless (EOF marker), nothing refused. This is the minimal ACL.
    seen = len(container_logs(redis))
    proc = rdb("+sync", "+replconf")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "sending REPLCONF rdb-only 1" in log and "until EOF marker" in log and "NOPERM" not in log, log
    assert "Transfer finished with success" in log
    server_log = container_logs(redis)[seen:]
    assert "target: replicas sockets" in server_log and "target: disk" not in server_log, server_log
    assert admin("ACL", "DRYRUN", "backup", "GET", "cc:backup:key").startswith("User backup has no permissions")

    # A fresh redis-server loads the RDB: the key is back.
    loaded = lab.run(REDIS_IMAGE, "-c", "redis-server --dir /data --dbfilename dump.rdb --port 6390 --save '' "
                     "--appendonly no --daemonize yes >/dev/null && for i in $(seq 50); do "
                     "redis-cli -p 6390 PING >/dev/null 2>&1 && break; sleep 0.1; done; "
                     "redis-cli -p 6390 GET cc:backup:key",
                     volumes=(f"{backups}:/data",), user="999:999", entrypoint="sh")
    assert loaded.stdout.strip() == "value-before-the-rdb", loaded.stdout + loaded.stderr


# ---------------------------------------------------------------- restic and rest-server


def test_rest_server_refuses_to_start_without_users(lab):
    proc = lab.run(REST_IMAGE, volumes=(f"{lab.volume('rest-empty')}:/data",), timeout=30)
    assert proc.returncode == 1
    assert "/data/.htpasswd is missing or empty" in proc.stderr and "DISABLE_AUTHENTICATION" in proc.stderr


def test_rest_server_honours_upstream_options_and_no_auth(lab):
    name = lab.daemon("rest-noauth", REST_IMAGE, ["-e", "DISABLE_AUTHENTICATION=1",
                                                  "-e", "OPTIONS=--append-only --private-repos"])
    logs = wait_for(lambda: "start server on" in container_logs(name) and container_logs(name), "rest-server")
    # OPTIONS is split into flags (--private-repos, the second one, took effect).
    for line in ("Data directory: /data", "Authentication disabled", "Private repositories enabled",
                 "start server on [::]:8000"):
        assert line in logs, logs
    # STOPSIGNAL SIGTERM: rest-server shuts down cleanly on it.
    subprocess.run(["docker", "stop", "-t", "10", name], capture_output=True, check=True)
    assert "shutdown cleanly" in container_logs(name)
    config = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config}}", REST_IMAGE],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["Cmd"] == ["/entrypoint.sh"] and not config.get("Entrypoint")
    assert config["User"] == "1000:1000" and config["StopSignal"] == "SIGTERM"
    assert set(config["ExposedPorts"]) == {"8000/tcp"} and set(config["Volumes"]) == {"/data"}
    assert {"DATA_DIRECTORY=/data", "PASSWORD_FILE=/data/.htpasswd"} <= set(config["Env"])


def test_restic_backs_up_encrypted_to_rest_server(lab):
    data = lab.volume("rest-data")
    created = lab.run(REST_IMAGE, "htpasswd", "-B", "-i", "-c", "/data/.htpasswd", "backup",
                      volumes=(f"{data}:/data",), stdin=REST_PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    server = lab.daemon("rest", REST_IMAGE, ["-v", f"{data}:/data"])
    wait_for(lambda: "start server on" in container_logs(server), "rest-server")
    marker = f"cc-backup-marker-{uuid.uuid4().hex}"
    secrets = lab.tmp / "restic"
    secrets.mkdir(mode=0o755)
    (secrets / "repo.pw").write_text(REPO_PASSWORD + "\n")
    (secrets / "repo.pw").chmod(0o644)
    env = {"RESTIC_REPOSITORY": f"rest:http://{server}:8000/cc", "RESTIC_REST_USERNAME": "backup",
           "RESTIC_PASSWORD_FILE": "/s/repo.pw", "RESTIC_REST_PASSWORD": REST_PASSWORD}
    script = ("set -e; mkdir -p src; for i in 1 2 3; do echo \"$0 line $i\"; done > src/payload.txt; "
              "restic init -q; restic backup -q /var/lib/barman/src; "
              "restic check -q --read-data-subset=100%; echo check-passed; "
              "restic dump latest /var/lib/barman/src/payload.txt")
    proc = lab.run(BACKUP_IMAGE, "sh", "-c", script, marker, volumes=(f"{secrets}:/s:ro",), env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "check-passed" in proc.stdout and f"{marker} line 3" in proc.stdout
    # Wrong credentials: the server says 401.
    denied = lab.run(BACKUP_IMAGE, "restic", "snapshots", volumes=(f"{secrets}:/s:ro",),
                     env={**env, "RESTIC_REST_PASSWORD": "wrong"})
    assert denied.returncode != 0 and "401" in denied.stderr
    # The repository on the server's volume: files, none holding the marker in clear.
    grep = lab.run(REST_IMAGE, "sh", "-c", "find /data/cc -type f | wc -l; grep -r -l -F \"$0\" /data; echo rc=$?",
                   marker, volumes=(f"{data}:/data:ro",))
    lines = grep.stdout.split()
    assert int(lines[0]) >= 5 and lines[-1] == "rc=1", grep.stdout + grep.stderr


# ---------------------------------------------------------------- the image's contract


def test_backup_image_contract():
    config = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config}}", BACKUP_IMAGE],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["User"] == "999:999" and config["Cmd"] == ["barman", "--version"]
    assert not config.get("Entrypoint") and not config.get("Healthcheck")
    probe = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", BACKUP_IMAGE, "sh", "-c",
         "id -u; id -g; echo $HOME; stat -c '%u:%g %a' $HOME; barman --version; barman-wal-archive --version; "
         "for p in pg_dump pg_dumpall pg_restore psql pg_receivewal pg_basebackup pg_amcheck; do $p --version; done; "
         "restic version; redis-cli --version; "
         "python3 -c 'import nats; from importlib.metadata import version; print(\"nats-py\", version(\"nats-py\"))'"],
        capture_output=True, text=True, check=True).stdout.splitlines()
    assert probe[:4] == ["999", "999", "/var/lib/barman", "999:999 750"], probe
    assert probe[4].startswith("3.") and "Barman" in probe[4], probe
    assert probe[5].startswith("barman-wal-archive 3."), probe
    pg = probe[6:13]
    assert [line.split(" (PostgreSQL) ")[0] for line in pg] == [
        "pg_dump", "pg_dumpall", "pg_restore", "psql", "pg_receivewal", "pg_basebackup", "pg_amcheck"], pg
    assert all(" (PostgreSQL) 17." in line for line in pg), pg
    assert probe[13].startswith("restic 0.") and probe[14].startswith("redis-cli 8.0"), probe
    assert probe[15] == "nats-py 2.16.0"
