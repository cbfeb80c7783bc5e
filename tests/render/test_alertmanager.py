# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""alertmanager: the role's templates, rendered with the defaults, with the local
inventory's settings, with every receiver enabled and as one of two peers, checked by
the programs that read them.

- alertmanager.yml: `amtool check-config` from the offline image, with the very check
  the role's `validate:` runs (files/alertmanager-check.sh, mounted as the role mounts
  it), the secret files present at the paths the file names; every route proved with
  `amtool config routes test --verify.receivers`; the inhibition rules read from the
  YAML; no secret value in it (only the secret files' paths);
- deliberately broken configurations (tests/render/alertmanager/) refused with amtool's
  reason;
- compose.yml: `docker compose config -q`, and its security settings read from the YAML;
- the rendered configuration served by Alertmanager itself, the role's healthcheck and
  its reload (files/alertmanager-apply.sh) in a container set up as the compose file does.

Needs Docker and the images `make images` builds; skipped with the reason without them.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import JSON_FILE_LOGGING, compose_config, needs_images, render_variants

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "alertmanager"
FIXTURES = Path(__file__).resolve().parent / "alertmanager"
IMAGE = "commandcenter/alertmanager:0.28"
CHECK_SCRIPT = ROLE / "files" / "alertmanager-check.sh"
APPLY_SCRIPT = ROLE / "files" / "alertmanager-apply.sh"
SECRETS_IN_CONTAINER = "/run/secrets"

# Test-only secrets (the role's defaults leave them empty): URLs carry tokens.
TEST_SECRETS = {
    "alertmanager_webhook_url": "https://hooks.example.test/cc/r3nd3r-wh-Tq8zP2mV5k",
    "alertmanager_email_auth_password": "r3nd3r-smtp-Ny7cS4wA1z",
    "alertmanager_slack_api_url": "https://hooks.slack.test/services/r3nd3r-sl-Xw4nC7bJ1d",
    "alertmanager_pagerduty_routing_key": "r3nd3r-pd-Lm6vB9qR3s0Yt2",
    "alertmanager_heartbeat_url": "https://hc.example.test/ping/r3nd3r-hb-Ke5uH8dF2g",
}
# The role is not in inventories/local yet: its settings there (the offline image) are
# the "local" variant's own variables, over the inventory's shared ones.
LOCAL_INVENTORY = [ROOT / "inventories/local/group_vars/all/main.yml"]
LOCAL = {"alertmanager_image": "{{ cc_image_registry }}/commandcenter/alertmanager:0.28"}
EVERY_RECEIVER = {
    "alertmanager_webhook_enabled": True,
    "alertmanager_email_enabled": True,
    "alertmanager_email_to": ["oncall@example.com", "platform@example.com"],
    "alertmanager_email_from": "alertmanager@example.com",
    "alertmanager_email_smarthost": "smtp.example.com:587",
    "alertmanager_email_auth_username": "alertmanager",
    "alertmanager_slack_enabled": True,
    "alertmanager_slack_channel": "#alerts",
    "alertmanager_pagerduty_enabled": True,
    "alertmanager_heartbeat_enabled": True,
}

pytestmark = needs_images(IMAGE)

# Every rendering the tests use, made by ONE ansible-playbook run (a play each):
# name -> (with inventories/local?, extra variables).
VARIANTS = {
    "defaults": (False, None),
    "local": (True, LOCAL),
    "every-receiver": (False, EVERY_RECEIVER),
    "peers": (False, {**EVERY_RECEIVER, "alertmanager_cluster_hosts": ["am-one", "localhost", "am-three"]}),
    # The two hosts of a two-peer cluster, each rendered as itself (the renders run as localhost).
    "peer-1": (False, {"alertmanager_cluster_hosts": ["localhost", "am-two"]}),
    "peer-2": (False, {"alertmanager_cluster_hosts": ["am-one", "localhost"]}),
    "chat-only": (False, {"alertmanager_slack_enabled": True, "alertmanager_webhook_enabled": True}),
    "email-no-auth": (False, {**EVERY_RECEIVER, "alertmanager_email_auth_username": ""}),
    "bigger-memory": (False, {**EVERY_RECEIVER, "alertmanager_mem_limit": "256m"}),
    "other-routes": (False, {**EVERY_RECEIVER, "alertmanager_repeat_interval": "12h"}),
    # What preflight stops, rendered anyway: amtool refuses it too.
    "bad-duration": (False, {"alertmanager_group_wait": "30 seconds"}),
    "bad-smarthost": (False, {**EVERY_RECEIVER, "alertmanager_email_smarthost": "smtp.example.com"}),
    "no-recipient": (False, {**EVERY_RECEIVER, "alertmanager_email_to": []}),
}

RENDERED = {
    "compose.yml": "{{ lookup('ansible.builtin.template', 'compose.yml.j2') }}",
    "alertmanager.yml": "{{ lookup('ansible.builtin.template', 'alertmanager.yml.j2') }}",
    "derived.json": "{{ {'command': _alertmanager_command, 'alias': _alertmanager_peer_alias,"
                    " 'clustered': _alertmanager_clustered | bool, 'secrets': _alertmanager_secrets_needed,"
                    " 'secret_files': _alertmanager_secret_files | map(attribute='name') | list,"
                    " 'secret_file_modes': _alertmanager_secret_files | map(attribute='mode') | unique | list,"
                    " 'absent': _alertmanager_absent_files, 'config_hash': _alertmanager_config_hash,"
                    " 'live_hash': _alertmanager_live_hash, 'live_parts': _alertmanager_live_parts} | to_json }}",
    "checks.json": "{{ {'check': _alertmanager_check} | to_json }}",
}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """Render the role's templates for every variant into <tmp>/<variant>/ (one ansible-playbook run)."""
    return render_variants(tmp_path_factory.mktemp("alertmanager-render"), "alertmanager", VARIANTS, RENDERED,
                           LOCAL_INVENTORY, TEST_SECRETS)


def _secrets_dir(out: Path) -> Path:
    """The secret files at the names the configuration gives them (as the role writes them)."""
    secrets = out / "secrets"
    if not secrets.exists():
        secrets.mkdir()
        for name, value in TEST_SECRETS.items():
            (secrets / name).write_text(value)
            (secrets / name).chmod(0o644)  # the container's user (65534) reads them in these tests
    return secrets


def _docker_am(out: Path, config: Path, *args: str, entrypoint: str = "/bin/amtool") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", entrypoint, "--log-driver", "none",
         "-v", f"{config}:/check/alertmanager.yml:ro", "-v", f"{_secrets_dir(out)}:{SECRETS_IN_CONTAINER}:ro",
         "-v", f"{CHECK_SCRIPT}:/cc-check/alertmanager-check.sh:ro", IMAGE, *args],
        capture_output=True, text=True, check=False, timeout=60)


