# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""nats: the role's templates, rendered with the defaults and with inventories/local,
checked by the programs that read them.

- nats-server.conf + auth.conf: `nats-server -t` from the offline image, with the very
  commands the role's `validate:` runs (vars/main.yml `_nats_check`, `_nats_check_auth`),
  and a broken config is refused by the same check (it is not a no-op);
- the rendered pair really runs: nats-server starts on it (no network) and, with
  nats-probe, the app user gets in with JetStream, anonymous and wrong passwords do not;
- bcrypt hashes are stable from run to run (idempotent converges), and the config-hash
  label moves with the config and the passwords only;
- nats-monitor.cfg (the proxy that lets the monitoring network read NATS's health):
  `haproxy -c` with the role's own check, and the proxy really forwards /healthz, /varz,
  /jsz and refuses everything else, in front of a running nats-server;
- compose.yml: its hardening and networks (nats-server on data only) read from the YAML, and `docker compose config -q` when this
  machine's docker has the compose plugin (skipped otherwise, saying so);
- the backup user (nats_backup_password set): a snapshot of every stream and a restore
  with that user alone, over the raw NATS protocol (a stdlib client run in
  commandcenter/toolbox:trixie, in the server's network namespace), and the refusal of
  everything else (a plain publish, consumers, message gets, stream changes).

Needs Docker and commandcenter/nats:2.10 (`make images`); skipped with the reason without them.
"""
from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from conftest import JSON_FILE_LOGGING, RENDER_HOST_KEY, compose_config, needs_images

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "nats"
IMAGE = "commandcenter/nats:2.10"
# The nats-monitor proxy's offline image (inventories/local's nats_monitor_proxy_image).
HAPROXY_IMAGE = "commandcenter/haproxy:3.0"
# The raw-protocol client of the backup round trip runs in it (python3, stdlib only).
TOOLBOX = "commandcenter/toolbox:trixie"
# Test-only secrets for the "defaults" rendering (the role's defaults leave them empty).
TEST_SECRETS = {"nats_app_password": "r3nd3r-app-Vt8qL2xK9m", "nats_monitor_password": "r3nd3r-mon-Pz5wN7cR3j"}
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml",
                   ROOT / "inventories/local/group_vars/all/nats.yml"]
AUTH_ON_HOST = "/opt/commandcenter/nats/config/auth.conf"
# The backup user's password for the "backup" rendering (the role's default: no backup user).
BACKUP_PASSWORD = "r3nd3r-bak-Jc4nM8sT2w"


pytestmark = needs_images(IMAGE)


def render(tmp_path: Path, *, inventory: bool, extra: dict | None = None, host_key: str = RENDER_HOST_KEY) -> Path:
    """Render the role's templates with ansible-playbook (connection local) into a fresh directory.

    Precedence as in a real run: role defaults, then the inventory (when asked), then
    `extra`, with the role's vars/main.yml for the internal variables; `host_key` is the
    stack role's fact stack_host_key (the host's /opt/commandcenter/secrets/host.key).
    """
    work = tmp_path / f"render-{uuid.uuid4().hex[:6]}"
    out = work / "out"
    out.mkdir(parents=True)
    # The play's directory must offer templates/ to the role's own template lookups (config-hash).
    (work / "templates").symlink_to(ROLE / "templates")
    (work / "host-key.yml").write_text(yaml.safe_dump({"stack_host_key": host_key}))
    vars_files = [str(ROLE / "defaults" / "main.yml"), str(work / "host-key.yml")]
    if inventory:
        vars_files += [str(p) for p in LOCAL_INVENTORY]
    else:
        (work / "secrets.yml").write_text(yaml.safe_dump(TEST_SECRETS))
        vars_files.append(str(work / "secrets.yml"))
    if extra:
        (work / "extra.yml").write_text(yaml.safe_dump(extra))
        vars_files.append(str(work / "extra.yml"))
    vars_files.append(str(ROLE / "vars" / "main.yml"))
    play = [{
        "name": "Render the nats role's templates", "hosts": "localhost", "gather_facts": False,
        "vars_files": vars_files,
        "tasks": [
            {"name": "Render the templates", "ansible.builtin.template": {
                "src": "templates/{{ item }}", "dest": f"{out}/{{{{ item | regex_replace('[.]j2$', '') }}}}",
                "mode": "0644"}, "loop": ["compose.yml.j2", "nats-server.conf.j2", "auth.conf.j2", "nats-monitor.cfg.j2"]},
            {"name": "Write the derived values", "ansible.builtin.copy": {
                "content": "{{ {'config_hash': _nats_config_hash, 'live': _nats_live_hash, 'parts': _nats_live_parts, 'gomemlimit': _nats_gomemlimit,"
                           " 'check': _nats_check, 'check_auth': _nats_check_auth, 'image': nats_image,"
                           " 'monitor_check': _nats_monitor_proxy_check, 'monitor_image': nats_monitor_proxy_image,"
                           " 'monitor_hash': _nats_monitor_proxy_hash} | to_json }}",
                "dest": f"{out}/derived.json", "mode": "0644"}},
        ],
    }]
    (work / "render.yml").write_text(json.dumps(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         "-e", f"ansible_python_interpreter={sys.executable}", str(work / "render.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return out


def derived(out: Path) -> dict:
    return json.loads((out / "derived.json").read_text())


def role_check(out: Path, which: str, conf: Path | None = None) -> subprocess.CompletedProcess:
    """The role's own validate command, pointed at the rendered files and the local image."""
    d = derived(out)
    command = d["check" if which == "config" else "check_auth"]
    target = conf or out / ("nats-server.conf" if which == "config" else "auth.conf")
    command = (command.replace("%s", str(target)).replace(AUTH_ON_HOST, str(out / "auth.conf"))
               .replace(d["image"], IMAGE).replace("--pull missing", "--pull never"))
    return subprocess.run(shlex.split(command), capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """Every rendering the tests read, made once: defaults, local inventory and variants of the defaults."""
    base = tmp_path_factory.mktemp("nats")
    return {
        "defaults": render(base, inventory=False),
        "local-inventory": render(base, inventory=True),
        "defaults-again": render(base, inventory=False),
        "max-payload": render(base, inventory=False, extra={"nats_max_payload": "2MB"}),
        "new-password": render(base, inventory=False,
                               extra={"nats_app_password": "r3nd3r-app-rotated-4Kd9"}),
        "unrelated": render(base, inventory=False, extra={"nats_health_timeout": 30, "nats_publish_port": True}),
        "js-memory": render(base, inventory=False, extra={"nats_jetstream_max_memory": "256MB"}),
        "other-host-key": render(base, inventory=False, host_key="another-host-key-9d2e6f1a7c3b5e8d"),
        "backup": render(base, inventory=False, extra={"nats_backup_password": BACKUP_PASSWORD}),
    }


@pytest.mark.parametrize("which", ["defaults", "local-inventory"])
def test_nats_server_accepts_the_rendered_config_and_accounts(renders, which):
    out = renders[which]
    for part in ("auth", "config"):
        proc = role_check(out, part)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "is valid" in proc.stderr


def test_the_check_refuses_a_broken_config(renders, tmp_path):
    out = renders["defaults"]
    broken = tmp_path / "broken.conf"
    broken.write_text((out / "nats-server.conf").read_text().replace("max_payload:", "max_paylaod:"))
    broken.chmod(0o644)
    proc = role_check(out, "config", conf=broken)
    assert proc.returncode != 0
    assert 'unknown field "max_paylaod"' in proc.stderr, proc.stderr


@pytest.mark.parametrize("which", ["defaults", "local-inventory"])
def test_accounts_hold_bcrypt_hashes_not_passwords(renders, which):
    out = renders[which]
    auth = (out / "auth.conf").read_text()
    secrets = TEST_SECRETS if which == "defaults" else {
        k: yaml.safe_load(LOCAL_INVENTORY[1].read_text())[k] for k in TEST_SECRETS}
    for name, value in secrets.items():
        assert value not in auth, f"{name} in clear text"
    assert auth.count('password: "$2b$11$') == 2
    assert '{user: "commandcenter", password:' in auth and '{user: "monitor", password:' in auth
    assert "system_account: SYS" in auth and "jetstream: enabled" in auth
    conf = (out / "nats-server.conf").read_text()
    assert "no_auth_user" not in conf.replace("There is no\n# no_auth_user", "")
    for line in ('listen: "0.0.0.0:4222"', 'http: "0.0.0.0:8222"', "max_payload: 1MB", "max_connections: 1024",
                 'store_dir: "/data"', "max_memory_store: 128MB", "max_file_store: 2GB", "include ./auth.conf"):
        assert line in conf, line


def test_hashes_and_config_hash_are_stable_and_move_only_with_their_inputs(renders):
    """The label moves with restart-only settings only; reloadable ones move the live part instead."""
    first, again = renders["defaults"], renders["defaults-again"]
    assert (first / "auth.conf").read_text() == (again / "auth.conf").read_text(), "bcrypt salt must be stable"
    hashes = {name: derived(out)["config_hash"] for name, out in renders.items()}
    live = {name: derived(out)["live"] for name, out in renders.items()}
    parts = {name: derived(out)["parts"] for name, out in renders.items()}
    assert hashes["defaults"] == hashes["defaults-again"] and live["defaults"] == live["defaults-again"]
    # max_payload and a password are reloaded: same label, a new live hash; only an accounts
    # change is named by the role (auth.conf): the reload script names the limits itself.
    assert hashes["max-payload"] == hashes["new-password"] == hashes["defaults"]
    assert live["max-payload"] != live["defaults"] and live["new-password"] != live["defaults"]
    assert list(parts["defaults"]) == ["auth.conf"]
    assert parts["max-payload"]["auth.conf"] == parts["defaults"]["auth.conf"]
    assert parts["new-password"]["auth.conf"] != parts["defaults"]["auth.conf"]
    assert (renders["new-password"] / "nats-server.conf").read_text() == (first / "nats-server.conf").read_text()
    # A published port and a JetStream limit need a restart: a new label.
    assert hashes["unrelated"] != hashes["defaults"]
    assert hashes["js-memory"] != hashes["defaults"]


def test_salts_come_from_the_host_key_not_the_host_name(renders):
    """Another host key (another host) salts the same passwords differently; nothing names the host."""
    first, other = renders["defaults"], renders["other-host-key"]
    assert (other / "auth.conf").read_text() != (first / "auth.conf").read_text()
    assert derived(other)["config_hash"] != derived(first)["config_hash"]
    assert 'server_name: "cc-nats"' in (first / "nats-server.conf").read_text()
    for name in ("nats-server.conf", "auth.conf", "compose.yml"):
        assert "localhost" not in (first / name).read_text(), f"{name} names the inventory host"


def test_the_rendered_pair_runs_and_only_the_users_get_in(renders):
    """nats-server started on the rendered files as the role runs it (uid 1000, read-only, no
    capabilities; no network), probed from inside its container."""
    out = renders["defaults"]
    name = f"cc-nats-render-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", "none", "--user", "1000:1000",
                    "--read-only", "--tmpfs", "/data:uid=1000,gid=1000,mode=0700", "--cap-drop", "ALL",
                    "-v", f"{out / 'nats-server.conf'}:/etc/nats/nats-server.conf:ro",
                    "-v", f"{out / 'auth.conf'}:/etc/nats/auth.conf:ro", IMAGE,
                    "--config", "/etc/nats/nats-server.conf"], check=True, capture_output=True)

    def probe(*args: str, user: str | None = None, password: str = "") -> tuple[int, dict]:
        cmd = ["docker", "exec", "-i", name, "nats-probe", "-timeout", "3s"]
        if user:
            cmd += ["-user", user, "-password-file", "-"]
        proc = subprocess.run(cmd + list(args), input=password + "\n", capture_output=True, text=True, check=False)
        return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}

    try:
        deadline = time.monotonic() + 20
        while (result := probe("connect", user="commandcenter", password=TEST_SECRETS["nats_app_password"]))[0]:
            assert time.monotonic() < deadline, (result, subprocess.run(
                ["docker", "logs", name], capture_output=True, text=True, check=False).stderr[-2000:])
            time.sleep(0.5)
        assert result[1]["jetstream"] is True and result[1]["max_payload"] == 1024 * 1024
        assert probe("stream-add", "RENDER", "render.>", user="commandcenter",
                     password=TEST_SECRETS["nats_app_password"])[0] == 0
        rc, out_doc = probe("connect")
        assert rc == 2 and "Authorization Violation" in out_doc["error"]
        rc, out_doc = probe("connect", user="commandcenter", password=TEST_SECRETS["nats_monitor_password"])
        assert rc == 2 and "Authorization Violation" in out_doc["error"]
        rc, out_doc = probe("request", "$SYS.REQ.SERVER.PING", user="monitor",
                            password=TEST_SECRETS["nats_monitor_password"])
        assert rc == 0 and out_doc["reply"]["server"]["jetstream"] is True
        health = subprocess.run(["docker", "exec", name, "wget", "-q", "-O", "-",
                                 "http://127.0.0.1:8222/healthz?js-enabled-only=true"],
                                capture_output=True, text=True, check=False)
        assert json.loads(health.stdout) == {"status": "ok"}
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


