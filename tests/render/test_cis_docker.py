# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The CIS Docker Benchmark's container runtime items (section 5), on every role's compose file.

Every compose file of every role is rendered (one ansible-playbook run, a play per
rendering, on a host that is in every group) with its optional services switched on and,
where a role can publish a port, with the port published. Each service is then checked,
one case per service and item:

- healthcheck (5.27): a compose healthcheck that is not disabled, or the offline image's
  own HEALTHCHECK; one-shot services (ONESHOT, with the reason) are exempt;
- pids (5.29): `pids_limit` above 0;
- memory (5.11): `mem_limit`, and `memswap_limit` equal to it (no swap);
- no_new_privileges (5.26): `security_opt` has `no-new-privileges:true`;
- cap_drop (5.4): `cap_drop: [ALL]` (what a service adds back is its own file's business);
- log_rotation (2.13 locally): json-file or local with `max-size` and `max-file`;
- host_ports (5.14): every published port names a host address that is not 0.0.0.0 or ::,
  except Traefik's 80/443 (EDGE_PORTS), the edge's job;
- docker_socket (5.32): no mount of Docker's socket, of a directory holding it (/run,
  /var/run), or of the host's / without an empty tmpfs over its run directory.

A case that fails on purpose today is marked xfail(strict=True) in KNOWN with the reason:
it turns into a failure the day it is fixed, so the mark goes too. The roles' templates are
not changed here.

Reads the rendered YAML (PyYAML merges the `<<:` anchors as compose does); needs no Docker.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOST = "cc-cis"
MACHINE = "machine-cis"

# Test-only secrets and the values preflight insists on (the roles' defaults leave them empty).
SECRETS = {
    "postgres_pgvector_superuser_password": "r3nder-su-Vq8mX2pL7k",
    "postgres_pgvector_app_password": "r3nder-app-Hw4zN8cT1q",
    "postgres_pgvector_monitor_password": "r3nder-mon-Bk6yR3dJ9s",
    "redis_app_password": "r3nd3r-app-Qm7xT2vL9k", "redis_monitor_password": "r3nd3r-mon-Hq4zW8pN1c",
    "nats_app_password": "r3nd3r-app-Vt8qL2xK9m", "nats_monitor_password": "r3nd3r-mon-Pz5wN7cR3j",
    "traefik_domain": "render.example.org", "traefik_acme_email": "ops@render.example.org",
    "traefik_dashboard_users": [{"name": "ops", "password": "r3nd3r-dash-Wm4qT8zK2v"}],
    "app_secret_key": "r3nd3r-key-Vb8nM2qW4z", "app_database_password": "r3nd3r-db-Xc5vB9nL1k",
    "app_redis_password": "r3nd3r-redis-Jh6gF3dS8a", "app_nats_password": "r3nd3r-nats-Pk2jH7gT4r",
    "alertmanager_webhook_url": "https://hooks.example.test/cc/r3nd3r-wh-Tq8zP2mV5k",
    "backup_postgres_password": "S3ntinel-pg-Aq7wE2rT9yKx", "backup_redis_password": "S3ntinel-redis-Bq7wE2rT9y",
    "backup_nats_password": "S3ntinel-nats-Cq7wE2rT9y", "backup_restic_password": "S3ntinel-restic-Dq7wE2rT9y",
    "monitoring_grafana_admin_password": "Gr4fana-render-Pw-7qXz2mKt",
}