def am_check(out: Path, config: Path | None = None) -> subprocess.CompletedProcess:
    """The role's check: files/alertmanager-check.sh (amtool check-config) in a throw-away container."""
    return _docker_am(out, config or out / "alertmanager.yml", "/cc-check/alertmanager-check.sh",
                      "/check/alertmanager.yml", entrypoint="sh")


def routes(out: Path, labels: dict[str, str], expected: str) -> subprocess.CompletedProcess:
    """amtool config routes test: the receivers an alert with these labels reaches, verified."""
    return _docker_am(out, out / "alertmanager.yml", "config", "routes", "test",
                      "--config.file=/check/alertmanager.yml", f"--verify.receivers={expected}",
                      *(f"{k}={v}" for k, v in labels.items()))


def config(out: Path) -> dict:
    return yaml.safe_load((out / "alertmanager.yml").read_text())


def derived(out: Path) -> dict:
    return json.loads((out / "derived.json").read_text())


def test_the_check_is_the_roles(renders):
    """The validate: command mounts files/alertmanager-check.sh and runs it as am_check() does."""
    check = json.loads((renders["local"] / "checks.json").read_text())["check"]
    assert check.startswith("docker run --rm --network none --user 0 --entrypoint sh ")
    assert "-v /opt/commandcenter/alertmanager/checks/alertmanager-check.sh:/cc-check/alertmanager-check.sh:ro" in check
    assert "-v %s:/check/alertmanager.yml:ro 172.17.0.1:5000/commandcenter/alertmanager:0.28 " in check
    assert check.endswith(" /cc-check/alertmanager-check.sh /check/alertmanager.yml")