@pytest.mark.parametrize("which", ["defaults", "local-inventory", "unrelated"])
def test_compose_file_is_hardened_and_holds_no_secret(renders, which):
    out = renders[which]
    text = (out / "compose.yml").read_text()
    secrets = TEST_SECRETS if which != "local-inventory" else {
        k: yaml.safe_load(LOCAL_INVENTORY[1].read_text())[k] for k in TEST_SECRETS}
    for value in secrets.values():
        assert value not in text
    compose = yaml.safe_load(text)
    nats = compose["services"]["nats"]
    assert nats["user"] == "1000:1000"
    assert nats["cap_drop"] == ["ALL"] and "cap_add" not in nats
    assert nats["security_opt"] == ["no-new-privileges:true"]
    assert nats["read_only"] is True and nats["restart"] == "unless-stopped"
    assert nats["mem_limit"] == "512m" and nats["cpus"] == 1.0
    assert nats["memswap_limit"] == nats["mem_limit"] and nats["pids_limit"] == 512
    assert nats["environment"] == {"GOMEMLIMIT": str(int(512 * 1024 * 1024 * 0.9))}
    assert nats["command"] == ["--config", "/etc/nats/nats-server.conf"]
    # The data network only: never monitoring, where Traefik is; nats-monitor is there for it.
    assert nats["networks"] == ["data"]
    assert compose["networks"] == {"data": {"name": "data", "external": True},
                                   "monitoring": {"name": "monitoring", "external": True}}
    monitor = compose["services"]["nats-monitor"]
    assert monitor["networks"] == ["data", "monitoring"] and "ports" not in monitor
    assert monitor["user"] == "99:99" and monitor["cap_drop"] == ["ALL"] and monitor["read_only"] is True
    assert monitor["security_opt"] == ["no-new-privileges:true"] and monitor["restart"] == "unless-stopped"
    assert monitor["mem_limit"] == monitor["memswap_limit"] == "32m" and monitor["pids_limit"] == 32
    assert monitor["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8404/"]
    assert monitor["labels"]["com.commandcenter.config-hash"] == derived(out)["monitor_hash"]
    assert monitor["volumes"] == [{"type": "bind", "source": "/opt/commandcenter/nats/monitor",
                                   "target": "/usr/local/etc/haproxy", "read_only": True,
                                   "bind": {"create_host_path": False}}]
    assert nats["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "-",
                                           "http://127.0.0.1:8222/healthz?js-enabled-only=true"]
    assert nats["logging"] == JSON_FILE_LOGGING
    assert nats["labels"]["com.commandcenter.config-hash"] == derived(out)["config_hash"]
    # The config directory (nats-server.conf and auth.conf), not single files: a reload sees new files.
    assert {"type": "bind", "source": "/opt/commandcenter/nats/config", "target": "/etc/nats",
            "read_only": True} in nats["volumes"]
    assert "secrets" not in nats and "secrets" not in compose
    assert compose["volumes"] == {"jetstream": {"external": True, "name": "cc-nats-data"}}
    assert {"type": "volume", "source": "jetstream", "target": "/data"} in nats["volumes"]
    if which == "unrelated":  # nats_publish_port: true
        assert nats["ports"] == ["127.0.0.1:4222:4222"]
    else:
        assert "ports" not in nats
    if which == "local-inventory":
        assert nats["image"] == "172.17.0.1:5000/commandcenter/nats:2.10"
    else:
        assert nats["image"] == "nats:2.10.27-alpine"
    if which == "local-inventory":
        assert monitor["image"] == "172.17.0.1:5000/commandcenter/haproxy:3.0"
    else:
        assert monitor["image"] == "haproxy:3.0.25-alpine"


