# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""monitoring: Prometheus's configuration generated from the inventory, and the
blackbox exporter's modules, checked by the programs that read them.

- prometheus.yml is rendered on the monitoring host of three inventories (the whole
  site on one host; the site spread over three hosts; monitoring alone) and accepted by
  `promtool check config` together with the rendered alert rules it loads;
- the scrape jobs follow the inventory's groups: one node-exporter target per Docker
  host, by the machine's own host name (renaming a host in the inventory changes only
  the `instance` label), every replica of the app through DNS discovery, Alertmanagers
  from their group, probes through the blackbox exporter;
- blackbox.yml is accepted by `blackbox_exporter --config.check`, and a broken
  prometheus.yml is refused by promtool.

Needs Docker and the images commandcenter/prometheus:2.53 and
commandcenter/blackbox-exporter:0.26 (`make images`); skipped with the reason without them.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import needs_images

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "monitoring"
PROMETHEUS_IMAGE = "commandcenter/prometheus:2.53"
BLACKBOX_IMAGE = "commandcenter/blackbox-exporter:0.26"
RULE_FILES = sorted(p.name.removesuffix(".j2") for p in (ROLE / "templates" / "rules").glob("*.yml.j2"))

pytestmark = needs_images(PROMETHEUS_IMAGE, BLACKBOX_IMAGE)

# Inventories: group -> hosts. Host variables as an inventory would set them.
GROUPS = ("docker_hosts", "monitoring", "alertmanager", "postgres", "redis", "nats", "traefik", "app")
ONE_HOST = {g: ["cc-one"] for g in GROUPS}
SPREAD = {"docker_hosts": ["mon-1", "data-1", "edge-1"], "monitoring": ["mon-1"], "alertmanager": ["mon-1", "data-1"],
          "postgres": ["data-1"], "redis": ["data-1"], "nats": ["data-1"], "traefik": ["edge-1"], "app": ["edge-1"]}
# The same machines as SPREAD, named differently in the inventory.
RENAMED = {g: [h.replace("-1", "-one") for h in hosts] for g, hosts in SPREAD.items()}
ALONE = {"docker_hosts": ["mon-1"], "monitoring": ["mon-1"]}

# name -> (inventory, variables of every host)
VARIANTS = {
    "one-host": (ONE_HOST, {"traefik_domain": "commandcenter.test", "cc_environment": "local",
                            "monitoring_cadvisor_enabled": True,
                            "monitoring_blackbox_ca_file": "/opt/commandcenter/traefik/tls/ca.crt"}),
    # cAdvisor by default (monitoring_cadvisor_enabled true).
    "spread": (SPREAD, {"traefik_domain": "example.org", "traefik_metrics_port": 9082, "redis_exporter_port": 9122}),
    "renamed": (RENAMED, {"traefik_domain": "example.org", "traefik_metrics_port": 9082, "redis_exporter_port": 9122,
                          "monitoring_cadvisor_enabled": True}),
    "alone": (ALONE, {"monitoring_cadvisor_enabled": False}),
}


# The gathered host name's stand-in: the same machine under both names of SPREAD/RENAMED.
MACHINE_NAME = "machine-{{ inventory_hostname | replace('-one', '-1') }}"