@pytest.mark.parametrize("variant", ["defaults", "local", "every-receiver", "peers", "chat-only", "email-no-auth"])
def test_amtool_accepts_the_configuration(renders, variant):
    proc = am_check(renders[variant])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


# (variant, labels, expected receivers in route order)
ROUTES = [
    # Every receiver enabled: critical to the pager, chat and e-mail; warning to chat.
    ("every-receiver", {"alertname": "PostgresqlDown", "severity": "critical"}, "pagerduty,slack,email"),
    ("every-receiver", {"alertname": "SlowDatabaseQueries", "severity": "warning"}, "slack"),
    # The dead man's switch: only the heartbeat, whatever its severity.
    ("every-receiver", {"alertname": "Watchdog", "severity": "none"}, "heartbeat"),
    ("every-receiver", {"alertname": "Watchdog", "severity": "critical"}, "heartbeat"),
    # No severity route: the default receiver (the webhook).
    ("every-receiver", {"alertname": "Something", "severity": "info"}, "default"),
    ("every-receiver", {"alertname": "Unlabelled"}, "default"),
    # Only the enabled receivers are routed to.
    ("chat-only", {"alertname": "PostgresqlDown", "severity": "critical"}, "slack"),
    ("chat-only", {"alertname": "RedisHighMemoryUsage", "severity": "warning"}, "slack"),
    ("chat-only", {"alertname": "Watchdog", "severity": "none"}, "none"),
    ("chat-only", {"alertname": "Something", "severity": "info"}, "default"),
    # Nothing enabled: every alert to the default receiver, which sends nothing.
    ("defaults", {"alertname": "PostgresqlDown", "severity": "critical"}, "default"),
    ("defaults", {"alertname": "SlowDatabaseQueries", "severity": "warning"}, "default"),
    ("defaults", {"alertname": "Watchdog", "severity": "none"}, "none"),
    ("defaults", {"alertname": "Something", "severity": "info"}, "default"),
    ("peers", {"alertname": "ServiceDown", "severity": "critical", "service": "backend"}, "pagerduty,slack,email"),
]


@pytest.mark.parametrize(("variant", "labels", "expected"), ROUTES,
                         ids=[f"{v}-{'-'.join(labels.values())}" for v, labels, _receivers in ROUTES])
def test_every_route_reaches_its_receivers(renders, variant, labels, expected):
    proc = routes(renders[variant], labels, expected)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == expected


def test_receivers_send_nothing_unless_enabled(renders):
    receivers = {r["name"]: r for r in config(renders["defaults"])["receivers"]}
    assert sorted(receivers) == ["default", "none"]
    assert receivers["default"] == {"name": "default"} and receivers["none"] == {"name": "none"}
    receivers = {r["name"]: r for r in config(renders["chat-only"])["receivers"]}
    assert sorted(receivers) == ["default", "none", "slack", "webhook"]
    assert receivers["slack"]["slack_configs"][0] == {"api_url_file": "/run/secrets/alertmanager_slack_api_url",
                                                      "send_resolved": True}