def test_network_names_are_the_role_variables(tmp_path):
    """The Docker networks are named by nats_data_network and nats_monitoring_network; the
    compose file's keys stay data and monitoring."""
    out = render(tmp_path, inventory=False, extra={"nats_data_network": "cc-data", "nats_monitoring_network": "cc-mon"})
    compose = yaml.safe_load((out / "compose.yml").read_text())
    assert compose["networks"] == {"data": {"name": "cc-data", "external": True},
                                   "monitoring": {"name": "cc-mon", "external": True}}
    assert compose["services"]["nats"]["networks"] == ["data"]


def monitor_check(out: Path, conf: Path | None = None) -> subprocess.CompletedProcess:
    """The role's validate command of the nats-monitor proxy's haproxy.cfg, on the offline image."""
    d = derived(out)
    command = (d["monitor_check"].replace("%s", str(conf or out / "nats-monitor.cfg"))
               .replace(shlex.quote(d["monitor_image"]), HAPROXY_IMAGE).replace("--pull missing", "--pull never"))
    return subprocess.run(shlex.split(command), capture_output=True, text=True, check=False, timeout=60)


@needs_images(HAPROXY_IMAGE)
def test_monitor_proxy_config_is_checked_by_haproxy(renders, tmp_path):
    proc = monitor_check(renders["defaults"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    broken = tmp_path / "broken.cfg"
    broken.write_text((renders["defaults"] / "nats-monitor.cfg").read_text().replace("default_backend nats",
                                                                                     "default_backend nowhere"))
    proc = monitor_check(renders["defaults"], broken)
    assert proc.returncode != 0 and "nowhere" in proc.stdout + proc.stderr


@needs_images(HAPROXY_IMAGE)
def test_monitor_proxy_forwards_the_health_endpoints_only(renders, tmp_path):
    """nats-server and the proxy as compose runs them (the proxy's uid, read-only), on a
    throw-away network: /healthz, /varz, /jsz answer through the proxy; /connz, other paths
    and other methods get 403; NATS's client port is not behind it."""
    out = renders["defaults"]
    conf_dir = tmp_path / "monitor"
    conf_dir.mkdir()
    conf_dir.chmod(0o755)
    (conf_dir / "haproxy.cfg").write_text((out / "nats-monitor.cfg").read_text())
    (conf_dir / "haproxy.cfg").chmod(0o644)
    tag = uuid.uuid4().hex[:8]
    network, server, proxy = f"cc-render-nats-{tag}", f"cc-render-nats-{tag}", f"cc-render-nats-monitor-{tag}"
    label = f"org.commandcenter.test={network}"

    def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=60)

    def request(method: str, path: str) -> str:
        """The status line the proxy answers with, from a client on the network."""
        proc = docker("run", "--rm", "--network", network, "--entrypoint", "sh", HAPROXY_IMAGE, "-c",
                      f"wget -S -q -O /dev/null {'--post-data=x ' if method == 'POST' else ''}"
                      f"'http://{proxy}:8222{path}' 2>&1 | grep -m1 'HTTP/'", check=False)
        return proc.stdout.strip()

    docker("network", "create", "--label", label, network)
    try:
        docker("run", "-d", "--name", server, "--label", label, "--network", network, "--network-alias", "nats",
               IMAGE, "-m", "8222")
        docker("run", "-d", "--name", proxy, "--label", label, "--network", network, "--user", "99:99",
               "--read-only", "--cap-drop", "ALL", "-v", f"{conf_dir}:/usr/local/etc/haproxy:ro",
               HAPROXY_IMAGE, "haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg")
        deadline = time.monotonic() + 30
        while "200" not in (status := request("GET", "/healthz")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "200 OK" in status, status + docker("logs", proxy, check=False).stderr
        for path in ("/healthz?js-enabled-only=true", "/varz", "/jsz"):
            assert "200 OK" in request("GET", path), path
        for method, path in (("GET", "/connz"), ("GET", "/subsz"), ("GET", "/"), ("GET", "/healthz/x"),
                             ("POST", "/healthz")):
            assert "403 Forbidden" in request(method, path), (method, path)
        health = docker("exec", proxy, "wget", "-q", "-O", "-", "http://127.0.0.1:8404/", check=False)
        assert health.returncode == 0 and health.stdout.strip() == "ok", health.stderr
    finally:
        for name in (proxy, server):
            docker("rm", "-f", name, check=False)
        docker("network", "rm", network, check=False)


@pytest.mark.parametrize("which", ["defaults", "local-inventory", "unrelated"])
def test_docker_compose_accepts_the_compose_file(renders, which):
    proc = compose_config(renders[which])
    assert proc.returncode == 0, proc.stderr


def test_offline_image_honours_the_upstream_contract():
    config = json.loads(subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config}}", IMAGE],
                                       capture_output=True, text=True, check=True).stdout)
    assert config["Entrypoint"] == ["docker-entrypoint.sh"]
    assert config["Cmd"] == ["nats-server", "--config", "/etc/nats/nats-server.conf"]
    assert set(config["ExposedPorts"]) == {"4222/tcp", "6222/tcp", "8222/tcp"}
    assert config["User"] == "nats"
    probe = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", IMAGE, "-c",
                            "id -u; id -g; stat -c '%u %a' /data; nats-server --version; command -v wget; command -v nats-probe;"
                            " docker-entrypoint.sh --version"],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    assert probe[:4] == ["1000", "1000", "1000 750", "nats-server: v2.10.27"], probe
    assert probe[4:6] == ["/usr/bin/wget", "/usr/local/bin/nats-probe"], probe
    assert probe[6] == "nats-server: v2.10.27", "a flag as first argument runs nats-server"


