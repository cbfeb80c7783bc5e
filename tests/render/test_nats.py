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
- compose.yml: its hardening read from the YAML, and `docker compose config -q` when this
  machine's docker has the compose plugin (skipped otherwise, saying so).

Needs Docker and commandcenter/nats:2.10 (`make images`); skipped with the reason without them.
"""
from __future__ import annotations

import json
import os
import shlex
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
# Test-only secrets for the "defaults" rendering (the role's defaults leave them empty).
TEST_SECRETS = {"nats_app_password": "r3nd3r-app-Vt8qL2xK9m", "nats_monitor_password": "r3nd3r-mon-Pz5wN7cR3j"}
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml",
                   ROOT / "inventories/local/group_vars/all/nats.yml"]
AUTH_ON_HOST = "/opt/commandcenter/nats/config/auth.conf"


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
                "mode": "0644"}, "loop": ["compose.yml.j2", "nats-server.conf.j2", "auth.conf.j2"]},
            {"name": "Write the derived values", "ansible.builtin.copy": {
                "content": "{{ {'config_hash': _nats_config_hash, 'live': _nats_live_hash, 'parts': _nats_live_parts, 'gomemlimit': _nats_gomemlimit,"
                           " 'check': _nats_check, 'check_auth': _nats_check_auth, 'image': nats_image} | to_json }}",
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
    assert nats["networks"] == ["commandcenter", "monitoring"]
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
