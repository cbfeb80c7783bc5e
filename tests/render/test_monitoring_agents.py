# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: the per-host agents of cc-node (roles/monitoring/templates/compose-node.yml.j2):
node-exporter, the read-only Docker API proxy (templates/docker-api-proxy/haproxy.cfg.j2),
cAdvisor and the Grafana Alloy log shipper, rendered with every switch on, with the proxy
alone (as the Molecule scenario runs it) and with every switch off.

- `docker compose config` accepts every rendering, which has exactly the services its
  switches name (and the restart settings cover exactly those);
- no service but the proxy mounts Docker's socket or a directory that holds it (cAdvisor's
  recursive / has an empty tmpfs over /rootfs/run); the proxy is on the cc-node project's
  internal network only, with cAdvisor alone; cAdvisor has its alias and reaches Docker
  through the proxy; Alloy has no socket and reads the logs from read-only mounts;
- the rendered haproxy.cfg passes the role's own `haproxy -c` check in the offline image,
  and a broken one does not;
- the real proxy (the offline image, run as the rendering says, with this machine's Docker
  socket, on a throw-away internal network) answers the read calls cAdvisor makes with 200
  and refuses writes, exec, exfiltration (archive, export, logs) and every other endpoint
  with 403, and the container it was asked to stop or delete is still running;
- the privileges the rendering gives cAdvisor and Alloy, applied to a Debian stand-in:
  cAdvisor's reads work and it finds no socket, Alloy reads a json-file log without any
  capability and cannot write where it reads.

cAdvisor and Alloy themselves do not run here (no image, no package, no network to pull
one): the tests that would run them say so in their output.