# rendering -> (role, compose template, variables over the role's defaults and SECRETS).
RENDERINGS = {
    "postgres_pgvector": ("postgres_pgvector", "compose.yml.j2", {"postgres_pgvector_exporter_enabled": True}),
    "postgres_pgvector-published": ("postgres_pgvector", "compose.yml.j2", {"postgres_pgvector_publish_port": True}),
    "redis": ("redis", "compose.yml.j2", {"redis_exporter_enabled": True}),
    "redis-published": ("redis", "compose.yml.j2", {"redis_publish_port": True}),
    "nats": ("nats", "compose.yml.j2", {}),
    "nats-published": ("nats", "compose.yml.j2", {"nats_publish_port": True}),
    "traefik": ("traefik", "compose.yml.j2",
                {"_traefik_tls_fingerprint": "render-test", "traefik_dynamic_file_name": "candidate.yml"}),
    "app": ("app", "compose.yml.j2",
            {"app_flower_enabled": True, "_app_target": "0123456789ab", "_app_release": {"routed": "{{ _app_routed }}"}}),
    "alertmanager": ("alertmanager", "compose.yml.j2", {"alertmanager_webhook_enabled": True}),
    "alertmanager-clustered": ("alertmanager", "compose.yml.j2",
                               {"alertmanager_webhook_enabled": True, "alertmanager_cluster_hosts": [HOST, "am-two"]}),
    "backup": ("backup", "compose.yml.j2", {
        "backup_offsite_repository": "rest:https://backup.example.test:8000/commandcenter",
        "backup_offsite_password": "S3ntinel-offsite-Eq7wE2rT9y",
        "backup_offsite_environment": {"RESTIC_REST_USERNAME": "cc", "RESTIC_REST_PASSWORD": "S3ntinel-rest-Fq7wE2rT9y"}}),
    "monitoring": ("monitoring", "compose.yml.j2", {"monitoring_grafana_enabled": True, "monitoring_logs_enabled": True}),
    "monitoring-node": ("monitoring", "compose-node.yml.j2", {"monitoring_cadvisor_enabled": True,
                                                              "monitoring_logs_enabled": True}),
}

# rendering -> the services it must have (so that a new service is checked, not missed).
SERVICES = {
    "postgres_pgvector": {"postgres", "postgres-exporter"},
    "postgres_pgvector-published": {"postgres", "postgres-exporter"},
    "redis": {"redis", "redis-exporter"},
    "redis-published": {"redis", "redis-exporter"},
    "nats": {"nats", "nats-monitor"},
    "nats-published": {"nats", "nats-monitor"},
    "traefik": {"traefik", "maintenance"},
    "app": {"migrate", "backend", "worker", "beat", "flower", "frontend"},
    "alertmanager": {"alertmanager"},
    "alertmanager-clustered": {"alertmanager"},
    "backup": {"barman", "postgres_base", "postgres_dump", "redis", "nats", "platform", "offsite", "check", "restore"},
    "monitoring": {"prometheus", "blackbox", "grafana", "loki"},
    "monitoring-node": {"node-exporter", "docker-api-proxy", "cadvisor", "alloy"},
}

# (rendering, service) -> why it has no healthcheck: it runs to completion and exits.
_BACKUP_JOB = "a one-shot backup job (`docker compose run --rm`, started by a systemd timer; profile oneshot)"
ONESHOT = {
    ("app", "migrate"): "a one-shot migration (`docker compose run migrate` before the release takes traffic)",
    **{("backup", kind): _BACKUP_JOB for kind in ("postgres_base", "postgres_dump", "redis", "nats", "platform",
                                                  "offsite", "check")},
    ("backup", "restore"): "a one-shot restore (`docker compose run` by playbooks/restore.yml; profile restore)",
}

# Traefik, the edge: its HTTP and HTTPS entry points are for everyone (traefik_bind_address).
EDGE_PORTS = {("traefik", "traefik"): {80, 443}}

# (rendering, service, item) -> why the case fails today (fix it in the role, then drop the entry).
KNOWN = {
    ("monitoring-node", "docker-api-proxy", "docker_socket"): (
        "by design: the read-only Docker API proxy for cAdvisor is the one container with Docker's socket "
        "(read_only mount; haproxy.cfg allows only GET/HEAD of cAdvisor's calls; an internal network joined by "
        "cAdvisor alone); a waiver to record, or a socket-less cAdvisor to find"),
}

ITEMS = ["healthcheck", "pids", "memory", "no_new_privileges", "cap_drop", "log_rotation", "host_ports",
         "docker_socket"]


