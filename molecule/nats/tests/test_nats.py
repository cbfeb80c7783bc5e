# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""nats: JetStream works for the app user, nobody else gets in, data survives, a reload takes what it can.

Clients run in throwaway containers of the service's own image on the nested
engine (`nats-probe`, images/nats), on the data network. Passwords reach
the probe on stdin, never on its command line.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import shlex
import time
import uuid

import pytest
from conftest import (
    COMPOSE_LOG_CONFIG,
    BoundedLoad,
    container_run_id,
    docker_json,
    inventory_hostvars,
    put_root_file,
    sh,
)

PROJECT = "cc-nats"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def hostvars(host):
    return inventory_hostvars()


def container(host) -> dict:
    ids = sh(host, f"docker ps -aq --filter label=com.docker.compose.project={PROJECT} "
                   "--filter label=com.docker.compose.service=nats").split()
    assert len(ids) == 1, f"expected one nats container, got {ids}"
    return docker_json(host, "inspect", ids[0])


@pytest.fixture()
def nats(host) -> dict:
    return container(host)


def run_probe(host, image: str, *args: str, user: str | None = None, password: str | None = None,
              server: str = "nats://nats:4222", network: str = "data") -> tuple[int, dict]:
    """nats-probe in a throwaway container; returns (exit code, its JSON document)."""
    cmd = f"docker run --rm -i --network {network} {image} nats-probe -s {server} -timeout 5s"
    if user is not None:
        cmd += f" -user {shlex.quote(user)} -password-file -"
    cmd += " " + " ".join(shlex.quote(a) for a in args)
    result = host.run(f"printf '%s\\n' {shlex.quote(password or '')} | {cmd}")
    lines = result.stdout.strip().splitlines()
    assert lines, f"nats-probe printed nothing (rc {result.rc}): {result.stderr}"
    return result.rc, json.loads(lines[-1])


@pytest.fixture()
def probe(host, nats, hostvars):
    """Probe as a given user; `app`/`monitor` use the scenario's credentials."""
    image = nats["Config"]["Image"]
    users = {"app": ("commandcenter", hostvars["nats_app_password"]),
             "monitor": ("monitor", hostvars["nats_monitor_password"])}

    def _probe(*args, as_user: str | None = "app", **kwargs):
        user, password = users.get(as_user, (None, None)) if as_user else (None, None)
        return run_probe(host, image, *args, user=kwargs.pop("user", user),
                         password=kwargs.pop("password", password), **kwargs)
    return _probe