# --- the backup user ---------------------------------------------------------------------------
# What the backup role's tool does (JetStream API of nats-server 2.10, server/jetstream_api.go),
# on the raw NATS protocol: the client below runs in TOOLBOX, in the server's network namespace
# (`--network container:<server>`), as `python3 - COMMAND ARGS`, its source sent on stdin
# (backup_client_script: these definitions, by inspect.getsource). It prints one JSON document.

BACKUP_PERMISSIONS = {
    "publish": {"allow": ["$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST", "$JS.API.STREAM.INFO.*",
                          "$JS.API.STREAM.SNAPSHOT.*", "$JS.API.STREAM.RESTORE.*", "$JS.API.STREAM.DELETE.*",
                          "$JS.SNAPSHOT.ACK.>", "$JS.SNAPSHOT.RESTORE.>"]},
    "subscribe": {"allow": ["_INBOX.>"]},
}
# Streams of incompressible messages: BIG is above the server's snapshot window (8 MiB of
# chunks not yet acked), so its snapshot completes only if the acks are allowed and arrive.
SEED = {"streams": ["BIG", "SMALL"], "messages": {"BIG": 10, "SMALL": 3}, "size": 1_000_000}


class NatsDenied(Exception):
    """The server refused a publish or subscription (-ERR 'Permissions Violation ...')."""