def test_every_credential_is_a_file(renders):
    """The *_file options name the mounted secret files; no inline credential option is set."""
    receivers = {r["name"]: r for r in config(renders["every-receiver"])["receivers"]}
    assert receivers["default"]["webhook_configs"] == [
        {"url_file": "/run/secrets/alertmanager_webhook_url", "send_resolved": True}]
    assert receivers["webhook"]["webhook_configs"] == receivers["default"]["webhook_configs"]
    assert receivers["heartbeat"]["webhook_configs"] == [
        {"url_file": "/run/secrets/alertmanager_heartbeat_url", "send_resolved": False}]
    assert receivers["pagerduty"]["pagerduty_configs"] == [
        {"routing_key_file": "/run/secrets/alertmanager_pagerduty_routing_key", "send_resolved": True}]
    assert receivers["slack"]["slack_configs"] == [
        {"api_url_file": "/run/secrets/alertmanager_slack_api_url", "channel": "#alerts", "send_resolved": True}]
    assert receivers["email"]["email_configs"] == [{
        "to": "oncall@example.com, platform@example.com", "from": "alertmanager@example.com",
        "smarthost": "smtp.example.com:587", "auth_username": "alertmanager",
        "auth_password_file": "/run/secrets/alertmanager_email_auth_password", "require_tls": True,
        "send_resolved": True}]
    text = (renders["every-receiver"] / "alertmanager.yml").read_text()
    for inline in ("url:", "api_url:", "routing_key:", "service_key:", "auth_password:", "auth_secret:"):
        assert f" {inline} " not in text and f"- {inline}" not in text, inline
    assert "global" in config(renders["every-receiver"]) and set(config(renders["every-receiver"])["global"]) == {
        "resolve_timeout"}


def test_email_without_auth_needs_no_password(renders):
    email = {r["name"]: r for r in config(renders["email-no-auth"])["receivers"]}["email"]["email_configs"][0]
    assert "auth_username" not in email and "auth_password_file" not in email
    assert "alertmanager_email_auth_password" not in derived(renders["email-no-auth"])["secrets"]
    assert "/opt/commandcenter/alertmanager/secrets/alertmanager_email_auth_password" in derived(
        renders["email-no-auth"])["absent"]


def test_secret_files_are_the_enabled_receivers(renders):
    every, none = derived(renders["every-receiver"]), derived(renders["defaults"])
    assert sorted(every["secret_files"]) == sorted(TEST_SECRETS) and every["absent"] == []
    assert every["secret_file_modes"] == ["0400"]
    assert none["secret_files"] == [] and len(none["absent"]) == len(TEST_SECRETS)
    chat = derived(renders["chat-only"])
    assert sorted(chat["secret_files"]) == ["alertmanager_slack_api_url", "alertmanager_webhook_url"]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_secret_value_is_in_a_rendered_file(renders, variant):
    out = renders[variant]
    for filename in ("alertmanager.yml", "compose.yml", "derived.json", "checks.json"):
        text = (out / filename).read_text()
        for name, value in TEST_SECRETS.items():
            assert value not in text, f"{name} in {filename}"
            assert value.rsplit("/", 1)[-1] not in text, f"the token of {name} in {filename}"


def test_inhibition_rules_are_as_configured(renders):
    rules = config(renders["every-receiver"])["inhibit_rules"]
    assert rules[0] == {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
                        "equal": ["alertname", "instance"]}
    by_source = {r["source_matchers"][0]: r for r in rules[1:]}
    assert by_source['alertname="PostgresqlDown"'] == {
        "source_matchers": ['alertname="PostgresqlDown"'],
        "target_matchers": ['alertname=~"DatabasePoolExhausted|SlowDatabaseQueries|PostgresqlTooManyConnections"'],
        "equal": []}
    assert by_source['alertname="RedisDown"']["target_matchers"] == [
        'alertname=~"RedisHighMemoryUsage|CeleryQueueBacklog|CeleryWorkerDown"']
    assert by_source['alertname="ServiceDown"']["target_matchers"] == ['alertname!~"ServiceDown|Watchdog"']
    assert by_source['alertname="ServiceDown"']["equal"] == ["service"]
    assert by_source['alertname="TargetMissing"']["target_matchers"] == ['alertname!~"TargetMissing|Watchdog"']
    assert by_source['alertname="TargetMissing"']["equal"] == ["service"]
    disk = [r for r in rules if r["source_matchers"][0].startswith('alertname="DiskSpace')]
    assert [(r["source_matchers"], r["target_matchers"], r["equal"]) for r in disk] == [
        (['alertname="DiskSpaceCritical"'], ['alertname=~"DiskSpaceLow|DiskSpaceRunningOut"'], ["instance", "mountpoint"]),
        (['alertname="DiskSpaceLow"'], ['alertname=~"DiskSpaceRunningOut"'], ["instance", "mountpoint"])]
    assert len(rules) == 7