def _render(tmp: Path) -> dict[str, dict]:
    """One ansible-playbook run: a play per rendering, on a host in every group, whose gathered
    host name and Docker socket stat are stood in for (as the monitoring role's agents.yml gathers them)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    groups = ("docker_hosts", "postgres", "redis", "nats", "traefik", "app", "monitoring", "backup")
    inventory = {"all": {"hosts": {HOST: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
                         "children": {g: {"hosts": {HOST: None}} for g in groups}}}
    (tmp / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp / "secrets.yml").write_text(yaml.safe_dump({**SECRETS, "stack_host_key": "render-test-host-key-cis"}))
    plays = [{"name": "facts", "hosts": HOST, "gather_facts": False,
              "tasks": [{"name": "Stand in for the gathered host name and the stat of the socket",
                         "ansible.builtin.set_fact": {
                             "ansible_facts": {"hostname": MACHINE},
                             "_monitoring_docker_socket_stat": {"stat": {"exists": True, "gid": 998}}}}]}]
    # A playbook of its own per rendering, beside links to its role's templates/ and files/:
    # what a compose template looks up itself (for its config hashes) is found there.
    for name, (role, template, variables) in RENDERINGS.items():
        role_dir = ROOT / "roles" / role
        work = tmp / name
        work.mkdir()
        for sub in ("templates", "files"):
            if (role_dir / sub).is_dir():
                (work / sub).symlink_to(role_dir / sub)
        (work / "variables.yml").write_text(yaml.safe_dump(variables))
        (work / "play.yml").write_text(json.dumps([{
            "name": name, "hosts": HOST, "gather_facts": False,
            "vars_files": [str(role_dir / "defaults" / "main.yml"), str(tmp / "secrets.yml"),
                           str(work / "variables.yml"), str(role_dir / "vars" / "main.yml")],
            "tasks": [{"name": "Render", "ansible.builtin.debug": {
                "msg": f"{{{{ lookup('ansible.builtin.template', '{template}') }}}}"}}]}]))
        plays.append({"ansible.builtin.import_playbook": str(work / "play.yml")})
    (tmp / "render.yml").write_text(json.dumps(plays))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(tmp / "inventory.yml"),
                           str(tmp / "render.yml")], capture_output=True, text=True, check=False, cwd=ROOT, env=env,
                          timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    out = {}
    for play in json.loads(proc.stdout)["plays"][1:]:
        name = play["play"]["name"]
        text = play["tasks"][0]["hosts"][HOST]["msg"]
        (tmp / name / "compose.yml").write_text(text)
        out[name] = yaml.safe_load(text)
    assert sorted(out) == sorted(RENDERINGS)
    return out


@pytest.fixture(scope="module")
def composes(tmp_path_factory) -> dict[str, dict]:
    return _render(tmp_path_factory.mktemp("cis-docker"))


def _image_healthchecks() -> dict[str, bool]:
    """commandcenter/<name>:<tag> -> whether the offline image has a HEALTHCHECK, from its Dockerfile
    (following FROM to an image of the set: a HEALTHCHECK is inherited)."""
    entries = {}
    for line in (ROOT / "images" / "images.list").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            ref, directory = line.split()
            entries[f"commandcenter/{ref}"] = ROOT / "images" / directory / "Dockerfile"

    def has(ref: str) -> bool:
        dockerfile = entries.get(ref)
        if dockerfile is None or not dockerfile.exists():
            return False
        lines = [w.split() for w in dockerfile.read_text().splitlines() if w.strip() and not w.startswith("#")]
        final = [i for i, words in enumerate(lines) if words[0].upper() == "FROM"][-1]
        stage = lines[final:]
        checks = [words for words in stage if words[0].upper() == "HEALTHCHECK"]
        if checks:
            return checks[-1][1].upper() != "NONE"
        return has(stage[0][1])

    return {ref: has(ref) for ref in entries}


IMAGE_HEALTHCHECK = _image_healthchecks()


def _offline_ref(image: str) -> str:
    """localhost:5000/commandcenter/x:t or {{ registry }}/commandcenter/x:t -> commandcenter/x:t."""
    return image[image.find("commandcenter/"):] if "commandcenter/" in image else image


def _host_ports(service: dict) -> list[tuple[str, int | None]]:
    """(host address, published port) of every published port; '' when no address is named."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            published = port.get("published")
            ports.append((str(port.get("host_ip") or ""), int(published) if published else None))
            continue
        spec = str(port).split("/", maxsplit=1)[0]
        if spec.startswith("["):  # [::1]:8080:80
            address, rest = spec[1:].partition("]:")[::2]
            published = rest.split(":")[0]
        else:
            parts = spec.split(":")
            address = parts[0] if len(parts) == 3 else ""
            published = parts[-2] if len(parts) >= 2 else ""
        ports.append((address, int(published) if published.isdigit() else None))
    return ports