Needs Docker and the images commandcenter/haproxy:3.0, commandcenter/toolbox:trixie,
commandcenter/debian:trixie (`make images`); skipped with the reason without them.
"""
from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import COMPOSE_IMAGE, JSON_FILE_LOGGING, needs_images

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
HAPROXY_IMAGE = "commandcenter/haproxy:3.0"
TOOLBOX_IMAGE = "commandcenter/toolbox:trixie"
DEBIAN_IMAGE = "commandcenter/debian:trixie"
SOCKET = "/var/run/docker.sock"
HOST = "node-1"
MACHINE = "machine-node-1"
PROXY, CADVISOR, ALLOY, NODE_EXPORTER = "docker-api-proxy", "cadvisor", "alloy", "node-exporter"

pytestmark = needs_images(HAPROXY_IMAGE, TOOLBOX_IMAGE, DEBIAN_IMAGE)

NOT_RUN_CADVISOR = ("NOT RUN: cAdvisor itself (no cAdvisor image or package on this machine, no network to pull "
                    "gcr.io/cadvisor/cadvisor); checked: its rendered service, its proxy for real, and its privileges "
                    "on a Debian stand-in")
NOT_RUN_ALLOY = ("NOT RUN: Grafana Alloy itself (no Alloy image or package on this machine, no network to pull "
                 "grafana/alloy); checked: its rendered service, its privileges on a Debian stand-in, and its "
                 "healthcheck command against a stand-in server")

# name -> the variables of the host (over the role's defaults).
VARIANTS = {
    "all-on": {"monitoring_cadvisor_enabled": True, "monitoring_logs_enabled": True},
    # As the Molecule scenario and inventories/local: cAdvisor and Alloy off, the proxy alone,
    # here from the local image name so that the role's own check command runs as rendered.
    "proxy-only": {"monitoring_cadvisor_enabled": False, "monitoring_logs_enabled": False,
                   "monitoring_docker_api_proxy_enabled": True, "monitoring_docker_api_proxy_image": HAPROXY_IMAGE},
    "all-off": {"monitoring_cadvisor_enabled": False, "monitoring_logs_enabled": False},
}
SERVICES = {
    "all-on": {NODE_EXPORTER, PROXY, CADVISOR, ALLOY},
    "proxy-only": {NODE_EXPORTER, PROXY},
    "all-off": {NODE_EXPORTER},
}


def docker(*args: str, check: bool = True, timeout: int = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    assert not check or proc.returncode == 0, f"docker {shlex.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def socket_gid() -> int:
    return os.stat(SOCKET).st_gid


def _render(tmp: Path) -> dict[str, Path]:
    """One ansible-playbook run: a play per variant renders cc-node's files on a Docker host
    whose gathered host name and Docker socket stat are stood in for."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    (tmp / "templates").symlink_to(ROLE / "templates")
    inventory = {"all": {"hosts": {HOST: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
                         "children": {"docker_hosts": {"hosts": {HOST: None}}}}}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    rendered = {
        "compose.yml": "{{ lookup('ansible.builtin.template', 'compose-node.yml.j2') }}",
        "haproxy.cfg": "{{ lookup('ansible.builtin.template', 'docker-api-proxy/haproxy.cfg.j2') }}",
        "config.alloy": "{{ lookup('ansible.builtin.template', 'alloy/config.alloy.j2') }}",
        "restart.json": "{{ _monitoring_node_restart_settings | to_json }}",
        "check-haproxy": "{{ _monitoring_check_haproxy }}",
    }
    plays = [{"name": "facts", "hosts": HOST, "gather_facts": False,
              "tasks": [{"name": "Stand in for the gathered host name and the stat of the socket (agents.yml)",
                         "ansible.builtin.set_fact": {
                             "ansible_facts": {"hostname": MACHINE},
                             "_monitoring_docker_socket_stat": {"stat": {"exists": True, "gid": socket_gid()}}}}]}]
    for name, host_vars in VARIANTS.items():
        (tmp / f"{name}.yml").write_text(yaml.safe_dump(host_vars))
        plays.append({"name": name, "hosts": HOST, "gather_facts": False,
                      "vars_files": [str(ROLE / "defaults" / "main.yml"), str(tmp / f"{name}.yml"),
                                     str(ROLE / "vars" / "main.yml")],
                      "vars": {"stack_host_key": "render-test-host-key"},
                      "tasks": [{"name": "Render", "ansible.builtin.debug": {"msg": rendered}}]})
    (tmp / "render.yml").write_text(json.dumps(plays))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inventory.yml"),
                           str(tmp / "render.yml")], capture_output=True, text=True, check=False, cwd=ROOT, env=env,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = {}
    for play in json.loads(proc.stdout)["plays"][1:]:
        work = tmp / play["play"]["name"]
        (work / "docker-api-proxy").mkdir(parents=True)
        (work / "alloy").mkdir()
        files = play["tasks"][0]["hosts"][HOST]["msg"]
        (work / "compose.yml").write_text(files["compose.yml"])
        (work / "docker-api-proxy" / "haproxy.cfg").write_text(files["haproxy.cfg"])
        (work / "alloy" / "config.alloy").write_text(files["config.alloy"])
        restart = files["restart.json"]
        (work / "restart.json").write_text(restart if isinstance(restart, str) else json.dumps(restart))
        (work / "check-haproxy").write_text(files["check-haproxy"])
        out[play["play"]["name"]] = work
    assert sorted(out) == sorted(VARIANTS)
    return out


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return _render(tmp_path_factory.mktemp("monitoring-agents"))


def compose(work: Path, *args: str) -> subprocess.CompletedProcess:
    """docker compose on a rendered project directory (mounted at the same path), as project cc-node."""
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{work}:{work}:ro", COMPOSE_IMAGE,
         "--project-directory", str(work), "-p", "cc-node", "-f", str(work / "compose.yml"), *args],
        capture_output=True, text=True, check=False, timeout=120)