class RawNats:
    """A NATS connection on the raw protocol: CONNECT, SUB, PUB, PING/PONG, MSG and HMSG."""

    def __init__(self, user, password, addr=("127.0.0.1", 4222)):
        self.sock = socket.create_connection(addr, timeout=15)
        self.buf = b""
        self.errors = []
        self.pending = []
        self.sid = 0
        self.count = 0
        self.inbox = "_INBOX." + os.urandom(8).hex()
        line = self._line()
        assert line.startswith(b"INFO "), line
        connect = {"verbose": False, "pedantic": False, "user": user, "pass": password, "headers": True,
                   "no_responders": True, "protocol": 1, "name": "render-test", "lang": "python-raw", "version": "0"}
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\n")
        if self.flush():
            raise ConnectionError(self.errors[0])
        self.sub(self.inbox + ".*")

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError(f"connection closed; errors: {self.errors}")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self, size):
        while len(self.buf) < size + 2:
            self._fill()
        data, self.buf = self.buf[:size], self.buf[size + 2:]
        return data

    def _next(self):
        """The next protocol item: ("PONG",), ("ERR",) or ("MSG", subject, reply, headers, payload, sid)."""
        while True:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
            elif line == b"PONG":
                return ("PONG",)
            elif line.startswith(b"-ERR"):
                self.errors.append(line[4:].decode().strip().strip("'"))
                return ("ERR",)
            elif not line.startswith((b"+OK", b"INFO")):
                parts = line.decode().split()
                if parts[0] == "MSG":  # MSG <subject> <sid> [reply] <size>
                    reply = parts[3] if len(parts) == 5 else None
                    return ("MSG", parts[1], reply, b"", self._read(int(parts[-1])), int(parts[2]))
                if parts[0] == "HMSG":  # HMSG <subject> <sid> [reply] <header size> <total size>
                    reply = parts[3] if len(parts) == 6 else None
                    data = self._read(int(parts[-1]))
                    return ("MSG", parts[1], reply, data[:int(parts[-2])], data[int(parts[-2]):], int(parts[2]))
                raise ValueError(line)

    def flush(self):
        """PING and read to its PONG, keeping the messages; the errors that came on the way."""
        before = len(self.errors)
        self.sock.sendall(b"PING\r\n")
        while (item := self._next())[0] != "PONG":
            if item[0] == "MSG":
                self.pending.append(item)
        return self.errors[before:]

    def sub(self, subject):
        self.sid += 1
        self.sock.sendall(f"SUB {subject} {self.sid}\r\n".encode())
        return self.sid

    def pub(self, subject, payload=b"", reply=None):
        self.sock.sendall(f"PUB {subject} {reply + ' ' if reply else ''}{len(payload)}\r\n".encode() + payload + b"\r\n")

    def wait(self, match, timeout=15, errors_from=None):
        """The next message to subject `match` (or of the subscription `match`, an int: a pull
        consumer's messages keep their own subjects); NatsDenied if a permission error comes first."""
        deadline = time.monotonic() + timeout
        field = 5 if isinstance(match, int) else 1
        while True:
            for i, item in enumerate(self.pending):
                if item[field] == match:
                    return self.pending.pop(i)
            if errors_from is not None and len(self.errors) > errors_from:
                raise NatsDenied(self.errors[errors_from])
            if time.monotonic() > deadline:
                raise TimeoutError(match)
            if (item := self._next())[0] == "MSG":
                self.pending.append(item)

    def request(self, subject, payload=b"", raw=False, timeout=15):
        self.count += 1
        reply = f"{self.inbox}.{self.count}"
        before = len(self.errors)
        self.pub(subject, payload if isinstance(payload, bytes) else json.dumps(payload).encode(), reply)
        msg = self.wait(reply, timeout, errors_from=before)
        if msg[3].startswith(b"NATS/1.0 503"):
            raise NatsDenied(f"no responders: {subject}")
        return msg if raw else json.loads(msg[4])