def wait_healthy(host, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        info = container(host)
        health = info["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return info
        assert time.monotonic() < deadline, f"nats not healthy after {timeout}s: {info['State']}"
        time.sleep(1)


def http_get(host, image: str, path: str) -> str:
    """GET from the monitoring port, from another container on the data network."""
    return sh(host, f"docker run --rm --network data {image} wget -q -O - %s", f"http://nats:8222{path}")


# --- the container as deployed ---------------------------------------------------------------

def test_nats_is_healthy_and_hardened(nats):
    assert nats["State"]["Health"]["Status"] == "healthy"
    config, hostconfig = nats["Config"], nats["HostConfig"]
    assert config["User"] == "1000:1000"
    assert hostconfig["ReadonlyRootfs"] is True
    assert hostconfig["CapDrop"] == ["ALL"] and not hostconfig["CapAdd"]
    assert "no-new-privileges:true" in hostconfig["SecurityOpt"]
    assert hostconfig["Memory"] == 512 * MB and hostconfig["NanoCpus"] == 1_000_000_000
    assert hostconfig["RestartPolicy"]["Name"] == "unless-stopped"
    assert hostconfig["LogConfig"] == COMPOSE_LOG_CONFIG
    assert f"GOMEMLIMIT={int(512 * MB * 0.9)}" in config["Env"]
    # The data network only: not monitoring, where Traefik is (nats-monitor is there for it).
    assert set(nats["NetworkSettings"]["Networks"]) == {"data"}
    assert "js-enabled-only=true" in " ".join(config["Healthcheck"]["Test"])


def test_monitoring_network_reads_the_health_through_nats_monitor_only(host, nats):
    """From the monitoring network: /healthz answers through nats-monitor, other endpoints get 403,
    and nats-server itself (its client port) is not there: its name does not resolve."""
    proxy = docker_json(host, "inspect", "cc-nats-nats-monitor-1")
    assert proxy["State"]["Health"]["Status"] == "healthy"
    assert set(proxy["NetworkSettings"]["Networks"]) == {"data", "monitoring"}
    image = nats["Config"]["Image"]
    health = sh(host, f"docker run --rm --network monitoring {image} wget -q -O - %s", "http://nats-monitor:8222/healthz")
    assert '"ok"' in health, health
    # GNU wget (the image's): exit 8 with the server's status for a refusal, 4 for a network failure.
    refused = host.run(f"docker run --rm --network monitoring {image} wget -O /dev/null http://nats-monitor:8222/connz")
    assert refused.rc == 8 and "403 Forbidden" in refused.stderr, refused.stderr
    direct = host.run(f"docker run --rm --network monitoring {image} wget -T 3 -O /dev/null http://nats:8222/healthz")
    assert direct.rc == 4 and "unable to resolve host address" in direct.stderr, direct.stderr


def test_config_hash_label_is_an_hmac_of_the_restart_only_settings(host, nats, hostvars):
    """The label changes exactly with what needs a restart, recorded (no secret) in the stack's state file."""
    label = nats["Config"]["Labels"]["com.commandcenter.config-hash"]
    assert re.fullmatch(r"[0-9a-f]{64}", label), label
    files = "".join(host.file(f"/opt/commandcenter/nats/config/{name}").content_string
                    for name in ("nats-server.conf", "auth.conf"))
    assert label != hashlib.sha256(files.encode()).hexdigest()
    state = host.file("/opt/commandcenter/nats/state.json")
    assert (state.uid, state.mode) == (0, 0o600)
    restart = json.loads(state.content_string)["restart"]["nats"]
    assert (restart["max_memory_store"], restart["max_file_store"], restart["listen"]) == (
        hostvars["nats_jetstream_max_memory"], hostvars["nats_jetstream_max_file"], "4222"), restart
    key = host.file("/opt/commandcenter/secrets/host.key").content_string.strip()
    assert label == hmac.new(key.encode(), json.dumps(restart_in_role_order(restart)).encode(),
                             hashlib.sha256).hexdigest()


def restart_in_role_order(restart: dict) -> dict:
    """The recorded settings in the order the role writes them (to_json keeps it; the state file sorts)."""
    order = ["image", "user", "mem_limit", "cpus", "pids_limit", "published", "server_name", "listen", "http",
             "max_memory_store", "max_file_store", "system_account"]
    assert sorted(order) == sorted(restart), restart
    return {k: restart[k] for k in order}


def test_accounts_file_holds_bcrypt_hashes_only(host, hostvars):
    auth = host.file("/opt/commandcenter/nats/config/auth.conf")
    assert (auth.uid, auth.gid, auth.mode) == (1000, 1000, 0o400)
    content = auth.content_string
    # The application's, the monitoring user's and the backup user's.
    assert content.count('password: "$2b$11$') == 3
    for name in ("nats_app_password", "nats_monitor_password", "nats_backup_password"):
        assert hostvars[name] not in content, f"{name} in clear text"
    config = host.file("/opt/commandcenter/nats/config/nats-server.conf").content_string
    settings = [line.strip() for line in config.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in settings if line.startswith("no_auth_user")], settings
    assert "include ./auth.conf" in settings


def test_jetstream_volume_belongs_to_nats(host):
    mountpoint = sh(host, "docker volume inspect cc-nats-data --format '{{.Mountpoint}}'")
    volume = host.file(mountpoint)
    assert (volume.uid, volume.gid) == (1000, 1000)
    assert host.file(f"{mountpoint}/jetstream").is_directory


# --- who gets in ---------------------------------------------------------------------------------

def test_anonymous_client_is_refused(probe):
    rc, out = probe("connect", as_user=None)
    assert rc == 2 and "authorization violation" in out["error"].lower(), out


def test_wrong_password_is_refused(probe):
    rc, out = probe("connect", password="not-the-password-at-all")
    assert rc == 2 and "authorization violation" in out["error"].lower(), out


def test_unknown_user_is_refused(probe, hostvars):
    rc, out = probe("connect", user="intruder", password=hostvars["nats_app_password"])
    assert rc == 2 and "authorization violation" in out["error"].lower(), out


def test_app_user_connects_with_jetstream(probe):
    rc, out = probe("connect")
    assert rc == 0, out
    assert out["auth_required"] is True and out["jetstream"] is True
    assert out["server_name"] == "cc-nats" and out["max_payload"] == 1 * MB


def test_monitor_user_reaches_the_system_account_and_the_app_user_does_not(probe):
    rc, out = probe("request", "$SYS.REQ.SERVER.PING", as_user="monitor")
    assert rc == 0, out
    assert out["reply"]["server"]["name"] == "cc-nats" and out["reply"]["server"]["jetstream"] is True
    rc, out = probe("request", "$SYS.REQ.SERVER.PING")
    assert rc == 1 and "no responders" in out["error"].lower(), out


def test_backup_user_lists_streams_and_cannot_publish_or_consume(host, probe, nats, hostvars):
    """The backup user (the backup role's snapshots: tests/render/test_nats.py runs a whole snapshot
    and restore with it) lists the application account's streams; a plain publish and a consumer are
    refused (Permissions Violation, which nats.go reports on stderr), and nothing reached the stream."""
    stream, subject = f"B{uuid.uuid4().hex[:8].upper()}", f"backup.{uuid.uuid4().hex[:8]}"
    assert probe("stream-add", stream, f"{subject}.>")[0] == 0
    as_backup = {"user": hostvars.get("nats_backup_user", "backup"), "password": hostvars["nats_backup_password"]}
    rc, out = probe("request", "$JS.API.STREAM.NAMES", **as_backup)
    assert rc == 0 and stream in out["reply"]["streams"], out
    image = nats["Config"]["Image"]
    for args, subject_refused in ((["request", f"{subject}.created", "from-backup"], f"{subject}.created"),
                                  (["consume", stream, f"{subject}.>", "-durable", "peek"],
                                   f"$JS.API.CONSUMER.CREATE.{stream}.peek")):
        cmd = (f"docker run --rm -i --network data {image} nats-probe -s nats://nats:4222 -timeout 2s"
               f" -user {shlex.quote(as_backup['user'])} -password-file - " + " ".join(shlex.quote(a) for a in args))
        result = host.run(f"printf '%s\\n' {shlex.quote(as_backup['password'])} | {cmd}")
        assert result.rc == 1, result.stdout + result.stderr
        assert f'Permissions Violation for Publish to "{subject_refused}' in result.stderr, result.stderr
    rc, info = probe("stream-info", stream)
    assert rc == 0 and info["messages"] == 0, info


# --- JetStream -------------------------------------------------------------------------------------

def test_app_user_creates_a_stream_publishes_and_consumes_with_ack(probe):
    stream, subject = f"T{uuid.uuid4().hex[:8].upper()}", f"probe.{uuid.uuid4().hex[:8]}"
    rc, out = probe("stream-add", stream, f"{subject}.>")
    assert rc == 0 and out["storage"] == "File", out
    rc, ack = probe("publish", f"{subject}.created", "order-42")
    assert rc == 0 and ack["stream"] == stream and ack["seq"] == 1, ack
    rc, out = probe("consume", stream, f"{subject}.>", "-durable", "worker", "-count", "5", "-timeout", "2s")
    assert rc == 0, out
    assert [(m["data"], m["seq"], m["acked"]) for m in out["messages"]] == [("order-42", 1, True)]
    rc, info = probe("consumer-info", stream, "worker")
    assert rc == 0 and info["num_ack_pending"] == 0 and info["ack_floor"] == 1, info
    # Acked: the durable consumer gets nothing again.
    rc, out = probe("consume", stream, f"{subject}.>", "-durable", "worker", "-timeout", "1s")
    assert rc == 0 and out["messages"] == [], out


def test_healthz_and_limits_answer_on_the_network(host, nats):
    image = nats["Config"]["Image"]
    assert json.loads(http_get(host, image, "/healthz?js-enabled-only=true")) == {"status": "ok"}
    varz = json.loads(http_get(host, image, "/varz"))
    assert varz["max_payload"] == 1 * MB and varz["max_connections"] == 1024
    assert varz["jetstream"]["config"]["max_memory"] == 64 * MB
    assert varz["jetstream"]["config"]["max_storage"] == 512 * MB
    assert varz["jetstream"]["config"]["store_dir"] == "/data/jetstream"


def test_nothing_listens_on_the_host(host, nats, probe):
    assert not nats["HostConfig"]["PortBindings"]
    assert not any(nats["NetworkSettings"]["Ports"].values()), nats["NetworkSettings"]["Ports"]
    listening = sh(host, "ss -Htln")
    assert not [line for line in listening.splitlines() if line.split()[3].endswith((":4222", ":8222"))], listening
    # From the host's own network namespace, the client port is closed.
    rc, out = probe("connect", server="nats://127.0.0.1:4222", network="host")
    assert rc == 2 and "authorization" not in out["error"].lower(), out


def test_message_survives_a_server_restart(host, probe, nats):
    stream, subject = f"R{uuid.uuid4().hex[:8].upper()}", f"restart.{uuid.uuid4().hex[:8]}"
    assert probe("stream-add", stream, f"{subject}.>")[0] == 0
    assert probe("publish", f"{subject}.kept", "before-restart")[0] == 0
    sh(host, f"docker restart {nats['Id']}")
    after = wait_healthy(host)
    assert after["Id"] == nats["Id"] and after["RestartCount"] == nats["RestartCount"]
    rc, out = probe("consume", stream, f"{subject}.>", "-durable", "after", "-timeout", "2s")
    assert rc == 0 and [m["data"] for m in out["messages"]] == ["before-restart"], out


# --- converges: config change recreates, nothing else does --------------------------------------
# The converges below skip the docker_host role's tasks (nothing here concerns the engine), which halves their time.
LABEL = "com.commandcenter.config-hash"


@pytest.fixture()
def converge_nats(converge):
    def _run(extra_vars: dict | None = None):
        return converge("--skip-tags", "docker_host", extra_vars=extra_vars)
    return _run


def test_live_settable_change_under_load_keeps_the_container(host, converge_nats, probe, nats, hostvars):
    """max_payload and max_connections under load, then a password in the accounts file: reloads, no restart.

    JetStream publishes as the application (a new connection each time) run through the
    limits' converge: not one is lost, the container is not recreated or restarted (same
    Id and StartedAt), and the play names what the server took live. A reload can reset a
    connection in the middle of its handshake (nats.go: "expected 'PONG', got 'PING'", or
    EOF, at the connect stage): the load's client then connects once more, as the
    application's reconnecting client does; the resets are counted and printed, and must
    stay few. A publish that fails after that, or at any later stage, fails the test. The
    accounts file is reloaded in a converge of its own.
    """
    name = nats["Name"].lstrip("/")
    before = container_run_id(host, name)
    assert probe("stream-add", "LOAD", "load.>")[0] == 0
    limits = {"nats_max_payload": "2MB", "nats_max_connections": 2000}
    password_file, resets_dir = "/root/.cc-test-nats-app-password", "/root/.cc-test-nats-load"
    put_root_file(password_file, hostvars["nats_app_password"])
    host.run(f"rm -rf {resets_dir} && mkdir -m 0700 {resets_dir}")
    publish = ("nats-probe -s nats://nats:4222 -timeout 5s -user commandcenter -password-file /run/secrets/pw"
               " publish load.x payload")
    client = (f"out=$({publish} 2>&1) || case \"$out\" in (*'\"stage\":\"connect\"'*) echo \"$out\" >>/load/resets;"
              f" {publish};; (*) echo \"$out\"; false;; esac")
    load = BoundedLoad(host, nats["Config"]["Image"], "data", client,
                       mounts=(f"{password_file}:/run/secrets/pw:ro", f"{resets_dir}:/load"), interval=0.2)
    try:
        run = converge_nats(extra_vars=limits)
    finally:
        ok, failed, log = load.stop()
        resets = host.run(f"cat {resets_dir}/resets 2>/dev/null").stdout.splitlines()
        host.run(f"rm -rf {password_file} {resets_dir}")
    print(f"live change under load: {ok} publishes ok, {failed} failed; {len(resets)} connections reset in their"
          " handshake by the reload and made again")
    assert run.returncode == 0, run.output[-4000:]
    output = " ".join(run.output.split())
    assert "cc-nats: applied live, no restart: nats (max_payload, max_connections)" in output, output[-4000:]
    assert "a restart is needed" not in output
    assert failed == 0 and ok > 20, log[-2000:]
    assert len(resets) <= max(3, ok // 10), "more than a few handshakes reset:\n" + "\n".join(resets[:5])
    assert all('"stage":"connect"' in line for line in resets), resets[:5]
    assert container_run_id(host, name) == before, "nats was restarted"
    rc, out = probe("connect")
    assert rc == 0 and out["max_payload"] == 2 * MB, out

    rotated = "cc-test-rotated-monitor-7f3a9c2e"
    live = {**limits, "nats_monitor_password": rotated}
    run = converge_nats(extra_vars=live)
    assert run.returncode == 0, run.output[-4000:]
    assert "cc-nats: applied live, no restart: nats (auth.conf)" in " ".join(run.output.split()), run.output[-4000:]
    assert container_run_id(host, name) == before, "nats was restarted"
    assert probe("connect", as_user="monitor", password=rotated)[0] == 0
    assert probe("connect", as_user="monitor")[0] != 0, "the old monitoring password still works"
    again = converge_nats(extra_vars=live)
    assert again.returncode == 0 and again.changed == 0, again.output[-4000:]

    back = converge_nats()
    assert back.returncode == 0, back.output[-4000:]
    assert container_run_id(host, name) == before
    assert probe("connect")[1]["max_payload"] == MB


def test_restart_only_change_is_reported_and_keeps_the_data(host, converge_nats, probe, nats, hostvars):
    """JetStream's limits cannot be reloaded: nats is recreated, the play says why, the stream survives."""
    stream, subject = f"C{uuid.uuid4().hex[:8].upper()}", f"recreate.{uuid.uuid4().hex[:8]}"
    assert probe("stream-add", stream, f"{subject}.>")[0] == 0
    assert probe("publish", f"{subject}.kept", "before-recreate")[0] == 0

    was = hostvars["nats_jetstream_max_memory"]
    run = converge_nats(extra_vars={"nats_jetstream_max_memory": "256MB"})
    assert run.returncode == 0, run.output[-4000:]
    output = " ".join(run.output.split())
    assert f"cc-nats: a restart is needed for nats: max_memory_store {was} -> 256MB" in output, output[-4000:]
    assert "applied live" not in output, "a recreated server read its files at start: nothing to apply live"
    changed = container(host)
    assert changed["Id"] != nats["Id"], "a JetStream limit change must recreate nats"
    assert changed["Config"]["Labels"][LABEL] != nats["Config"]["Labels"][LABEL]
    assert changed["State"]["Health"]["Status"] == "healthy"
    rc, out = probe("consume", stream, f"{subject}.>", "-durable", "after", "-timeout", "2s")
    assert rc == 0 and [m["data"] for m in out["messages"]] == ["before-recreate"], out

    # The same variables again: nothing changes, nothing is recreated.
    run = converge_nats(extra_vars={"nats_jetstream_max_memory": "256MB"})
    assert run.returncode == 0 and run.changed == 0, run.output[-4000:]
    assert container(host)["Id"] == changed["Id"], "a converge without changes must not recreate nats"


def test_opt_in_publish_binds_loopback_only(host, converge_nats, probe, nats):
    """Also brings the JetStream limit back to the scenario's value; the last converge restores the rest."""
    run = converge_nats(extra_vars={"nats_publish_port": True})
    assert run.returncode == 0, run.output[-4000:]
    try:
        published = container(host)
        assert published["Id"] != nats["Id"]
        assert published["HostConfig"]["PortBindings"] == {"4222/tcp": [{"HostIp": "127.0.0.1", "HostPort": "4222"}]}
        # Reachable from the host's loopback, and still password-protected there.
        rc, out = probe("connect", server="nats://127.0.0.1:4222", network="host", as_user=None)
        assert rc == 2 and "authorization violation" in out["error"].lower(), out
        rc, out = probe("connect", server="nats://127.0.0.1:4222", network="host")
        assert rc == 0 and out["jetstream"] is True and out["max_payload"] == 1 * MB, out
    finally:
        run = converge_nats()
    assert run.returncode == 0, run.output[-4000:]
    restored = container(host)
    assert not restored["HostConfig"]["PortBindings"]
    assert restored["State"]["Health"]["Status"] == "healthy"