def _render(tmp: Path) -> dict[str, dict]:
    """One ansible-playbook run per variant: set each host's host-name fact, then render on the monitoring host."""
    out = {}
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"}
    rendered = {"prometheus.yml": "{{ lookup('ansible.builtin.template', 'prometheus.yml.j2') }}",
                "blackbox.yml": "{{ lookup('ansible.builtin.template', 'blackbox.yml.j2') }}",
                "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
                "jobs": "{{ _monitoring_scrape_job_names }}", "alert_jobs": "{{ monitoring_alert_jobs }}"}
    rendered.update({name: f"{{{{ lookup('ansible.builtin.template', 'rules/{name}.j2') }}}}" for name in RULE_FILES})
    for name, (groups, host_vars) in VARIANTS.items():
        work = tmp / name
        work.mkdir()
        (work / "templates").symlink_to(ROLE / "templates")
        hosts = sorted({h for members in groups.values() for h in members})
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        inventory = {"all": {
            "hosts": {h: {**local, **host_vars} for h in hosts},
            "children": {g: {"hosts": dict.fromkeys(members)} for g, members in groups.items()}}}
        (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
        # Also after the role's defaults (vars_files stand in for them here, and outrank the
        # inventory): the variables as an inventory sets them for the host itself.
        (work / "host-vars.yml").write_text(yaml.safe_dump(host_vars))
        plays = [
            {"name": "facts", "hosts": "all", "gather_facts": False,
             "tasks": [{"name": "Stand in for the gathered host name",
                        "ansible.builtin.set_fact": {"ansible_facts": {"hostname": MACHINE_NAME}}}]},
            {"name": "render", "hosts": "monitoring", "gather_facts": False,
             "vars_files": [str(ROLE / "defaults" / "main.yml"), str(work / "host-vars.yml"),
                            str(ROLE / "vars" / "main.yml")],
             # The stack role's per-host key, which the config-hash labels are keyed with.
             "vars": {"stack_host_key": "render-test-host-key"},
             "tasks": [{"name": "Render", "ansible.builtin.debug": {"msg": rendered}}]},
        ]
        (work / "render.yml").write_text(json.dumps(plays))
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(work / "inventory.yml"),
                               str(work / "render.yml")], capture_output=True, text=True, check=False, cwd=ROOT,
                              env=env, timeout=300)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        result = json.loads(proc.stdout)["plays"][1]["tasks"][0]["hosts"]
        (host,) = result
        files = result[host]["msg"]
        for filename in ["prometheus.yml", "blackbox.yml", "compose.yml", *RULE_FILES]:
            (work / filename).write_text(files[filename])
        out[name] = {"dir": work, "host": host, "jobs": files["jobs"], "alert_jobs": files["alert_jobs"],
                     "config": yaml.safe_load(files["prometheus.yml"])}
    return out


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, dict]:
    return _render(tmp_path_factory.mktemp("monitoring-prometheus"))


def promtool_check_config(work: Path, config: str = "prometheus.yml") -> subprocess.CompletedProcess:
    """`promtool check config` as the role runs it: the rendered rules mounted where the config loads them."""
    mounts = ["-v", f"{work / config}:/etc/prometheus/prometheus.yml:ro"]
    for name in RULE_FILES:
        mounts += ["-v", f"{work / name}:/etc/prometheus/rules/{name}:ro"]
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--log-driver", "none", "--entrypoint",
                           "/bin/promtool", *mounts, PROMETHEUS_IMAGE, "check", "config",
                           "/etc/prometheus/prometheus.yml"], capture_output=True, text=True, check=False, timeout=120)


def job(config: dict, name: str) -> dict:
    (found,) = [j for j in config["scrape_configs"] if j["job_name"] == name]
    return found