@pytest.fixture(scope="module")
def configs(renders) -> dict[str, dict]:
    """`docker compose config` of every variant: the project as compose itself reads it."""
    out = {}
    for name, work in renders.items():
        proc = compose(work, "config", "--format", "json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out[name] = json.loads(proc.stdout)
    return out


def mounts(service: dict, kind: str = "bind") -> list[dict]:
    return [v for v in service.get("volumes", []) if v["type"] == kind]


def under(path: str, parent: str) -> bool:
    """Whether `path` is `parent` or inside it."""
    return path == parent or path.startswith(parent.rstrip("/") + "/")


# The host paths that lead to Docker's socket: the socket, the directories above it
# (/var/run is /run's symlink).
SOCKET_PATHS = ("/var/run/docker.sock", "/run/docker.sock")


def socket_exposures(service: dict) -> list[str]:
    """The bind mounts of a service that reach Docker's socket, unless a later mount (a
    tmpfs) covers the socket's directory inside the container."""
    covered = [m["target"] for m in service.get("volumes", []) if m["type"] == "tmpfs"]
    exposed = []
    for bind in mounts(service):
        for sock in SOCKET_PATHS:
            if under(sock, bind["source"]):
                inside = bind["target"].rstrip("/") + sock[len(bind["source"].rstrip("/")):]
                # /var/run/docker.sock through a bound / is /run's symlink: it resolves to the
                # container's own /run, not to the bound file system (checked for real below).
                if sock.startswith("/var/run/") and bind["source"] in ("/", "/var"):
                    continue
                if not any(under(inside, target) for target in covered):
                    exposed.append(f"{bind['source']} -> {bind['target']} exposes {sock} at {inside}")
    return exposed


# ------------------------------------------------------------------------- compose

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_compose_accepts_the_rendering_with_exactly_the_switched_services(renders, configs, variant):
    proc = compose(renders[variant], "config", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = configs[variant]
    assert set(config["services"]) == SERVICES[variant]
    # The restart settings (and so the config-hash labels and the change report) cover
    # exactly the services there are.
    assert set(json.loads((renders[variant] / "restart.json").read_text())) == SERVICES[variant]
    networks = set(config.get("networks", {}))
    assert networks == ({"monitoring", "docker-api"} if PROXY in SERVICES[variant] else {"monitoring"})
    for name, service in config["services"].items():
        assert service["labels"]["com.commandcenter.config-hash"], name
        assert service["logging"] == JSON_FILE_LOGGING, name
        assert service["restart"] == "unless-stopped", name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_config_hashes_differ_between_services_and_follow_the_configuration(configs):
    labels = {name: s["labels"]["com.commandcenter.config-hash"] for name, s in configs["all-on"]["services"].items()}
    assert len(set(labels.values())) == len(labels), labels
    # The same proxy settings but another image: another label (a restart), node-exporter's unchanged.
    proxy_only = configs["proxy-only"]["services"]
    assert proxy_only[PROXY]["labels"] != configs["all-on"]["services"][PROXY]["labels"]
    assert proxy_only[NODE_EXPORTER]["labels"] == configs["all-on"]["services"][NODE_EXPORTER]["labels"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_service_but_the_proxy_reaches_the_docker_socket(configs, variant):
    for name, service in configs[variant]["services"].items():
        exposed = socket_exposures(service)
        if name == PROXY:
            assert [(m["source"], m["target"]) for m in mounts(service) if m["source"] in SOCKET_PATHS] == [
                (SOCKET, SOCKET)]
        else:
            assert not exposed, f"{name}: {exposed}"
            assert not any(m["source"] in ("/var/run", "/run") for m in mounts(service)), name
        assert not service.get("privileged"), name
        assert "docker.sock" not in json.dumps(service.get("environment", {})), name


def test_the_socket_check_itself_finds_an_exposure():
    """The check above is not vacuous: / without the tmpfs, or /var/run itself, is caught."""
    bare = {"volumes": [{"type": "bind", "source": "/", "target": "/rootfs"}]}
    assert socket_exposures(bare) == ["/ -> /rootfs exposes /run/docker.sock at /rootfs/run/docker.sock"]
    assert socket_exposures({"volumes": [{"type": "bind", "source": "/var/run", "target": "/host-run"}]})
    assert socket_exposures({"volumes": [{"type": "bind", "source": "/run", "target": "/run"}]})
    masked = {"volumes": [*bare["volumes"], {"type": "tmpfs", "target": "/rootfs/run"}]}
    assert socket_exposures(masked) == []


@pytest.mark.parametrize("variant", ["all-on", "proxy-only"])
def test_the_proxy_is_on_the_internal_network_only_and_unprivileged(configs, variant):
    config = configs[variant]
    proxy = config["services"][PROXY]
    assert set(proxy["networks"]) == {"docker-api"}
    assert config["networks"]["docker-api"]["internal"] is True
    assert config["networks"]["docker-api"]["name"] == "cc-node_docker-api"
    assert (config["networks"]["monitoring"]["name"], config["networks"]["monitoring"]["external"]) == ("monitoring", True)
    # Nothing else joins it but cAdvisor.
    members = {name for name, s in config["services"].items() if "docker-api" in s.get("networks", {})}
    assert members == ({PROXY, CADVISOR} if CADVISOR in config["services"] else {PROXY})
    assert not proxy.get("ports"), "never published"
    assert proxy["user"] == "99:99"
    assert proxy["group_add"] == [str(socket_gid())], "the socket's group on the host, nothing else"
    assert proxy["cap_drop"] == ["ALL"] and not proxy.get("cap_add")
    assert proxy["read_only"] is True
    assert proxy["security_opt"] == ["no-new-privileges:true"]
    assert int(proxy["mem_limit"]) == 32 * 2**20 and proxy["memswap_limit"] == proxy["mem_limit"]
    assert proxy["cpus"] == 0.25 and proxy["pids_limit"] == 128
    assert proxy["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"]
    assert all(m.get("read_only") for m in mounts(proxy)), proxy["volumes"]


def test_cadvisor_reaches_docker_through_the_proxy_with_its_alias(configs):
    cadvisor = configs["all-on"]["services"][CADVISOR]
    command = cadvisor["command"]
    assert "--docker=tcp://docker-api-proxy:2375" in command
    assert "--docker_only=true" in command
    assert "--housekeeping_interval=10s" in command
    assert "--enable_metrics=cpu,memory,network,oom_event" in command
    assert "--store_container_labels=false" in command
    assert cadvisor["image"] == "gcr.io/cadvisor/cadvisor:v0.52.1"
    # Prometheus's job cadvisor scrapes cadvisor-<machine name>:8080 on the monitoring network.
    assert cadvisor["networks"]["monitoring"]["aliases"] == [f"cadvisor-{MACHINE}"]
    assert set(cadvisor["networks"]) == {"monitoring", "docker-api"}
    assert cadvisor["depends_on"][PROXY]["condition"] == "service_healthy"
    assert not cadvisor.get("ports")
    assert not cadvisor.get("privileged")
    assert cadvisor["cap_drop"] == ["ALL"] and cadvisor["cap_add"] == ["SYSLOG"]
    assert cadvisor["read_only"] is True and cadvisor["security_opt"] == ["no-new-privileges:true"]
    assert int(cadvisor["mem_limit"]) == 256 * 2**20 and cadvisor["cpus"] == 0.5 and cadvisor["pids_limit"] == 128
    binds = {m["source"]: (m["target"], m.get("read_only")) for m in mounts(cadvisor)}
    assert binds == {"/": ("/rootfs", True), "/sys": ("/sys", True), "/var/lib/docker": ("/var/lib/docker", True)}
    assert [m["target"] for m in mounts(cadvisor, "tmpfs")] == ["/rootfs/run"]
    assert cadvisor["healthcheck"]["test"][:2] == ["CMD", "wget"]
    assert cadvisor["healthcheck"]["test"][-1] == "http://127.0.0.1:8080/healthz"


def test_alloy_has_no_socket_and_reads_the_logs_read_only(renders, configs):
    alloy = configs["all-on"]["services"][ALLOY]
    work = renders["all-on"]
    binds = {m["target"]: m for m in mounts(alloy)}
    assert set(binds) == {"/etc/alloy", "/var/lib/alloy/data", "/var/lib/docker/containers", "/var/log/journal",
                          "/etc/machine-id"}
    assert binds["/etc/alloy"]["source"] == str(work / "alloy")
    assert binds["/var/lib/alloy/data"]["source"] == "/opt/commandcenter/node/data/alloy"
    for target, bind in binds.items():
        # Its data directory (positions, the journal cursor) is the one place it writes.
        assert bool(bind.get("read_only")) is (target != "/var/lib/alloy/data"), bind
        assert bind["source"] == target or target in ("/etc/alloy", "/var/lib/alloy/data"), bind
    # The files its configuration reads are the ones mounted.
    config = (work / "alloy" / "config.alloy").read_text()
    assert '"/var/lib/docker/containers/*/*-json.log"' in config and '"/var/log/journal"' in config
    assert alloy["command"][:2] == ["run", "/etc/alloy/config.alloy"]
    assert "--storage.path=/var/lib/alloy/data" in alloy["command"]
    assert set(alloy["networks"]) == {"monitoring"}, "it pushes to Loki; never on the proxy's network"
    assert alloy["user"] == "0:0" and alloy["cap_drop"] == ["ALL"] and not alloy.get("cap_add")
    assert alloy["read_only"] is True and alloy["security_opt"] == ["no-new-privileges:true"]
    assert int(alloy["mem_limit"]) == 256 * 2**20 and alloy["cpus"] == 0.5
    assert not alloy.get("ports")


def test_node_exporter_is_unchanged_by_the_switches(configs):
    node = [configs[v]["services"][NODE_EXPORTER] for v in VARIANTS]
    assert all(n == node[0] for n in node)
    assert node[0]["networks"]["monitoring"]["aliases"] == [f"node-exporter-{MACHINE}"]


# ---------------------------------------------------------------------- haproxy -c

def role_check(work: Path, candidate: Path) -> subprocess.CompletedProcess:
    """The role's own validate command (_monitoring_check_haproxy), %s the candidate file."""
    argv = [candidate.as_posix() if a == "%s" else a.replace("%s", str(candidate))
            for a in shlex.split((work / "check-haproxy").read_text())]
    assert argv[:2] == ["docker", "run"] and HAPROXY_IMAGE in argv, argv
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def test_haproxy_accepts_the_rendered_config(renders):
    work = renders["proxy-only"]
    proc = role_check(work, work / "docker-api-proxy" / "haproxy.cfg")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ALERT" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr


def test_haproxy_refuses_a_broken_config(renders, tmp_path):
    work = renders["proxy-only"]
    text = (work / "docker-api-proxy" / "haproxy.cfg").read_text()
    broken = tmp_path / "haproxy.cfg"
    broken.write_text(text.replace("http-request deny deny_status 403", "http-request refuse-everything"))
    assert broken.read_text() != text
    broken.chmod(0o644)
    proc = role_check(work, broken)
    assert proc.returncode != 0
    assert "refuse-everything" in proc.stdout + proc.stderr


def test_the_rendered_config_is_the_same_in_every_variant(renders):
    texts = {(renders[v] / "docker-api-proxy" / "haproxy.cfg").read_text() for v in VARIANTS}
    assert len(texts) == 1


# ---------------------------------------------------------------- the real proxy

# The client: one container on the proxy's internal network makes every request and prints
# {"METHOD path": status}.
CLIENT = r"""
import http.client, json, sys
out = {}
for line in sys.stdin.read().splitlines():
    method, path = line.split(" ", 1)
    conn = http.client.HTTPConnection("docker-api-proxy", 2375, timeout=20)
    conn.request(method, path, body=b"{}" if method in ("POST", "PUT") else None,
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    out[line] = response.status
    conn.close()
print(json.dumps(out))
"""


def run_args(service: dict, work: Path) -> list[str]:
    """`docker run` options of a rendered compose service's user, privileges, limits and mounts."""
    args = ["--user", service["user"], "--cap-drop", "ALL"]
    args += [a for cap in service.get("cap_add", []) for a in ("--cap-add", cap)]
    args += [a for gid in service.get("group_add", []) for a in ("--group-add", str(gid))]
    args += [a for opt in service.get("security_opt", []) for a in ("--security-opt", opt)]
    if service.get("read_only"):
        args.append("--read-only")
    if "mem_limit" in service:
        args += ["--memory", str(service["mem_limit"]), "--memory-swap", str(service["memswap_limit"])]
    if "pids_limit" in service:
        args += ["--pids-limit", str(service["pids_limit"])]
    for device in service.get("devices", []):
        spec = device if isinstance(device, str) else (
            f"{device['source']}:{device['target']}:{device.get('permissions', 'rwm')}")
        args += ["--device", spec]
    for mount in service.get("volumes", []):
        if mount["type"] == "bind":
            source = mount["source"].replace("/opt/commandcenter/node", str(work))
            args += ["--mount", f"type=bind,src={source},dst={mount['target']}"
                     + (",readonly" if mount.get("read_only") else "")]
        elif mount["type"] == "tmpfs":
            args += ["--mount", f"type=tmpfs,dst={mount['target']}"]
    return args


def dockerd_pids() -> list[str]:
    """The Docker daemons of this machine (their /proc/<pid>/root leads to the socket)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "dockerd":
                pids.append(comm.parent.name)
        except OSError:
            pass
    return pids


def wait_healthy(name: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
        if status in ("healthy", "unhealthy"):
            return status
        time.sleep(0.5)
    return status


@pytest.fixture(scope="module")
def live(renders, configs):
    """The proxy as rendered (offline image, this machine's socket) on a throw-away internal
    network, and a target container of this test's own; everything removed afterwards."""
    tag = secrets.token_hex(4)
    network, proxy, target = f"cc-test-agents-{tag}", f"cc-test-agents-proxy-{tag}", f"cc-test-agents-target-{tag}"
    service = configs["proxy-only"]["services"][PROXY]
    work = renders["proxy-only"]
    (work / "docker-api-proxy").chmod(0o755)
    (work / "docker-api-proxy" / "haproxy.cfg").chmod(0o644)
    health = service["healthcheck"]
    try:
        docker("network", "create", "--internal", network)
        docker("run", "-d", "--name", target, "--network", "none", "--label", "cc-test=agents", DEBIAN_IMAGE,
               "sleep", "600")
        docker("run", "-d", "--name", proxy, "--network", network, "--network-alias", PROXY,
               *run_args(service, work), "--health-cmd", shlex.join(health["test"][1:]),
               "--health-interval", "1s", "--health-retries", "3", HAPROXY_IMAGE, *service["command"])
        yield {"network": network, "proxy": proxy, "target": target,
               "id": docker("inspect", "-f", "{{.Id}}", target).stdout.strip(), "tag": tag}
    finally:
        for name in (proxy, target, f"cc-test-agents-created-{tag}"):
            docker("rm", "-f", name, check=False)
        docker("network", "rm", network, check=False)


def ask(live: dict, *requests: str) -> dict[str, int]:
    proc = subprocess.run(["docker", "run", "--rm", "-i", "--network", live["network"], TOOLBOX_IMAGE,
                           "python3", "-c", CLIENT], input="\n".join(requests), capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def api_version() -> str:
    return docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()


def test_the_real_proxy_is_healthy_through_the_socket(live):
    status = wait_healthy(live["proxy"])
    assert status == "healthy", docker("inspect", "-f", "{{json .State.Health}}", live["proxy"]).stdout


def test_the_real_proxy_answers_cadvisors_read_calls(live):
    cid, version = live["id"], f"/v{api_version()}"
    reads = ["HEAD /_ping", "GET /_ping", "GET /version", f"GET {version}/version", "GET /info", f"GET {version}/info",
             f"GET /containers/{cid}/json", f"GET {version}/containers/{cid}/json",
             "GET /images/json", f"GET {version}/images/json?all=0"]
    answers = ask(live, *reads)
    assert answers == dict.fromkeys(reads, 200), answers
    print("proxy: 200 for", ", ".join(reads).replace(cid, "<id>"))


def test_the_real_proxy_refuses_everything_else_and_the_target_survives(live):
    cid, short, version, tag = live["id"], live["id"][:12], f"/v{api_version()}", live["tag"]
    refused = [
        f"POST /containers/{cid}/stop", f"POST {version}/containers/{cid}/stop", f"POST /containers/{cid}/kill",
        f"POST /containers/{cid}/restart", f"DELETE /containers/{cid}?force=1", f"DELETE {version}/containers/{cid}",
        f"POST /containers/create?name=cc-test-agents-created-{tag}",
        f"POST {version}/containers/create?name=cc-test-agents-created-{tag}",
        f"POST /containers/{cid}/exec", f"POST /exec/{cid}/start",
        f"GET /containers/{cid}/archive?path=/", f"HEAD /containers/{cid}/archive?path=/etc/shadow",
        f"PUT /containers/{cid}/archive?path=/tmp", f"GET /containers/{cid}/export",
        f"GET /containers/{cid}/logs?stdout=1&stderr=1", f"POST /containers/{cid}/attach?stream=1",
        f"GET /containers/{cid}/top", f"GET /containers/{cid}/changes",
        "GET /containers/json", f"GET /containers/{short}/json", f"GET /containers/{cid}/json/../archive",
        f"POST /containers/{cid}/json", f"DELETE /containers/{cid}/json", f"HEAD /containers/{cid}/json",
        "HEAD /version", "OPTIONS /version",
        "GET /secrets", f"GET {version}/secrets", "GET /configs", "GET /events", "GET /system/df",
        "GET /volumes", "GET /networks", f"GET /images/{DEBIAN_IMAGE}/get", "POST /images/create?fromImage=x",
        "POST /build", "POST /containers/prune", "GET /plugins", "POST /swarm/init", "POST /session",
    ]
    answers = ask(live, *refused)
    assert answers == dict.fromkeys(refused, 403), {k: v for k, v in answers.items() if v != 403}
    # Refused means not done: the target still runs, unchanged, and nothing was created.
    state = json.loads(docker("inspect", live["target"]).stdout)[0]
    assert state["State"]["Running"] is True and state["RestartCount"] == 0
    assert not state.get("ExecIDs")
    assert docker("inspect", f"cc-test-agents-created-{tag}", check=False).returncode != 0
    # Every refusal is in the proxy's log (its own healthchecks are not).
    log = docker("logs", live["proxy"]).stdout + docker("logs", live["proxy"]).stderr
    assert f"POST /containers/{cid}/stop" in log and " 403 " in log
    assert "127.0.0.1" not in log, "the healthcheck's requests are not logged"
    print(f"proxy: 403 for {len(refused)} calls (writes, exec, archive/export/logs, other endpoints); "
          "the target container still runs")


def test_without_the_sockets_group_the_proxy_reaches_nothing(renders, configs, live):
    """The group the rendering adds is what opens the socket to uid 99 (and nothing else does)."""
    service = dict(configs["proxy-only"]["services"][PROXY])
    service["group_add"] = []
    name = f"cc-test-agents-nogroup-{live['tag']}"
    try:
        docker("run", "-d", "--name", name, "--network", live["network"], "--network-alias", "docker-api-proxy-bare",
               *run_args(service, renders["proxy-only"]), HAPROXY_IMAGE, *service["command"])
        time.sleep(1)
        proc = subprocess.run(["docker", "run", "--rm", "--network", live["network"], TOOLBOX_IMAGE, "curl", "-s", "-o",
                               "/dev/null", "-w", "%{http_code}", "http://docker-api-proxy-bare:2375/version"],
                              capture_output=True, text=True, check=False, timeout=60)
        assert proc.stdout == "503", proc.stdout + proc.stderr
    finally:
        docker("rm", "-f", name, check=False)


# ------------------------------------------- cAdvisor's and Alloy's privileges, stood in

def test_cadvisor_was_not_run():
    """Said in the output of every run (and counted as a skip, not a pass)."""
    print(NOT_RUN_CADVISOR)
    pytest.skip(NOT_RUN_CADVISOR)


def test_alloy_was_not_run():
    print(NOT_RUN_ALLOY)
    pytest.skip(NOT_RUN_ALLOY)


def test_cadvisors_privileges_read_what_it_needs_and_no_socket(renders, configs, live):
    """A Debian stand-in with cAdvisor's rendered user, capabilities, device and mounts: it reads
    Docker's layer database, a container's network figures and the kernel log, and finds no
    Docker socket (not under /rootfs/run, not through /var/run, not through /proc/<pid>/root)."""
    service = configs["all-on"]["services"][CADVISOR]
    cid = live["id"]
    pid = docker("inspect", "-f", "{{.State.Pid}}", live["target"]).stdout.strip()
    dockerd = dockerd_pids()
    script = f"""
        set -u
        for sock in /rootfs/run/docker.sock /rootfs/var/run/docker.sock /run/docker.sock /var/run/docker.sock \
                    /rootfs/run/containerd/containerd.sock; do
          [ -e "$sock" ] && echo "FOUND $sock"
        done
        for p in {' '.join(dockerd)}; do [ -S /rootfs/proc/$p/root/run/docker.sock ] && echo "FOUND via pid $p"; done
        cat /rootfs/var/lib/docker/image/overlay2/layerdb/mounts/{cid}/mount-id >/dev/null && echo layerdb
        grep -q lo: /rootfs/proc/{pid}/net/dev && echo netdev
        timeout 2 dd if=/dev/kmsg bs=8192 count=1 status=none >/dev/null && echo kmsg
        touch /rootfs/tmp/cc-test 2>/dev/null && echo WROTE
        true
    """
    proc = docker("run", "--rm", "--network", "none", *run_args(service, renders["all-on"]), DEBIAN_IMAGE,
                  "bash", "-c", script)
    lines = proc.stdout.split()
    assert "FOUND" not in proc.stdout, proc.stdout
    assert {"layerdb", "netdev", "kmsg"} <= set(lines), proc.stdout + proc.stderr
    assert "WROTE" not in lines
    print(f"cAdvisor's privileges (stand-in): {', '.join(lines)}; no Docker socket found "
          f"(checked {len(dockerd)} dockerd process root(s))")


def test_without_the_tmpfs_the_stand_in_would_find_the_socket(renders, configs):
    """The tmpfs over /rootfs/run is what hides the socket of the recursive / mount."""
    service = dict(configs["all-on"]["services"][CADVISOR])
    service["volumes"] = [m for m in service["volumes"] if m["type"] != "tmpfs"]
    proc = docker("run", "--rm", "--network", "none", *run_args(service, renders["all-on"]), DEBIAN_IMAGE,
                  "bash", "-c", "[ -S /rootfs/run/docker.sock ] && echo exposed || echo hidden")
    assert proc.stdout.strip() == "exposed"


def test_alloys_privileges_read_a_json_log_and_write_nowhere_else(renders, configs, live, tmp_path):
    """A Debian stand-in with Alloy's rendered user, capabilities and log mounts reads the
    json-file log of this test's own container (root 0640 in root 0710 directories) with no
    capability, and cannot write to what it reads."""
    service = json.loads(json.dumps(configs["all-on"]["services"][ALLOY]))
    data = tmp_path / "data" / "alloy"
    data.mkdir(parents=True)
    for mount in service["volumes"]:
        if mount["target"] == "/var/lib/alloy/data":
            mount["source"] = str(data)
    # A machine without a persistent journal has no directory to mount (a real host's
    # compose would refuse to start then, create_host_path being false).
    journal = Path("/var/log/journal").is_dir()
    if not journal:
        service["volumes"] = [m for m in service["volumes"] if m["target"] != "/var/log/journal"]
    cid = live["id"]
    docker("exec", live["target"], "sh", "-c", "echo cc-test-agents-log-line > /proc/1/fd/1")
    log = f"/var/lib/docker/containers/{cid}/{cid}-json.log"
    script = f"""
        grep -q cc-test-agents-log-line {log} && echo read-log
        ls /var/log/journal >/dev/null && echo read-journal-dir
        cat /etc/machine-id >/dev/null && echo machine-id
        touch /var/lib/docker/containers/{cid}/x 2>/dev/null && echo WROTE-LOGS
        touch /var/lib/alloy/data/positions && echo wrote-data
        touch /etc/x 2>/dev/null && echo WROTE-ROOT
        grep -E '^Cap(Eff|Prm)' /proc/self/status
    """
    proc = docker("run", "--rm", "--network", "none", *run_args(service, renders["all-on"]), DEBIAN_IMAGE,
                  "bash", "-c", script)
    lines = proc.stdout.splitlines()
    expected = {"read-log", "machine-id", "wrote-data"} | ({"read-journal-dir"} if journal else set())
    assert expected <= set(lines), proc.stdout + proc.stderr
    assert not [line for line in lines if line.startswith("WROTE")], proc.stdout
    assert "CapEff:\t0000000000000000" in lines and "CapPrm:\t0000000000000000" in lines, proc.stdout
    print("Alloy's privileges (stand-in): no capability; reads a json-file log, the journal directory and the "
          "machine id; writes its data directory only")


def test_alloys_healthcheck_command_tells_ready_from_not(configs):
    """The rendered healthcheck (bash's /dev/tcp, the Alloy image has no HTTP client) against a
    stand-in server: 0 when /-/ready answers 200, not 0 when it answers 503."""
    test = configs["all-on"]["services"][ALLOY]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    server = ("import http.server, sys\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        self.send_response(200 if self.path == '/-/ready' and sys.argv[1] == 'ready' else 503)\n"
              "        self.end_headers()\n"
              "    def log_message(self, *a):\n"
              "        pass\n"
              "http.server.HTTPServer(('127.0.0.1', 12345), H).serve_forever()\n")
    results = {}
    for mode in ("ready", "starting"):
        script = (f"python3 -c {shlex.quote(server)} {mode} & sleep 1; bash -c {shlex.quote(test[3])}; "
                  "echo rc=$?")
        proc = docker("run", "--rm", "--network", "none", TOOLBOX_IMAGE, "bash", "-c", script)
        results[mode] = proc.stdout.strip().splitlines()[-1]
    assert results == {"ready": "rc=0", "starting": "rc=1"}, results