def test_route_settings_come_from_the_variables(renders):
    route = config(renders["every-receiver"])["route"]
    assert route["receiver"] == "default" and route["group_by"] == ["alertname", "service", "instance"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("30s", "5m", "4h")
    heartbeat = route["routes"][0]
    assert heartbeat["matchers"] == ['alertname="Watchdog"'] and heartbeat["receiver"] == "heartbeat"
    assert heartbeat["repeat_interval"] == "1m" and heartbeat["continue"] is False
    assert config(renders["other-routes"])["route"]["repeat_interval"] == "12h"


@pytest.mark.parametrize(("variant", "reason"), [
    ("bad-duration", 'unknown unit " seconds" in duration "30 seconds"'),
    ("bad-smarthost", "address smtp.example.com: missing port in address"),
    ("no-recipient", "missing to address in email config"),
])
def test_amtool_refuses_a_bad_rendering(renders, variant, reason):
    """What argument_specs/preflight would stop, rendered anyway: amtool refuses it, saying why."""
    proc = am_check(renders[variant])
    assert proc.returncode != 0
    assert reason in proc.stdout, proc.stdout


@pytest.mark.parametrize(("fixture", "reason"), [
    ("undefined-receiver.yml", 'undefined receiver "pager" used in route'),
    ("bad-duration.yml", 'unknown unit " hours" in duration "4 hours"'),
    ("inline-and-file-webhook.yml", "at most one of url & url_file must be configured"),
    ("inline-and-file-slack.yml", "at most one of api_url & api_url_file must be configured"),
    ("inline-and-file-pagerduty.yml", "at most one of routing_key & routing_key_file must be configured"),
    ("bad-matcher.yml", "bad matcher format"),
    ("missing-smarthost-port.yml", "missing port in address"),
])
def test_amtool_refuses_a_broken_configuration(renders, fixture, reason):
    proc = am_check(renders["every-receiver"], FIXTURES / fixture)
    assert proc.returncode != 0, proc.stdout
    assert reason in proc.stdout, proc.stdout


def test_compose_file_is_hardened_and_holds_no_secret(renders):
    compose = yaml.safe_load((renders["every-receiver"] / "compose.yml").read_text())
    assert list(compose["services"]) == ["alertmanager"]
    am = compose["services"]["alertmanager"]
    assert am["image"] == "prom/alertmanager:v0.28.1"
    assert am["user"] == "65534:65534"
    assert am["cap_drop"] == ["ALL"] and am["security_opt"] == ["no-new-privileges:true"]
    assert am["read_only"] is True and am["restart"] == "unless-stopped"
    assert "ports" not in am and "environment" not in am and "secrets" not in am
    assert am["mem_limit"] == am["memswap_limit"] == "128m" and am["cpus"] == 0.5 and am["pids_limit"] == 256
    assert am["logging"] == JSON_FILE_LOGGING
    assert am["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9093/-/ready"]
    assert len(am["labels"]["com.commandcenter.config-hash"]) == 64
    assert am["networks"] == ["monitoring"] and compose["networks"] == {"monitoring": {"name": "monitoring", "external": True}}
    assert {(v["source"], v["target"], v.get("read_only", False)) for v in am["volumes"]} == {
        ("/opt/commandcenter/alertmanager/data", "/alertmanager", False),
        ("./config", "/etc/alertmanager", True), ("./secrets", "/run/secrets", True)}
    assert am["command"] == ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager",
                             "--web.listen-address=:9093", "--data.retention=120h", "--log.level=info",
                             "--cluster.listen-address="]
    local = yaml.safe_load((renders["local"] / "compose.yml").read_text())["services"]["alertmanager"]
    assert local["image"] == "172.17.0.1:5000/commandcenter/alertmanager:0.28"


