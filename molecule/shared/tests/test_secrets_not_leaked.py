# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""No secret appears in converge output at -vvv, in `docker inspect` (labels, env, command,
args, healthcheck) or in compose files: neither its value nor a plain hash of it.

The converge at -vvv is the scenario's second converge (Molecule's sequence has no
`idempotence` step): it must also report changed=0 on every host, in every scenario, with
secrets or without.

The secrets are the scenario host's variables whose names say so (..._password,
..._secret, ..._token, ..._api_key, ..._routing_key, Alertmanager's receiver URLs) and that belong to a role the scenario converges
(cc_molecule_roles; all of them for the whole site), the literal passwords of its
`*_users` lists, every host's own HMAC key (/opt/commandcenter/secrets/host.key) and,
where the hosts form a Docker swarm, its join tokens.
Besides each value, the tests look for the hex sha256, sha1 and md5 of each secret and
of `user:secret` for every user name of the host (string variables ending in `_user`,
and the names in lists ending in `_users`) with every secret: a plain hash of a secret
lets anyone who sees it test guesses offline. What must be visible is an HMAC keyed by
the host key (commandcenter.infra.hmac).
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess

import pytest
from conftest import inventory_hostvars, scenario_hosts

# Receiver URLs carry their endpoint's token (a webhook's path, Slack's hook), so they are secrets.
SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_key|secret_key|routing_key)$"
                         r"|^alertmanager_(webhook|heartbeat|slack_api)_url$")
HOST_KEY = "/opt/commandcenter/secrets/host.key"
ALGORITHMS = ("sha256", "sha1", "md5")


def _literal(value) -> bool:
    return isinstance(value, str) and len(value) >= 4 and "{{" not in value


def scenario_secrets(hostvars: dict) -> dict[str, str]:
    roles = tuple(f"{role}_" for role in hostvars.get("cc_molecule_roles", [])) or ("",)
    secrets = {k: v for k, v in hostvars.items() if SECRET_NAME.search(k) and k.startswith(roles) and _literal(v)}
    for name, value in hostvars.items():
        if name.endswith("_users") and name.startswith(roles) and isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict) and _literal(entry.get("password")):
                    secrets[f"{name}[{entry.get('name')}].password"] = entry["password"]
    return secrets


def user_names(hostvars: dict) -> set[str]:
    names = {v for k, v in hostvars.items() if k.endswith("_user") and isinstance(v, str) and v and "{{" not in v}
    for name, value in hostvars.items():
        if name.endswith("_users") and isinstance(value, list):
            for entry in value:
                user = entry.get("name") if isinstance(entry, dict) else entry
                if isinstance(user, str) and user and "{{" not in user:
                    names.add(user)
    return names


def forms(secrets: dict[str, str], users: set[str]) -> dict[str, str]:
    """Every text that must not appear, lower-cased, with what it is (never the value itself)."""
    found = {}
    for name, value in secrets.items():
        found[value.lower()] = name
        for text, what in [(value, name)] + [(f"{user}:{value}", f"{user}:{name}") for user in sorted(users)]:
            for algorithm in ALGORITHMS:
                found[hashlib.new(algorithm, text.encode()).hexdigest()] = f"{algorithm}({what})"
    return found


HOSTVARS = inventory_hostvars()
SECRETS = scenario_secrets(HOSTVARS)
USERS = user_names(HOSTVARS)
needs_secrets = pytest.mark.skipif(not SECRETS, reason="this scenario's host has no secret variables to check")


def on_platform(name: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", name, *argv], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def forbidden() -> dict[str, str]:
    """The secrets' forms, with every host's key and the swarm's join tokens (read on the hosts: no inventory
    variable holds them). Not per host: the converge test runs once for the whole scenario."""
    secrets = dict(SECRETS)
    for name in scenario_hosts():
        key = on_platform(name, "cat", HOST_KEY)
        if SECRETS or key.returncode == 0:  # no key where nothing is deployed (docker_host, hardening)
            assert key.returncode == 0 and len(key.stdout.strip()) >= 32, \
                f"{name}: no host key in {HOST_KEY}: {key.stderr}"
            secrets[f"host key of {name}"] = key.stdout.strip()
        if on_platform(name, "docker", "info", "--format", "{{.Swarm.ControlAvailable}}").stdout.strip() == "true":
            for role in ("worker", "manager"):
                token = on_platform(name, "docker", "swarm", "join-token", "--quiet", role).stdout.strip()
                assert token.startswith("SWMTKN-"), f"{name}: no {role} join token"
                secrets[f"swarm {role} join token"] = token
    return forms(secrets, USERS)


def leaks(text: str, forbidden: dict[str, str]) -> list[str]:
    text = text.lower()
    return sorted({what for form, what in forbidden.items() if form in text})


@needs_secrets
def test_the_checks_cover_plain_hashes_of_user_and_secret():
    """The forms are what a careless label would hold (the pre-HMAC postgres exporter's, say)."""
    found = forms({"x_password": "Pw-for-the-test-1234"}, {"cc_monitor"})
    assert found[hashlib.sha256(b"cc_monitor:Pw-for-the-test-1234").hexdigest()] == "sha256(cc_monitor:x_password)"
    assert found[hashlib.md5(b"Pw-for-the-test-1234").hexdigest()] == "md5(x_password)"
    assert "pw-for-the-test-1234" in found
    assert USERS, "the host has no user names to combine with the secrets"


def test_second_converge_at_vvv_changes_nothing_and_shows_no_secret(converge, forbidden):
    run = converge("-vvv")
    assert run.returncode == 0, run.output[-4000:]
    assert run.recap, "no PLAY RECAP in the output:\n" + run.output[-3000:]
    changed = [line for line in run.output.splitlines() if line.startswith("changed:")]
    print(f"second converge at -vvv: changed={run.changed} on {len(run.recap)} host(s); "
          f"{len(forbidden)} forms of secrets looked for in its output")
    assert run.changed == 0, "the second converge changed (not idempotent):\n" + "\n".join(changed)
    leaked = leaks(run.output, forbidden)
    assert not leaked, f"the -vvv converge output carries {leaked}"


@needs_secrets
def test_containers_hold_no_secret_in_inspect(host, forbidden):
    ids = host.run("docker ps -aq").stdout.split()
    assert ids, "no containers to inspect"
    offenders = {}
    for container in json.loads(host.run("docker inspect " + " ".join(ids)).stdout):
        config = container["Config"]
        exposed = json.dumps({"labels": config.get("Labels"), "env": config.get("Env"), "cmd": config.get("Cmd"),
                              "entrypoint": config.get("Entrypoint"), "healthcheck": config.get("Healthcheck"),
                              "path": container.get("Path"), "args": container.get("Args")})
        if leaked := leaks(exposed, forbidden):
            offenders[container["Name"]] = leaked
    assert not offenders, f"docker inspect (labels, env, command, args, healthcheck) carries: {offenders}"


@needs_secrets
def test_compose_files_hold_no_secret(host, forbidden):
    files = host.run("find /opt/commandcenter -name compose.yml -type f").stdout.split()
    assert files, "no compose files found under /opt/commandcenter"
    offenders = {path: leaked for path in files if (leaked := leaks(host.file(path).content_string, forbidden))}
    assert not offenders, f"compose files carry: {offenders}"