def js_api(conn, subject, payload=b""):
    """A JetStream API request whose response must not be an error."""
    resp = conn.request(subject, payload)
    if "error" in resp:
        raise RuntimeError(f"{subject}: {resp['error']}")
    return resp


def raw_connect(who):
    return RawNats(os.environ[f"NATS_{who}_USER"], os.environ[f"NATS_{who}_PASSWORD"])


def client_seed(streams, messages, size):
    """As the application: file streams of random messages, a durable consumer that acked two."""
    app = raw_connect("APP")
    out = {}
    for name in streams:
        config = {"name": name, "subjects": [f"{name.lower()}.>"], "storage": "file", "num_replicas": 1}
        js_api(app, f"$JS.API.STREAM.CREATE.{name}", config)
        hashes = []
        for i in range(messages[name]):
            data = os.urandom(size)
            assert js_api(app, f"{name.lower()}.m{i}", data)["seq"] == i + 1
            hashes.append(hashlib.sha256(data).hexdigest())
        js_api(app, f"$JS.API.CONSUMER.DURABLE.CREATE.{name}.worker",
               {"stream_name": name, "config": {"durable_name": "worker", "ack_policy": "explicit"}})
        batch = f"_INBOX.{os.urandom(8).hex()}"
        sid = app.sub(batch)
        app.pub(f"$JS.API.CONSUMER.MSG.NEXT.{name}.worker", json.dumps({"batch": 2}).encode(), batch)
        for _ack in range(2):
            app.pub(app.wait(sid)[2], b"+ACK")
        assert not app.flush()
        out[name] = hashes
    return out