def test_two_or_more_hosts_make_a_cluster(renders):
    compose = yaml.safe_load((renders["peers"] / "compose.yml").read_text())["services"]["alertmanager"]
    assert compose["networks"] == {"monitoring": {"aliases": ["alertmanager-2"]}}
    assert compose["command"][-3:] == ["--cluster.listen-address=0.0.0.0:9094",
                                       "--cluster.peer=alertmanager-1:9094", "--cluster.peer=alertmanager-3:9094"]
    assert derived(renders["peers"])["clustered"] is True and derived(renders["every-receiver"])["clustered"] is False
    assert derived(renders["peers"])["config_hash"] != derived(renders["every-receiver"])["config_hash"]


@pytest.mark.parametrize("variant", ["defaults", "every-receiver", "peers"])
def test_docker_compose_accepts_the_compose_file(renders, variant):
    out = renders[variant]
    (out / "config").mkdir(exist_ok=True)
    (out / "config" / "alertmanager.yml").write_text((out / "alertmanager.yml").read_text())
    _secrets_dir(out)
    proc = compose_config(out)
    assert proc.returncode == 0, proc.stderr


def test_config_hash_follows_only_restart_settings(renders):
    """The memory limit recreates the container; a routing change is a reload (live part), not a restart."""
    base, memory, routing = (derived(renders[v]) for v in ("every-receiver", "bigger-memory", "other-routes"))
    assert memory["config_hash"] != base["config_hash"] and memory["live_hash"] == base["live_hash"]
    assert routing["config_hash"] == base["config_hash"] and routing["live_hash"] != base["live_hash"]
    changed = sorted(k for k in base["live_parts"] if base["live_parts"][k] != routing["live_parts"][k])
    assert changed == ["route"]
    assert sorted(base["live_parts"]) == ["global", "inhibit_rules", "receivers", "route"]


# --- Alertmanager serves the rendered configuration; the role's probe and reload work ---

def _docker(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120, input=stdin)