def problems(rendering: str, name: str, service: dict, item: str) -> list[str]:
    if item == "healthcheck":
        if (rendering, name) in ONESHOT:
            return []
        check = service.get("healthcheck")
        if check is not None:
            test = check.get("test") or []
            test = [test] if isinstance(test, str) else test
            if check.get("disable") or (test and test[0] == "NONE"):
                return [f"healthcheck disabled: {check}"]
            if test:
                return []
        if IMAGE_HEALTHCHECK.get(_offline_ref(str(service.get("image", "")))):
            return []
        return [f"no healthcheck, and the image {service.get('image')} has none of its own known here"]
    if item == "pids":
        limit = service.get("pids_limit", ((service.get("deploy") or {}).get("resources") or {}).get("limits", {}).get("pids"))
        return [] if limit is not None and int(limit) > 0 else [f"pids_limit {limit!r}"]
    if item == "memory":
        mem, swap = service.get("mem_limit"), service.get("memswap_limit")
        if not mem:
            return ["no mem_limit"]
        return [] if str(swap) == str(mem) else [f"memswap_limit {swap!r} is not mem_limit {mem!r} (swap allowed)"]
    if item == "no_new_privileges":
        opts = [str(o).replace("=", ":") for o in service.get("security_opt") or []]
        return [] if {"no-new-privileges:true", "no-new-privileges"} & set(opts) else [f"security_opt {opts}"]
    if item == "cap_drop":
        return [] if "ALL" in [str(c).upper() for c in service.get("cap_drop") or []] else [
            f"cap_drop {service.get('cap_drop')}"]
    if item == "log_rotation":
        logging = service.get("logging") or {}
        options = logging.get("options") or {}
        if logging.get("driver") not in ("json-file", "local"):
            return [f"logging driver {logging.get('driver')!r} (json-file or local, rotated, expected)"]
        return [] if options.get("max-size") and options.get("max-file") else [f"no rotation: {options}"]
    if item == "host_ports":
        allowed = EDGE_PORTS.get((rendering, name), set())
        return [f"port {published} published on {address or 'every address'}"
                for address, published in _host_ports(service)
                if address in ("", "0.0.0.0", "::", "[::]") and published not in allowed]
    if item == "docker_socket":
        found = []
        volumes = list(service.get("volumes") or [])
        tmpfs_targets = {v.get("target") for v in volumes if isinstance(v, dict) and v.get("type") == "tmpfs"}
        for volume in volumes:
            if isinstance(volume, dict):
                source, target = str(volume.get("source", "")), str(volume.get("target", ""))
            else:
                source, rest = str(volume).partition(":")[::2]
                target = rest.split(":")[0]
            if source.endswith(".sock") or source.rstrip("/") in ("/run", "/var/run", "/run/docker", "/var/run/docker"):
                found.append(f"mounts {source}")
            elif source == "/" and f"{target.rstrip('/')}/run" not in tmpfs_targets:
                found.append(f"mounts the host's / at {target} with the host's /run (Docker's socket) in it")
        return found
    raise AssertionError(item)


CASES = [pytest.param(rendering, service, item, id=f"{rendering}-{service}-{item}",
                      marks=[pytest.mark.xfail(strict=True, reason=KNOWN[(rendering, service, item)])]
                      if (rendering, service, item) in KNOWN else [])
         for rendering, services in SERVICES.items() for service in sorted(services) for item in ITEMS]


def test_every_rendering_has_exactly_the_services_checked(composes):
    assert {name: set(compose["services"]) for name, compose in composes.items()} == SERVICES


def test_exemptions_name_services_that_exist():
    for rendering, service in [*ONESHOT, *EDGE_PORTS]:
        assert service in SERVICES[rendering], (rendering, service)
    for rendering, service, item in KNOWN:
        assert service in SERVICES[rendering] and item in ITEMS, (rendering, service, item)


def test_oneshot_services_do_not_start_with_up(composes):
    """An exempt one-shot service has a profile (`up` leaves it alone) and no restart policy."""
    for rendering, name in ONESHOT:
        service = composes[rendering]["services"][name]
        assert service.get("profiles"), (rendering, name)
        assert service.get("restart", "no") in ("no", "unless-stopped"), (rendering, name)


@pytest.mark.parametrize(("rendering", "service", "item"), CASES)
def test_service_meets_the_cis_item(composes, rendering, service, item):
    assert problems(rendering, service, composes[rendering]["services"][service], item) == []