def client_backup_and_restore(chunk):
    """As the backup user: a snapshot of every stream (acking each chunk), then each stream
    deleted and restored from its snapshot."""
    conn = raw_connect("BACKUP")
    result = {"account_streams": js_api(conn, "$JS.API.INFO")["streams"], "streams": {},
              "names": sorted(js_api(conn, "$JS.API.STREAM.NAMES", {"offset": 0})["streams"]),
              "listed": sorted(s["config"]["name"] for s in
                               js_api(conn, "$JS.API.STREAM.LIST", {"offset": 0})["streams"])}
    snapshots = {}
    for name in result["names"]:
        info = js_api(conn, f"$JS.API.STREAM.INFO.{name}")
        deliver = f"_INBOX.{os.urandom(8).hex()}"
        sid = conn.sub(deliver)
        conn.flush()
        resp = js_api(conn, f"$JS.API.STREAM.SNAPSHOT.{name}", {"deliver_subject": deliver, "chunk_size": chunk})
        data, acks = [], []
        while (msg := conn.wait(sid, timeout=30))[4]:
            data.append(msg[4])
            if msg[2]:  # the ack: $JS.SNAPSHOT.ACK.<stream>.<id>.<size>.<n>, the server's flow control
                conn.pub(msg[2])
                acks.append(msg[2])
        # The end: an empty message, status 204 (408 when the flow control or the interest was lost).
        snapshots[name] = (resp["config"], resp["state"], b"".join(data))
        result["streams"][name] = {"messages": info["state"]["messages"], "chunks": len(data), "acks": len(acks),
                                   "ack_subject": acks[0] if acks else "", "bytes": len(snapshots[name][2]),
                                   "status": msg[3].split(b"\r\n")[0].decode()}
    for name, (config, state, data) in snapshots.items():
        assert js_api(conn, f"$JS.API.STREAM.DELETE.{name}")["success"] is True
        deliver = js_api(conn, f"$JS.API.STREAM.RESTORE.{name}", {"config": config, "state": state})["deliver_subject"]
        for i in range(0, len(data), chunk):
            assert not conn.request(deliver, data[i:i + chunk], raw=True)[4]
        done = js_api(conn, deliver, b"")  # the end of the upload: the restored stream's info
        result["streams"][name].update(restore_subject=deliver, restored_messages=done["state"]["messages"])
    result["errors"] = conn.errors + conn.flush()
    return result


def client_verify(streams):
    """As the application: every message of every stream, and its consumer's state."""
    app = raw_connect("APP")
    out = {}
    for name in streams:
        info = js_api(app, f"$JS.API.STREAM.INFO.{name}")
        hashes = [hashlib.sha256(base64.b64decode(
            js_api(app, f"$JS.API.STREAM.MSG.GET.{name}", {"seq": seq})["message"]["data"])).hexdigest()
            for seq in range(1, info["state"]["messages"] + 1)]
        consumer = js_api(app, f"$JS.API.CONSUMER.INFO.{name}.worker")
        out[name] = {"hashes": hashes, "ack_floor": consumer["ack_floor"]["stream_seq"],
                     "num_pending": consumer["num_pending"]}
    return out


def client_denied(stream):
    """As the backup user: everything but a backup and restore, each refused; the connection still serves."""
    conn, app = raw_connect("BACKUP"), raw_connect("APP")
    app.sub("orders.>")
    app.flush()
    conn.pub("orders.created", b"from-backup")
    out = {"publish orders.created": conn.flush()}
    app.flush()
    out["the application received"] = [m[1] for m in app.pending]
    attempts = {
        "consumer create": (f"$JS.API.CONSUMER.CREATE.{stream}.peek",
                            {"stream_name": stream, "config": {"name": "peek", "ack_policy": "none"}}),
        "durable create": (f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.peek",
                           {"stream_name": stream, "config": {"durable_name": "peek", "ack_policy": "none"}}),
        "pull from the application's consumer": (f"$JS.API.CONSUMER.MSG.NEXT.{stream}.worker", {"batch": 1}),
        "message get": (f"$JS.API.STREAM.MSG.GET.{stream}", {"seq": 1}),
        "direct get": (f"$JS.API.DIRECT.GET.{stream}", {"seq": 1}),
        "stream create": ("$JS.API.STREAM.CREATE.EVIL", {"name": "EVIL", "subjects": ["orders.>"]}),
        "stream update": (f"$JS.API.STREAM.UPDATE.{stream}", {"name": stream, "subjects": ["orders.>"]}),
        "stream purge": (f"$JS.API.STREAM.PURGE.{stream}", {}),
    }
    for what, (subject, payload) in attempts.items():
        try:
            out[what] = f"allowed: {conn.request(subject, payload, timeout=5)}"
        except NatsDenied as exc:
            out[what] = str(exc)
    conn.sub(f"{stream.lower()}.>")
    out["subscribe to the stream's subjects"] = conn.flush()
    out["still serves"] = js_api(conn, "$JS.API.STREAM.NAMES", {"offset": 0})["streams"]
    return out


def backup_client_script() -> str:
    parts = [inspect.getsource(o) for o in (NatsDenied, RawNats, js_api, raw_connect, client_seed,
                                            client_backup_and_restore, client_verify, client_denied)]
    return ("import base64, hashlib, json, os, socket, sys, time\n\n\n" + "\n\n".join(parts)
            + "\n\ncommand, args = sys.argv[1], json.loads(sys.argv[2])\n"
            + "print(json.dumps(globals()['client_' + command](**args)))\n")


