# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Testinfra helpers shared by every Molecule scenario.

Molecule's testinfra verifier runs pytest from the scenario directory with the
provisioner's environment (ANSIBLE_CONFIG, MOLECULE_*); pytest's rootdir is the
repository root, so this conftest applies to every scenario's tests.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
RECAP_RE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


@dataclass
class PlaybookRun:
    """The outcome of one ansible-playbook run against the scenario's hosts."""

    returncode: int
    output: str
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(counts.get("changed", 0) for counts in self.recap.values())

    @property
    def failed(self) -> int:
        return sum(counts.get("failed", 0) + counts.get("unreachable", 0) for counts in self.recap.values())


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """Per-host counters of the PLAY RECAP section."""
    recap_at = output.rfind("PLAY RECAP")
    recap = {}
    for match in RECAP_RE.finditer(output[recap_at:] if recap_at >= 0 else ""):
        recap[match["host"]] = {k: int(v) for k, v in (kv.split("=") for kv in match["counts"].split())}
    return recap


def run_playbook(playbook: str | os.PathLike, *args: str, extra_vars: dict | None = None,
                 timeout: int = 1800) -> PlaybookRun:
    """Run a playbook against the scenario's inventory with Molecule's ansible.cfg."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    cmd = ["ansible-playbook", "-i", str(inventory), str(playbook), *args]
    if extra_vars:
        cmd += ["--extra-vars", json.dumps(extra_vars)]
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env)
    output = ANSI_RE.sub("", proc.stdout + proc.stderr)
    return PlaybookRun(proc.returncode, output, parse_recap(output))


def platform_name() -> str:
    """The scenario's platform container (and inventory host): cc-<scenario>, or CC_PLATFORM
    (a scenario of several hosts names the one the helpers address: molecule/multihost)."""
    return os.environ.get("CC_PLATFORM") or f"cc-{os.environ['MOLECULE_SCENARIO_NAME']}"


# The passwords playbooks/rotate_secrets.yml rotates (rotate=all).
ROTATED_APP_PASSWORDS = ["postgres_pgvector_app_password", "redis_app_password", "nats_app_password"]


def replace_app_passwords() -> tuple[dict[str, str], dict[str, str]]:
    """Give each rotated app password a new random value where the local inventory keeps its
    generated secrets (its vault: <inventory>/.secrets/<variable>, mode 0600); return (old, new)."""
    directory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / ".secrets"
    old = {name: (directory / name).read_text().strip() for name in ROTATED_APP_PASSWORDS}
    new = {name: secrets.token_urlsafe(24) for name in ROTATED_APP_PASSWORDS}
    for name, value in new.items():
        (directory / name).write_text(value + "\n")
        (directory / name).chmod(0o600)
    return old, new


def scenario_hosts() -> list[str]:
    """Every host of the scenario's inventory: its platform containers."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    proc = subprocess.run(["ansible-inventory", "-i", str(inventory), "--list"], capture_output=True, text=True,
                          check=True)
    return sorted(json.loads(proc.stdout)["_meta"]["hostvars"])


def platform_address() -> str:
    """The platform container's address on the outer Docker network: how a client outside the host reaches it."""
    return subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                           platform_name()], capture_output=True, text=True, check=True).stdout.strip()