def targets(config: dict, name: str) -> dict[str, str]:
    """target -> instance label of a job's static targets."""
    return {t: group["labels"].get("instance", "") for group in job(config, name)["static_configs"]
            for t in group["targets"]}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_promtool_accepts_the_config_and_the_rules_it_loads(renders, variant):
    proc = promtool_check_config(renders[variant]["dir"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
    # The rule files are found by the config's glob and checked with it.
    for name in RULE_FILES:
        assert f"/etc/prometheus/rules/{name}" in proc.stdout + proc.stderr, proc.stdout


def test_promtool_refuses_a_broken_config(renders):
    work = renders["one-host"]["dir"]
    config = copy.deepcopy(renders["one-host"]["config"])
    config["global"]["scrape_timeout"] = "30s"   # longer than the interval: Prometheus refuses it
    (work / "broken.yml").write_text(yaml.safe_dump(config))
    proc = promtool_check_config(work, "broken.yml")
    assert proc.returncode != 0
    assert "scrape timeout greater than scrape interval" in proc.stdout + proc.stderr


def test_global_settings_and_external_labels(renders):
    config = renders["one-host"]["config"]
    assert config["global"] == {"scrape_interval": "15s", "scrape_timeout": "10s", "evaluation_interval": "15s",
                                "external_labels": {"cluster": "commandcenter", "environment": "local"}}
    assert renders["spread"]["config"]["global"]["external_labels"]["environment"] == "production"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]


def test_jobs_follow_the_inventory_groups(renders):
    full = ["prometheus", "alertmanager", "backend", "flower", "postgres", "redis", "node", "cadvisor", "traefik", "nats",
            "blackbox"]
    assert renders["one-host"]["jobs"] == full
    assert renders["spread"]["jobs"] == full
    assert renders["alone"]["jobs"] == ["prometheus", "node"], "no group, no job; cAdvisor switched off"
    # TargetMissing watches exactly the jobs there are.
    for variant in VARIANTS:
        assert renders[variant]["alert_jobs"] == renders[variant]["jobs"]
        assert [j["job_name"] for j in renders[variant]["config"]["scrape_configs"]] == renders[variant]["jobs"]


def test_targets_are_found_and_labelled_by_machine_name_not_inventory_name(renders):
    spread, renamed = renders["spread"]["config"], renders["renamed"]["config"]
    assert targets(spread, "node") == {f"node-exporter-machine-{h}:9100": f"machine-{h}"
                                       for h in ("mon-1", "data-1", "edge-1")}
    assert targets(spread, "cadvisor") == {f"cadvisor-machine-{h}:8080": f"machine-{h}"
                                           for h in ("mon-1", "data-1", "edge-1")}
    assert job(spread, "cadvisor")["scrape_interval"] == "10s"
    # The same machines under other inventory names: the same configuration, byte for byte
    # (a host renamed in the inventory reloads nothing).
    assert (renders["renamed"]["dir"] / "prometheus.yml").read_text() == (
        renders["spread"]["dir"] / "prometheus.yml").read_text()
    assert renamed == spread


def test_alertmanagers_get_alerts_and_are_scraped(renders):
    spread = renders["spread"]["config"]
    # Two peers: the alertmanager role's aliases, by position in the group (its hosts sorted here).
    expected = {"alertmanager-1:9093": "machine-data-1", "alertmanager-2:9093": "machine-mon-1"}
    assert sorted(spread["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]) == sorted(expected)
    assert targets(spread, "alertmanager") == expected
    assert "alerting" not in renders["alone"]["config"], "no alertmanager group: no Alertmanager to send to"
    # One Alertmanager: its service name.
    one = renders["one-host"]["config"]
    assert one["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert targets(one, "alertmanager") == {"alertmanager:9093": "machine-cc-1"}


def test_every_app_replica_is_found_by_dns(renders):
    for variant in ("one-host", "spread"):
        backend = job(renders[variant]["config"], "backend")
        assert backend["dns_sd_configs"] == [{"names": ["backend"], "type": "A", "port": 8000,
                                              "refresh_interval": "15s"}]
        assert backend["scrape_interval"] == "10s"
        assert {"target_label": "service", "replacement": "backend"} in backend["relabel_configs"]
        assert job(renders[variant]["config"], "flower")["dns_sd_configs"][0]["names"] == ["flower"]


def test_data_services_and_edge_targets_use_the_roles_ports(renders):
    one, spread = renders["one-host"]["config"], renders["spread"]["config"]
    assert targets(one, "postgres") == {"postgres-exporter:9187": "machine-cc-1"}
    assert targets(one, "redis") == {"redis-exporter:9121": "machine-cc-1"}
    assert targets(one, "traefik") == {"traefik:8082": "machine-cc-1"}
    assert targets(spread, "redis") == {"redis-exporter:9122": "machine-data-1"}
    assert targets(spread, "traefik") == {"traefik:9082": "machine-edge-1"}
    for name in ("postgres", "redis", "traefik"):
        labels = job(one, name)["static_configs"][0]["labels"]
        assert labels["service"] == name


def test_probes_go_through_the_blackbox_exporter(renders):
    one = renders["one-host"]["config"]
    blackbox = job(one, "blackbox")
    assert blackbox["metrics_path"] == "/probe" and blackbox["params"] == {"module": ["https_2xx"]}
    # The public names at the edge's HTTPS port as the monitoring network reaches it.
    assert blackbox["static_configs"][0]["targets"] == ["https://api.commandcenter.test:8443/health",
                                                        "https://commandcenter.test:8443/"]
    assert blackbox["relabel_configs"] == [
        {"source_labels": ["__address__"], "target_label": "__param_target"},
        {"source_labels": ["__param_target"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": "blackbox:9115"}]
    nats = job(one, "nats")
    assert nats["params"] == {"module": ["http_2xx"]}
    # Through the nats role's nats-monitor proxy: nats-server itself is not on the monitoring network.
    assert nats["static_configs"][0]["targets"] == ["http://nats-monitor:8222/healthz"]


def test_the_blackbox_exporter_runs_only_where_a_job_probes_through_it(renders):
    for variant in VARIANTS:
        services = yaml.safe_load((renders[variant]["dir"] / "compose.yml").read_text())["services"]
        probes = any("params" in j for j in renders[variant]["config"]["scrape_configs"])
        assert ("blackbox" in services) == probes, variant
        assert services["prometheus"]["networks"] == ["monitoring"] and "ports" not in services["prometheus"]
    assert "blackbox" not in yaml.safe_load((renders["alone"]["dir"] / "compose.yml").read_text())["services"]


def blackbox_check(work: Path, config: str = "blackbox.yml") -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "--log-driver", "none", "-v",
                           f"{work / config}:/etc/blackbox_exporter/config.yml:ro", BLACKBOX_IMAGE,
                           "--config.file=/etc/blackbox_exporter/config.yml", "--config.check"],
                          capture_output=True, text=True, check=False, timeout=120)


@pytest.mark.parametrize("variant", ["one-host", "alone"])
def test_blackbox_exporter_accepts_its_modules(renders, variant):
    proc = blackbox_check(renders[variant]["dir"])
    # With a CA file configured, the check loads it: the one-host rendering names one
    # that only exists on a host with Traefik's local CA, and the check says so.
    if variant == "one-host":
        assert "/etc/commandcenter-ca/ca.crt" in (renders[variant]["dir"] / "blackbox.yml").read_text()
        work = renders[variant]["dir"]
        ca = work / "ca.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(work / "ca.key"),
                        "-out", str(ca), "-subj", "/CN=render test CA", "-days", "1"], capture_output=True, check=True)
        proc = subprocess.run(["docker", "run", "--rm", "--network", "none", "--log-driver", "none",
                               "-v", f"{work / 'blackbox.yml'}:/etc/blackbox_exporter/config.yml:ro",
                               "-v", f"{ca}:/etc/commandcenter-ca/ca.crt:ro", BLACKBOX_IMAGE,
                               "--config.file=/etc/blackbox_exporter/config.yml", "--config.check"],
                              capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Config file is ok" in proc.stdout + proc.stderr


def test_blackbox_exporter_refuses_a_broken_module(renders):
    work = renders["alone"]["dir"]
    modules = yaml.safe_load((work / "blackbox.yml").read_text())
    modules["modules"]["https_2xx"]["timeout"] = "ten seconds"
    (work / "broken-blackbox.yml").write_text(yaml.safe_dump(modules))
    proc = blackbox_check(work, "broken-blackbox.yml")
    assert proc.returncode != 0
    assert "into time.Duration" in proc.stdout + proc.stderr