def test_alertmanager_serves_the_configuration_and_reloads_it(renders, tmp_path):
    """As the compose file runs it (user 65534, read-only root, no capabilities, directory mounts): the healthcheck
    passes, the apply script's reload takes a changed file, and refuses a broken one while the old one keeps serving."""
    out = renders["every-receiver"]
    compose = yaml.safe_load((out / "compose.yml").read_text())["services"]["alertmanager"]
    conf_dir, data_dir = tmp_path / "config", tmp_path / "data"
    conf_dir.mkdir()
    data_dir.mkdir()
    data_dir.chmod(0o777)
    (conf_dir / "alertmanager.yml").write_text((out / "alertmanager.yml").read_text())
    name = f"cc-render-alertmanager-{os.getpid()}"
    _docker("run", "-d", "--name", name, "--network", "none", "--user", compose["user"], "--read-only",
            "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "-v", f"{conf_dir}:/etc/alertmanager:ro", "-v", f"{_secrets_dir(out)}:/run/secrets:ro",
            "-v", f"{data_dir}:/alertmanager", IMAGE, *compose["command"])
    try:
        probe = compose["healthcheck"]["test"][1:]
        for _attempt in range(100):
            proc = _docker("exec", name, *probe, check=False)
            if proc.returncode == 0:
                break
            time.sleep(0.2)
        assert proc.returncode == 0, _docker("logs", name, check=False).stderr[-2000:]
        status = json.loads(_docker("exec", name, "wget", "-q", "-O", "-",
                                    "http://127.0.0.1:9093/api/v2/status").stdout)
        assert status["cluster"]["status"] == "disabled"
        assert "alertmanager_heartbeat_url" in status["config"]["original"]
        for value in TEST_SECRETS.values():
            assert value not in status["config"]["original"]
        apply = APPLY_SCRIPT.read_text()
        # A changed file: taken by the reload.
        (conf_dir / "alertmanager.yml").write_text((renders["other-routes"] / "alertmanager.yml").read_text())
        proc = _docker("exec", "-i", name, "sh", "-s", "--", "9093", stdin=apply, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        status = json.loads(_docker("exec", name, "wget", "-q", "-O", "-",
                                    "http://127.0.0.1:9093/api/v2/status").stdout)
        assert "repeat_interval: 12h" in status["config"]["original"]
        # A broken file: refused, the server keeps the previous one and stays ready.
        (conf_dir / "alertmanager.yml").write_text((FIXTURES / "undefined-receiver.yml").read_text())
        proc = _docker("exec", "-i", name, "sh", "-s", "--", "9093", stdin=apply, check=False)
        assert proc.returncode != 0 and "did not reload its configuration" in proc.stderr
        assert _docker("exec", name, *probe, check=False).returncode == 0
        logs = _docker("logs", name, check=False)
        for value in TEST_SECRETS.values():
            assert value not in logs.stdout + logs.stderr
    finally:
        _docker("rm", "-f", name, check=False)


def test_two_peers_find_each_other(renders, tmp_path):
    """Both peers of a two-host group, run as their compose files say on one network with their aliases: each
    gossips with the other (Alertmanager's own status lists both peers, ready)."""
    network = f"cc-render-am-{os.getpid()}"
    _docker("network", "create", "--internal", network)
    names = []
    try:
        for peer in ("peer-1", "peer-2"):
            out = renders[peer]
            compose = yaml.safe_load((out / "compose.yml").read_text())["services"]["alertmanager"]
            (alias,) = compose["networks"]["monitoring"]["aliases"]
            conf_dir, data_dir = tmp_path / peer / "config", tmp_path / peer / "data"
            conf_dir.mkdir(parents=True)
            data_dir.mkdir()
            data_dir.chmod(0o777)
            (conf_dir / "alertmanager.yml").write_text((out / "alertmanager.yml").read_text())
            names.append(f"{network}-{peer}")
            _docker("run", "-d", "--name", names[-1], "--network", network, "--network-alias", alias,
                    "--user", compose["user"], "--read-only", "--cap-drop", "ALL",
                    "-v", f"{conf_dir}:/etc/alertmanager:ro", "-v", f"{_secrets_dir(out)}:/run/secrets:ro",
                    "-v", f"{data_dir}:/alertmanager", IMAGE, *compose["command"])
        for _attempt in range(150):
            peers = []
            for name in names:
                proc = _docker("exec", name, "wget", "-q", "-O", "-", "http://127.0.0.1:9093/api/v2/status",
                               check=False)
                cluster = json.loads(proc.stdout)["cluster"] if proc.returncode == 0 else {}
                peers.append((cluster.get("status"), len(cluster.get("peers") or [])))
            if peers == [("ready", 2), ("ready", 2)]:
                break
            time.sleep(0.2)
        assert peers == [("ready", 2), ("ready", 2)], [_docker("logs", n, check=False).stderr[-1500:] for n in names]
    finally:
        for name in names:
            _docker("rm", "-f", name, check=False)
        _docker("network", "rm", network, check=False)


# --- the offline image honours the upstream contract ---------------------------

def test_image_contract():
    config = json.loads(_docker("image", "inspect", "--format", "{{json .Config}}", IMAGE).stdout)
    assert config["Entrypoint"] == ["/bin/alertmanager"]
    assert config["Cmd"] == ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
    assert config["User"] == "65534:65534" and config["WorkingDir"] == "/alertmanager"
    assert "/alertmanager" in config["Volumes"] and {"9093/tcp", "9094/tcp"} <= set(config["ExposedPorts"])
    version = _docker("run", "--rm", "--entrypoint", "/bin/amtool", IMAGE, "--version")
    assert "0.28.1" in version.stdout + version.stderr