def tcp_state(address: str, port: int, timeout: float = 3.0) -> str:
    """'open', 'refused' or 'timeout' (dropped by a firewall) for a TCP connection from the runner."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"


def http_status_on_host(host, port: int) -> str:
    """The HTTP status of http://127.0.0.1:PORT/ as the platform host itself sees it (retried for 30 s; python3:
    the host has no curl). Empty when nothing answered."""
    script = ("import time, urllib.request\n"
              "for _ in range(30):\n"
              "    try:\n"
              f"        print(urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=2).status); break\n"
              "    except OSError:\n"
              "        time.sleep(1)\n")
    return host.run(f"python3 -c {shlex.quote(script)}").stdout.strip()


# A value the local inventory generates on first use (lookup('ansible.builtin.password', ...)):
# the tests need the generated value, not the template.
GENERATED_RE = re.compile(r"lookup\(\s*['\"](ansible\.builtin\.)?password['\"]")


class HostVars(dict):
    """Variables that hold secrets: pytest shows a failing test's arguments, so the repr
    names the variables, never their values."""

    def __repr__(self) -> str:
        return f"<host variables: {', '.join(sorted(self))}>"


def inventory_hostvars(host: str | None = None) -> dict:
    """The host's inventory variables, as written (templates NOT resolved: see host_var),
    except that the secrets the local inventory generates on first use are resolved, with
    one ad hoc call, to the values the plays use."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    name = host or platform_name()
    proc = subprocess.run(["ansible-inventory", "-i", str(inventory), "--host", name],
                          capture_output=True, text=True, check=True)
    hostvars = json.loads(proc.stdout)
    generated = sorted(k for k, v in hostvars.items() if isinstance(v, str) and GENERATED_RE.search(v))
    if generated:
        hostvars.update(resolved_vars(generated, name))
    return HostVars(hostvars)


def resolved_vars(names: list[str], host: str | None = None) -> dict:
    """Several variables of a host with their templates resolved, in one ad hoc call."""
    expression = "{{ {" + ", ".join(f"{n!r}: {n}" for n in names) + "} | to_json }}"
    rc, result, output = run_module("ansible.builtin.debug", {"msg": expression}, host=host)
    assert rc == 0 and "msg" in result, f"cannot resolve {names}: {output[-1000:]}"
    value = result["msg"]
    return json.loads(value) if isinstance(value, str) else value


def host_var(name: str):
    """One variable of the platform host with its templates resolved, as a play sees it."""
    rc, result, output = run_module("ansible.builtin.debug", {"var": name})
    assert rc == 0 and name in result, f"cannot read {name}: {output[-1000:]}"
    return result[name]


def dashboard_netrc(domain: str, user: str, password: str) -> str:
    """A netrc file's content: the dashboard credentials for traefik.DOMAIN and flower.DOMAIN,
    for `curl --netrc-file` (a password never goes on a command line)."""
    return "".join(f"machine {name}.{domain} login {user} password {password}\n" for name in ("traefik", "flower"))


def put_root_file(path: str, content: str) -> None:
    """A root-only file on the platform host, written through stdin (never on a command line)."""
    subprocess.run(["docker", "exec", "-i", platform_name(), "sh", "-c", f"umask 077; cat > {shlex.quote(path)}"],
                   input=content, text=True, check=True)


def run_module(module: str, args: dict, timeout: int = 900, host: str | None = None) -> tuple[int, dict, str]:
    """Run one module ad hoc on the scenario's host; return (rc, result dict, raw output)."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    host = host or platform_name()
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"}
    proc = subprocess.run(["ansible", "-i", str(inventory), host, "-m", module, "-a", json.dumps(args)],
                          capture_output=True, text=True, timeout=timeout, check=False, env=env)
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][host]
    except (ValueError, KeyError, IndexError):
        result = {}
    return proc.returncode, result, proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def converge_playbook() -> Path:
    """The playbook this scenario converges with (CC_CONVERGE_PLAYBOOK, set by the base config)."""
    return Path(os.environ["CC_CONVERGE_PLAYBOOK"])


@pytest.fixture(scope="session")
def converge(converge_playbook):
    """Run the scenario's converge playbook again, with extra arguments or variables."""
    def _run(*args: str, extra_vars: dict | None = None) -> PlaybookRun:
        return run_playbook(converge_playbook, *args, extra_vars=extra_vars)
    return _run


def sh(host, command: str, *args) -> str:
    """Run a command on the host, assert it succeeded, return its stripped stdout."""
    result = host.run(command, *args)
    assert result.rc == 0, f"{command % tuple(shlex.quote(str(a)) for a in args)} -> rc {result.rc}\n{result.stderr}"
    return result.stdout.strip()


def docker_json(host, *args: str):
    """`docker <args> --format json` on the host, parsed."""
    return json.loads(sh(host, "docker " + " ".join(shlex.quote(a) for a in args) + " --format '{{json .}}'"))