def test_backup_user_exists_only_with_a_password(renders):
    """Empty nats_backup_password (the default): no backup user; set: one more bcrypt user in the
    application account, with exactly the backup permissions, accepted by nats-server -t. It is
    reloaded like any accounts change: no new config-hash label."""
    assert '"backup"' not in (renders["defaults"] / "auth.conf").read_text()
    out = renders["backup"]
    auth = (out / "auth.conf").read_text()
    assert BACKUP_PASSWORD not in auth and auth.count('password: "$2b$11$') == 3
    app_account = auth.split("  SYS: {")[0]
    assert '{user: "backup", password: "$2b$11$' in app_account
    assert f"permissions: {json.dumps(BACKUP_PERMISSIONS)}" in app_account
    assert auth.count("permissions:") == 1, "only the backup user has limited permissions"
    for part in ("auth", "config"):
        proc = role_check(out, part)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert derived(out)["config_hash"] == derived(renders["defaults"])["config_hash"]
    assert derived(out)["parts"]["auth.conf"] != derived(renders["defaults"])["parts"]["auth.conf"]


@pytest.fixture(scope="module")
def backup_server(renders):
    """nats-server on the "backup" rendering (as the role runs it, no network), seeded by the application."""
    out = renders["backup"]
    name = f"cc-nats-render-backup-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", "none", "--user", "1000:1000",
                    "--read-only", "--tmpfs", "/data:uid=1000,gid=1000,mode=0700", "--cap-drop", "ALL",
                    "-v", f"{out / 'nats-server.conf'}:/etc/nats/nats-server.conf:ro",
                    "-v", f"{out / 'auth.conf'}:/etc/nats/auth.conf:ro", IMAGE,
                    "--config", "/etc/nats/nats-server.conf"], check=True, capture_output=True)

    def client(command: str, **args) -> dict:
        proc = subprocess.run(
            ["docker", "run", "--rm", "-i", "--network", f"container:{name}",
             "-e", "NATS_APP_USER=commandcenter", "-e", f"NATS_APP_PASSWORD={TEST_SECRETS['nats_app_password']}",
             "-e", "NATS_BACKUP_USER=backup", "-e", f"NATS_BACKUP_PASSWORD={BACKUP_PASSWORD}",
             TOOLBOX, "python3", "-", command, json.dumps(args)],
            input=backup_client_script(), capture_output=True, text=True, check=False, timeout=180)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["docker", "exec", name, "wget", "-q", "-O", "/dev/null",
                              "http://127.0.0.1:8222/healthz?js-enabled-only=true"], capture_output=True,
                             check=False).returncode:
            assert time.monotonic() < deadline, subprocess.run(["docker", "logs", name], capture_output=True,
                                                               text=True, check=False).stderr[-2000:]
            time.sleep(0.3)
        client.seeded = client("seed", **SEED)
        yield client
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


@needs_images(TOOLBOX)
def test_backup_user_snapshots_and_restores_every_stream(backup_server):
    """With the backup user alone: names, list, info, a snapshot of each stream (chunks acked),
    then delete and restore; the application then reads every message back, and its durable
    consumer's state (2 acked) came back with the stream."""
    result = backup_server("backup_and_restore", chunk=128 * 1024)
    assert result["errors"] == [], result["errors"]
    assert result["names"] == result["listed"] == sorted(SEED["streams"]) and result["account_streams"] == 2
    for name, stream in result["streams"].items():
        assert stream["status"] == "NATS/1.0 204", stream
        assert stream["messages"] == stream["restored_messages"] == SEED["messages"][name], stream
        assert stream["acks"] >= stream["chunks"] - 1 and stream["ack_subject"].startswith(f"$JS.SNAPSHOT.ACK.{name}.")
        assert stream["restore_subject"].startswith(f"$JS.SNAPSHOT.RESTORE.{name}.")
    # Above the server's 8 MiB window of unacked chunks: the snapshot went on because the acks came.
    assert result["streams"]["BIG"]["bytes"] > 8 * 1024 * 1024
    after = backup_server("verify", streams=SEED["streams"])
    for name, hashes in backup_server.seeded.items():
        assert after[name]["hashes"] == hashes, f"{name}: messages differ after the restore"
        assert (after[name]["ack_floor"], after[name]["num_pending"]) == (2, len(hashes) - 2), after[name]


@needs_images(TOOLBOX)
def test_backup_user_cannot_publish_consume_or_change_streams(backup_server):
    out = backup_server("denied", stream="BIG")
    assert out.pop("publish orders.created") == ['Permissions Violation for Publish to "orders.created"']
    assert out.pop("the application received") == []
    assert out.pop("subscribe to the stream's subjects") == ['Permissions Violation for Subscription to "big.>"']
    assert sorted(out.pop("still serves")) == sorted(SEED["streams"])
    subjects = {"consumer create": "$JS.API.CONSUMER.CREATE.BIG.peek",
                "durable create": "$JS.API.CONSUMER.DURABLE.CREATE.BIG.peek",
                "pull from the application's consumer": "$JS.API.CONSUMER.MSG.NEXT.BIG.worker",
                "message get": "$JS.API.STREAM.MSG.GET.BIG", "direct get": "$JS.API.DIRECT.GET.BIG",
                "stream create": "$JS.API.STREAM.CREATE.EVIL", "stream update": "$JS.API.STREAM.UPDATE.BIG",
                "stream purge": "$JS.API.STREAM.PURGE.BIG"}
    assert out == {what: f'Permissions Violation for Publish to "{subject}"' for what, subject in subjects.items()}
