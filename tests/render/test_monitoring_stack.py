# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: the cc-monitoring stack with Grafana and Loki switched on and off, and the
routes of the monitoring UIs through Traefik (monitoring.yml), rendered on a monitoring
host that is also Traefik's, checked by the programs that read them.

- compose.yml: `docker compose config` accepts every variant; the services follow the
  switches, and so do the restart settings deploy.yml hands the health gate; no service
  publishes a port; Grafana runs as 472 and Loki as 10001, read-only, without
  capabilities, limited, with a healthcheck each image can run (Loki's image has no
  shell or wget: `loki -health`); Grafana's environment names only the password FILE,
  and the password is nowhere in the file;
- the one `files` call of tasks/configure.yml (its own expressions, rendered): the
  password file (uid 472, 0400) in the secrets directory Grafana mounts, its removal
  when Grafana is off, Grafana's and Loki's files only while they are on;
- monitoring.yml as the traefik role's entry point `dynamic` writes it: the routers of
  the parts that run (Prometheus, Alertmanager when the inventory has one, Loki,
  Grafana), on websecure, the first three behind the dashboards' basic auth, Grafana
  without it; Traefik itself (files/traefik-check-dynamic.sh, from the offline traefik
  image, in a dynamic directory holding the traefik role's own rendered files) accepts
  every variant and refuses the file when the middlewares it names do not exist;
- tasks/routes.yml in check mode: nothing is written.

Needs Docker and the images commandcenter/docker-compose:trixie and
localhost:5000/commandcenter/traefik:3.7 (`make images`); skipped with the reason without them.
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import COMPOSE_IMAGE, JSON_FILE_LOGGING, compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
TRAEFIK_ROLE = ROOT / "roles" / "traefik"
TRAEFIK_IMAGE = "localhost:5000/commandcenter/traefik:3.7"
DASHBOARDS = sorted(p.name for p in (ROLE / "files" / "grafana" / "dashboards").glob("*.json"))
# Test-only secrets: neither may appear where it must not.
PASSWORD = "Gr4fana-render-Pw-7qXz2mKt"
DASHBOARD_PASSWORD = "r3nd3r-dash-Wm4qT8zK2v"
DOMAIN = "commandcenter.test"
STACK = "/opt/commandcenter/monitoring"
AUTH = ["security-headers@file", "dashboard-auth@file"]

pytestmark = needs_images(TRAEFIK_IMAGE)

ON = {"traefik_domain": DOMAIN, "monitoring_grafana_enabled": True, "monitoring_logs_enabled": True,
      "monitoring_grafana_admin_password": PASSWORD}
# name -> (with an alertmanager group?, variables of the monitoring host)
VARIANTS = {
    "all-on": (True, ON),
    # Grafana off: its password is not needed (none is set here).
    "all-off": (True, {"traefik_domain": DOMAIN, "monitoring_grafana_enabled": False,
                       "monitoring_logs_enabled": False}),
    "grafana-only": (True, {**ON, "monitoring_logs_enabled": False}),
    "logs-only": (True, {**ON, "monitoring_grafana_enabled": False, "monitoring_grafana_admin_password": ""}),
    "routes-off": (True, {**ON, "monitoring_routes_enabled": False}),
    "no-domain": (True, {**ON, "traefik_domain": ""}),
    "no-alertmanager": (False, ON),
    "changed": (True, {**ON, "monitoring_route_domain": "ops.example.org", "monitoring_prometheus_port": 9091,
                       "monitoring_loki_http_port": 3200,
                       "monitoring_grafana_admin_password_file": "/run/grafana-secrets/admin.pw",
                       "monitoring_grafana_data_dir": "/srv/grafana", "monitoring_loki_data_dir": "/srv/loki/data",
                       "monitoring_grafana_mem_limit": "768m", "monitoring_loki_mem_limit": "2g"}),
}
# The routers each variant must have (monitoring-<name>).
ROUTERS = {
    "all-on": {"prometheus", "alertmanager", "loki", "grafana"},
    "all-off": {"prometheus", "alertmanager"},
    "grafana-only": {"prometheus", "alertmanager", "grafana"},
    "logs-only": {"prometheus", "alertmanager", "loki"},
    "routes-off": set(),
    "no-domain": set(),
    "no-alertmanager": {"prometheus", "loki", "grafana"},
    "changed": {"prometheus", "alertmanager", "loki", "grafana"},
}


def _task_vars(path: Path) -> dict:
    """The vars of the (one) include_role task of a task file."""
    (task,) = [t for t in yaml.safe_load(path.read_text()) if "vars" in t]
    return task["vars"]


def _dynamic_yaml_template() -> str:
    """How the traefik role's entry point `dynamic` writes a mapping (tasks/dynamic.yml)."""
    for task in yaml.safe_load((TRAEFIK_ROLE / "tasks" / "dynamic.yml").read_text()):
        for inner in task.get("block", []):
            if "_traefik_dynamic_yaml" in inner.get("vars", {}):
                return inner["vars"]["_traefik_dynamic_yaml"]
    raise AssertionError("tasks/dynamic.yml of the traefik role no longer has _traefik_dynamic_yaml")


# The expressions of the role's own task files, rendered as the tasks would.
CONFIGURE_VARS = _task_vars(ROLE / "tasks" / "configure.yml")
DEPLOY_VARS = _task_vars(ROLE / "tasks" / "deploy.yml")
RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "grafana.ini": "{{ lookup('ansible.builtin.template', 'grafana/grafana.ini.j2') }}",
    "dashboards.yml": "{{ lookup('ansible.builtin.template', 'grafana/provisioning/dashboards.yml.j2') }}",
    "loki.yml": "{{ lookup('ansible.builtin.template', 'loki/loki.yml.j2') }}",
    "monitoring.yml": "{{ traefik_dynamic_file_content if traefik_dynamic_file_content is string"
                      " else _traefik_dynamic_yaml }}",
    "routes.json": "{{ _monitoring_routes | to_json }}",
    "files.json": "{{ {'directories': stack_directories, 'secret_files': stack_secret_files,"
                  " 'absent': stack_absent_files, 'secrets': stack_secrets,"
                  " 'config': stack_config_files | map(attribute='dest') | list,"
                  " 'validate': dict(stack_config_files | map(attribute='dest')"
                  " | zip(stack_config_files | map(attribute='validate', default=''))),"
                  " 'restart': stack_restart_settings, 'deploy_secrets': _deploy_secrets} | to_json }}",
}