def container_run_id(host, name: str) -> str:
    """A container's Id and start time: both stay the same unless it was recreated or restarted."""
    return sh(host, f"docker inspect -f '{{{{.Id}}}} {{{{.State.StartedAt}}}}' {shlex.quote(name)}")


class BoundedLoad:
    """A client loop in a throw-away container on the platform's nested engine.

    `probe` is a shell command run over and over (every `interval` seconds) until
    `stop()` or `limit` seconds, whichever comes first, so the load ends by itself
    even when a test fails. Each run counts as ok (exit 0) or failed; the first few
    failures' output is kept (the probe must print no secret). It runs as root in the
    container (`user`), so it reads a root-only password file mounted into it.
    """

    def __init__(self, host, image: str, network: str, probe: str, mounts: tuple[str, ...] = (),
                 interval: float = 0.05, limit: int = 300, name: str = "cc-test-load", user: str = "0:0"):
        self.host, self.name, self.limit = host, name, limit
        self.interval = interval
        script = (
            f"end=$(( $(date +%s) + {int(limit)} )); ok=0; failed=0; "
            "while [ ! -e /tmp/stop ] && [ $(date +%s) -lt $end ]; do "
            f"  if out=$({probe} 2>&1); then ok=$((ok + 1)); "
            "  else failed=$((failed + 1)); [ $failed -le 5 ] && echo \"failure: $out\"; fi; "
            f"  sleep {interval}; "
            "done; echo \"ok=$ok failed=$failed\"; sleep 3600")
        mount_opts = " ".join(f"-v {shlex.quote(m)}" for m in mounts)
        host.run(f"docker rm -f {name}")
        sh(host, f"docker run -d --name {name} --user {user} --network {shlex.quote(network)} {mount_opts} "
                 f"--entrypoint sh {shlex.quote(image)} -c %s", script)

    def stop(self) -> tuple[int, int, str]:
        """Stop the loop; (ok, failed, failure output)."""
        self.host.run(f"docker exec {self.name} touch /tmp/stop")
        logs = ""
        for _ in range(60):
            logs = self.host.run(f"docker logs {self.name}").stdout
            match = re.search(r"^ok=(\d+) failed=(\d+)$", logs, re.MULTILINE)
            if match:
                self.host.run(f"docker rm -f {self.name}")
                return int(match[1]), int(match[2]), logs
            subprocess.run(["sleep", "1"], check=True)
        self.host.run(f"docker rm -f {self.name}")
        raise AssertionError(f"the load loop in {self.name} did not report: {logs[-2000:]}")


def wait_for(what: str, probe, timeout: float = 180, interval: float = 1):
    """Poll probe() until it returns something truthy and return that; fail naming `what`
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: nothing after {timeout} s"
        time.sleep(interval)


# A webhook receiver for alert tests (`python3 -c` in the toolbox image, on port 8080): each
# POST is appended to /tmp/hooks.jsonl as {at, path, body}.
WEBHOOK_SINK_SERVER = r"""
import http.server, json, time
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open('/tmp/hooks.jsonl', 'a') as out:
            out.write(json.dumps({'at': time.time(), 'path': self.path, 'body': json.loads(body)}) + '\n')
        self.send_response(200); self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(('', 8080), H).serve_forever()
"""


PROMETHEUS_CONTAINER = "cc-monitoring-prometheus-1"


def prometheus_api(host, path: str, **params: str):
    """GET Prometheus's HTTP API from inside its container (the image's wget): the parsed
    JSON. params are URL-encoded into the query string (PromQL needs it)."""
    url = f"http://127.0.0.1:9090{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    return json.loads(sh(host, f"docker exec {PROMETHEUS_CONTAINER} wget -q -O - {shlex.quote(url)}"))


def prometheus_query(host, expr: str) -> list:
    """An instant PromQL query's result (its series), asserting Prometheus answered it."""
    answer = prometheus_api(host, "/api/v1/query", query=expr)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


# The log configuration of every compose service with the default sizes: json-file,
# rotated, each line naming its container (tag) and compose project and service.
COMPOSE_LOG_CONFIG = {"Type": "json-file", "Config": {
    "max-size": "10m", "max-file": "3", "tag": "{{.Name}}",
    "labels": "com.docker.compose.project,com.docker.compose.service"}}