def _render(tmp: Path) -> dict[str, Path]:
    """One ansible-playbook run per inventory (with and without an alertmanager group): a play per
    variant on its own host, which is in monitoring, traefik and docker_hosts."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    play_vars = {
        "stack_host_key": "render-test-host-key-8d2f6a1c9e4b7035",
        # What the tasks see inside the stack role: this role's path first.
        "ansible_parent_role_paths": [str(ROLE)],
        **CONFIGURE_VARS, **{k: v for k, v in DEPLOY_VARS.items() if k != "stack_secrets"},
        "_deploy_secrets": DEPLOY_VARS["stack_secrets"],
        "traefik_dynamic_file_content": "{{ _monitoring_routes }}",
        "_traefik_dynamic_yaml": _dynamic_yaml_template(),
    }
    out = {}
    for with_alertmanager in (True, False):
        names = [n for n, spec in VARIANTS.items() if spec[0] == with_alertmanager]
        work = tmp / ("with-alertmanager" if with_alertmanager else "without-alertmanager")
        work.mkdir()
        (work / "templates").symlink_to(ROLE / "templates")
        hosts = {f"cc-{n}": local for n in names}
        groups = {g: {"hosts": dict.fromkeys(hosts)} for g in ("docker_hosts", "monitoring", "traefik")}
        if with_alertmanager:
            # One Alertmanager on a host of its own: not rendered here.
            hosts["cc-alertmanager"] = local
            groups["alertmanager"] = {"hosts": {"cc-alertmanager": None}}
        (work / "inventory.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts, "children": groups}}))
        plays = []
        for name in names:
            (work / f"{name}.yml").write_text(yaml.safe_dump(VARIANTS[name][1]))
            plays.append({"name": name, "hosts": f"cc-{name}", "gather_facts": False,
                          # The role's defaults, the host's variables (as the inventory sets them), the role's vars.
                          "vars_files": [str(ROLE / "defaults" / "main.yml"), str(work / f"{name}.yml"),
                                         str(ROLE / "vars" / "main.yml")],
                          "vars": play_vars,
                          "tasks": [{"name": "Render", "ansible.builtin.debug": {"msg": RENDERED}}]})
        (work / "render.yml").write_text(json.dumps(plays))
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "inventory.yml"),
                               str(work / "render.yml")], capture_output=True, text=True, check=False, cwd=ROOT,
                              env=env, timeout=300)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        for play in json.loads(proc.stdout)["plays"]:
            name = play["play"]["name"]
            variant_dir = work / name
            variant_dir.mkdir()
            for filename, content in play["tasks"][0]["hosts"][f"cc-{name}"]["msg"].items():
                (variant_dir / filename).write_text(content if isinstance(content, str) else json.dumps(content))
            out[name] = variant_dir
    assert sorted(out) == sorted(VARIANTS)
    return out


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    return _render(tmp_path_factory.mktemp("monitoring-stack"))


def compose_json(project_dir: Path) -> dict:
    """The effective compose model (`docker compose config --format json`): anchors merged, defaults filled."""
    project_dir = Path(project_dir).resolve()
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{project_dir}:{project_dir}:ro", COMPOSE_IMAGE,
         "--project-directory", str(project_dir), "-f", str(project_dir / "compose.yml"), "config", "--format", "json"],
        capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def models(renders) -> dict[str, dict]:
    return {name: compose_json(out) for name, out in renders.items()}


def files(renders, variant: str) -> dict:
    return json.loads((renders[variant] / "files.json").read_text())


def routes(renders, variant: str) -> dict:
    return json.loads((renders[variant] / "routes.json").read_text())


def mounts(service: dict) -> dict[str, dict]:
    """target -> the volume."""
    return {v["target"]: v for v in service["volumes"]}


def variables(variant: str) -> dict:
    return {**yaml.safe_load((ROLE / "defaults" / "main.yml").read_text()), **VARIANTS[variant][1]}


# --- compose.yml --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_docker_compose_accepts_the_compose_file(renders, variant):
    proc = compose_config(renders[variant])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_services_and_restart_settings_follow_the_switches(renders, models, variant):
    v = variables(variant)
    # The blackbox exporter probes the edge's public names: there are none without a domain.
    expected = {"prometheus"} | ({"blackbox"} if v["traefik_domain"] else set()) \
        | ({"grafana"} if v["monitoring_grafana_enabled"] else set()) \
        | ({"loki"} if v["monitoring_logs_enabled"] else set())
    services = models[variant]["services"]
    assert set(services) == expected
    # deploy.yml's restart settings (and so the config-hash labels the gate compares) cover exactly these.
    assert set(files(renders, variant)["restart"]) == expected
    for name, service in services.items():
        assert "ports" not in service, f"{name} publishes a port"
        assert list(service["networks"]) == ["monitoring"], name
        assert service["labels"]["com.commandcenter.config-hash"], name
    # The monitoring network alone (monitoring_network): no data service, no edge.
    assert {key: (n["name"], n["external"]) for key, n in models[variant]["networks"].items()} == {
        "monitoring": ("monitoring", True)}


def test_switching_a_part_off_removes_its_service(models):
    assert "grafana" not in models["logs-only"]["services"] and "loki" in models["logs-only"]["services"]
    assert "loki" not in models["grafana-only"]["services"] and "grafana" in models["grafana-only"]["services"]
    assert set(models["all-off"]["services"]) == {"prometheus", "blackbox"}


def hardened(service: dict, user: str) -> None:
    assert service["user"] == user
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert service["security_opt"] == ["no-new-privileges:true"]
    assert service["restart"] == "unless-stopped"
    assert service["mem_limit"] and service["memswap_limit"] == service["mem_limit"]
    assert float(service["cpus"]) > 0 and service["pids_limit"] > 0
    assert service["logging"] == JSON_FILE_LOGGING
    assert "/tmp" in " ".join(service["tmpfs"])


@pytest.mark.parametrize("variant", ["all-on", "changed"])
def test_grafana_runs_hardened_with_its_password_as_a_file(renders, models, variant):
    v = variables(variant)
    grafana = models[variant]["services"]["grafana"]
    hardened(grafana, "472:472")
    assert grafana["image"] == "grafana/grafana:12.0.2"
    # Only the reference to the file, no password.
    assert grafana["environment"] == {"GF_SECURITY_ADMIN_PASSWORD__FILE": v["monitoring_grafana_admin_password_file"]}
    volumes = mounts(grafana)
    secrets = volumes[os.path.dirname(v["monitoring_grafana_admin_password_file"])]
    assert secrets["source"] == f"{renders[variant].resolve()}/secrets" and secrets["read_only"] is True
    # The secret file's name is the password file's: the environment points at a file that exists.
    (secret,) = files(renders, variant)["secret_files"]
    assert secret == {"name": os.path.basename(v["monitoring_grafana_admin_password_file"]), "content": PASSWORD,
                      "owner": "472", "mode": "0400"}
    assert volumes["/var/lib/grafana"]["source"] == v["monitoring_grafana_data_dir"]
    assert volumes["/var/lib/grafana"].get("read_only") is not True
    assert volumes["/etc/grafana/grafana.ini"]["read_only"] is True
    assert volumes["/etc/grafana/provisioning/datasources"]["read_only"] is True
    # The dashboards are mounted where the provider reads them.
    provider = yaml.safe_load((renders[variant] / "dashboards.yml").read_text())["providers"][0]
    assert volumes[provider["options"]["path"]]["source"].endswith("/grafana/dashboards")
    # The healthcheck asks the port grafana.ini serves on.
    port = (renders[variant] / "grafana.ini").read_text().split("http_port = ", 1)[1].split()[0]
    assert grafana["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null",
                                              f"http://127.0.0.1:{port}/api/health"]
    assert grafana["mem_limit"] == {"all-on": "536870912", "changed": "805306368"}[variant]


@pytest.mark.parametrize("variant", ["all-on", "changed"])
def test_loki_runs_hardened_as_its_image_user(renders, models, variant):
    v = variables(variant)
    loki = models[variant]["services"]["loki"]
    hardened(loki, "10001:10001")
    assert loki["image"] == "grafana/loki:3.7.6"
    assert loki["command"] == ["-config.file=/etc/loki/loki.yml"]
    assert "environment" not in loki or not loki["environment"]
    config = yaml.safe_load((renders[variant] / "loki.yml").read_text())
    volumes = mounts(loki)
    assert volumes["/etc/loki"]["source"] == f"{renders[variant].resolve()}/loki" and volumes["/etc/loki"]["read_only"]
    # Its data volume is where loki.yml keeps everything.
    assert volumes[config["common"]["path_prefix"]]["source"] == v["monitoring_loki_data_dir"]
    assert volumes[config["common"]["path_prefix"]].get("read_only") is not True
    # Distroless image: no shell, no wget; the binary checks its own /ready on the port loki.yml sets.
    port = config["server"]["http_listen_port"]
    assert port == v["monitoring_loki_http_port"]
    assert loki["healthcheck"]["test"] == ["CMD", "/usr/bin/loki", "-health", f"-health.url=http://127.0.0.1:{port}/ready"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_secret_in_the_compose_file(renders, variant):
    text = (renders[variant] / "compose.yml").read_text()
    assert PASSWORD not in text
    # Every service's environment holds file references only.
    for name, service in (yaml.safe_load(text)["services"]).items():
        for key in service.get("environment") or {}:
            assert key.endswith("__FILE"), (name, key)


# --- the one `files` call of tasks/configure.yml ----------------------------------------------

def test_grafana_and_loki_files_are_written_while_they_are_on(renders):
    on = files(renders, "all-on")
    dirs = {d["path"]: (str(d["owner"]), d["mode"]) for d in on["directories"]}
    assert dirs[f"{STACK}/secrets"] == ("472", "0500")
    assert dirs["/opt/commandcenter/monitoring/data/grafana"] == ("472", "0700")
    assert dirs["/opt/commandcenter/monitoring/data/loki"] == ("10001", "0700")
    assert dirs["/opt/commandcenter/monitoring/data/prometheus"] == ("65534", "0700")
    assert len(on["directories"]) == len(dirs), "a directory listed twice"
    grafana = [f"{STACK}/grafana/grafana.ini", f"{STACK}/grafana/provisioning/datasources/datasources.yml",
               f"{STACK}/grafana/provisioning/dashboards/dashboards.yml"]
    grafana += [f"{STACK}/grafana/dashboards/{name}" for name in DASHBOARDS]
    assert len(DASHBOARDS) == 6
    assert set(grafana) <= set(on["config"])
    assert f"{STACK}/loki/loki.yml" in on["config"]
    # loki.yml is checked by Loki itself before it lands.
    check = on["validate"][f"{STACK}/loki/loki.yml"]
    assert check.endswith("grafana/loki:3.7.6 -config.file=/etc/loki/loki.yml -verify-config"), check
    assert "-v %s:/etc/loki/loki.yml:ro" in check
    assert on["absent"] == []
    assert on["secrets"] == [PASSWORD] and on["deploy_secrets"] == [PASSWORD]

    off = files(renders, "all-off")
    assert not [d for d in off["config"] if "/grafana/" in d or "/loki/" in d]
    assert not [d for d in off["directories"] if "grafana" in d["path"] or "loki" in d["path"]]
    # Grafana off: no password needed, and the file of an earlier run goes away.
    assert off["secret_files"] == [] and off["secrets"] == [] and off["deploy_secrets"] == []
    assert off["absent"] == [f"{STACK}/secrets/grafana_admin_password"]
    assert set(off["config"]) == set(on["config"]) - set(grafana) - {f"{STACK}/loki/loki.yml"}


# --- monitoring.yml -----------------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(VARIANTS))
def test_routers_follow_the_switches(renders, variant):
    content = routes(renders, variant)
    wanted = ROUTERS[variant]
    if not wanted:
        assert content == {}, "no route: an empty configuration, so the old routes go away"
        return
    routers, services = content["http"]["routers"], content["http"]["services"]
    assert set(routers) == {f"monitoring-{name}" for name in wanted}
    assert set(services) == set(routers)
    domain = VARIANTS[variant][1].get("monitoring_route_domain", DOMAIN)
    for name in wanted:
        router = routers[f"monitoring-{name}"]
        assert router["rule"] == f"Host(`{name}.{domain}`)"
        assert router["entryPoints"] == ["websecure"]
        assert router["service"] == f"monitoring-{name}"
        # TLS comes from the websecure entry point (certificate resolver, options), as for the
        # traefik role's own routers: a router's own tls section would replace it.
        assert "tls" not in router


@pytest.mark.parametrize("variant", ["all-on", "changed", "no-alertmanager"])
def test_basic_auth_on_everything_but_grafana(renders, variant):
    routers = routes(renders, variant)["http"]["routers"]
    for name in ("prometheus", "loki") + (("alertmanager",) if "monitoring-alertmanager" in routers else ()):
        assert routers[f"monitoring-{name}"]["middlewares"] == AUTH, name
    # Grafana has its own login: no basic auth in front of it.
    assert routers["monitoring-grafana"]["middlewares"] == ["security-headers@file"]


@pytest.mark.parametrize("variant", ["all-on", "changed"])
def test_services_reach_the_containers_on_the_monitoring_network(renders, models, variant):
    v = variables(variant)
    services = routes(renders, variant)["http"]["services"]
    urls = {name.removeprefix("monitoring-"): [s["url"] for s in svc["loadBalancer"]["servers"]]
            for name, svc in services.items()}
    assert urls == {"prometheus": [f"http://prometheus:{v['monitoring_prometheus_port']}"],
                    "alertmanager": ["http://alertmanager:9093"],
                    "loki": [f"http://loki:{v['monitoring_loki_http_port']}"],
                    "grafana": ["http://grafana:3000"]}
    # The names are the services of this stack (Alertmanager's is the alertmanager role's).
    assert {"prometheus", "loki", "grafana"} <= set(models[variant]["services"])


def test_prometheus_external_url_stays_empty_by_default(models):
    command = models["all-on"]["services"]["prometheus"]["command"]
    assert not [arg for arg in command if arg.startswith("--web.external-url")]


# --- Traefik's own check of monitoring.yml ------------------------------------------------------

TRAEFIK_FILES = ["traefik-tls.yml", "traefik-middlewares.yml", "traefik-services.yml", "traefik-routers.yml"]
# The dynamic check's environment, as the traefik role's validate: command sets it.
DYNAMIC_ENV = ["-e", "TLS_DIR=/etc/traefik/tls", "-e", "SECRETS_DIR=/etc/traefik/secrets", "-e", "WEB_PORT=8080",
               "-e", "WEBSECURE_PORT=8443", "-e", "PING_PORT=8081"]


@pytest.fixture(scope="module")
def traefik_stack(tmp_path_factory) -> Path:
    """/opt/commandcenter/traefik as the traefik role leaves it on the same host: its own dynamic
    files (the middlewares security-headers and dashboard-auth among them), the users file, a certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    rendered = {**{name: f"{{{{ lookup('ansible.builtin.template', 'dynamic/{name}.j2') }}}}" for name in TRAEFIK_FILES},
                "users": "{{ _traefik_users_file_content }}", "users_file": "{{ _traefik_users_file_name }}",
                "check": "{{ _traefik_check_dynamic }}"}
    values = {"traefik_domain": DOMAIN, "traefik_tls_mode": "selfsigned",
              "traefik_dashboard_users": [{"name": "ops", "password": DASHBOARD_PASSWORD}]}
    extra = {"_traefik_tls_fingerprint": "render-test", "traefik_dynamic_file_name": "monitoring.yml"}
    out = render_variants(tmp_path_factory.mktemp("traefik-render"), "traefik", {"edge": (False, extra)}, rendered,
                          [], values)["edge"]
    # The role's own check command, for this file: the one the test runs below.
    check = (out / "check").read_text()
    assert " ".join(DYNAMIC_ENV) in check and check.endswith(" /cc-check/traefik-check-dynamic.sh monitoring.yml")

    stack = tmp_path_factory.mktemp("traefik-stack")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN), x509.DNSName(f"*.{DOMAIN}")]),
                           critical=False).sign(key, hashes.SHA256()))
    (stack / "tls").mkdir()
    (stack / "tls" / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (stack / "tls" / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                              serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    (stack / "secrets").mkdir()
    (stack / "secrets" / (out / "users_file").read_text().strip()).write_text((out / "users").read_text())
    (stack / "dynamic").mkdir()
    for name in TRAEFIK_FILES:
        shutil.copy(out / name, stack / "dynamic" / name)
    for path in stack.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return stack


def traefik_check(stack: Path, live: Path, candidate: Path) -> subprocess.CompletedProcess:
    """The traefik role's dynamic check (vars/main.yml `_traefik_check_dynamic`) of monitoring.yml."""
    cmd = ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh", "--log-driver", "none",
           "-e", "DYNAMIC_DIR=/opt/commandcenter/traefik/dynamic", *DYNAMIC_ENV,
           "-v", f"{TRAEFIK_ROLE / 'files' / 'traefik-check-dynamic.sh'}:/cc-check/traefik-check-dynamic.sh:ro",
           "-v", f"{candidate}:/check/candidate:ro", "-v", f"{live}:/check/live:ro", "-v", f"{stack}:/check/stack:ro",
           TRAEFIK_IMAGE, "/cc-check/traefik-check-dynamic.sh", "monitoring.yml"]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize("variant", ["all-on", "all-off", "no-alertmanager", "routes-off", "changed"])
def test_traefik_accepts_monitoring_yml(renders, traefik_stack, variant):
    candidate = renders[variant] / "monitoring.yml"
    assert candidate.read_text().startswith("# Managed by Ansible (commandcenter.infra.traefik, entry point dynamic).")
    # What the entry point writes is the routes variable, readable as it is (no YAML aliases).
    assert yaml.safe_load(candidate.read_text()) == routes(renders, variant)
    assert "&id" not in candidate.read_text()
    proc = traefik_check(traefik_stack, traefik_stack / "dynamic", candidate)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "traefik accepted monitoring.yml" in proc.stdout
    # Every service the routers name is in the file itself: none is left for a later file
    # (only the app's, which the traefik role's own routers name).
    later = proc.stdout.split("services no file defines yet:", 1)[1].split() if "yet:" in proc.stdout else []
    assert not [name for name in later if name.startswith("monitoring-")], proc.stdout


def test_traefik_refuses_routes_to_middlewares_that_do_not_exist(renders, traefik_stack, tmp_path):
    """Without the traefik role's middlewares file, the auth the routers name does not exist: refused."""
    live = tmp_path / "dynamic"
    shutil.copytree(traefik_stack / "dynamic", live)
    (live / "traefik-middlewares.yml").unlink()
    # The role's own routers name the same middlewares: take them out too, only monitoring.yml is judged.
    (live / "traefik-routers.yml").unlink()
    proc = traefik_check(traefik_stack, live, renders["all-on"] / "monitoring.yml")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "traefik refused monitoring.yml:" in proc.stdout
    assert "dashboard-auth@file" in proc.stdout and "does not exist" in proc.stdout, proc.stdout


# --- tasks/routes.yml in check mode -------------------------------------------------------------

def test_routes_in_check_mode_write_nothing(tmp_path):
    """The routes task file, run in check mode on this machine: it reports the file it would write
    (with its routers, --diff) and writes nothing, not even the dynamic directory."""
    dynamic = tmp_path / "dynamic"
    play = [{"name": "Routes in check mode", "hosts": "localhost", "gather_facts": False,
             "vars": {"traefik_domain": DOMAIN, "monitoring_grafana_enabled": False, "monitoring_logs_enabled": False},
             "tasks": [{"name": "Routes", "ansible.builtin.include_role": {
                 "name": "commandcenter.infra.monitoring", "tasks_from": "routes"}}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "--check", "--diff",
         "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"traefik_dynamic_dir={dynamic}",
         str(tmp_path / "play.yml")], capture_output=True, text=True, check=False, cwd=ROOT, env=env, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "Ensure monitoring.yml is in the dynamic configuration, accepted by Traefik" in out
    assert "monitoring-prometheus" in out and "Host(`prometheus.commandcenter.test`)" in out
    assert "monitoring-grafana" not in out
    assert not dynamic.exists(), "check mode wrote the dynamic directory"
