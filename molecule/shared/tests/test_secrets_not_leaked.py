# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""No secret value appears in converge output at -vvv, in container labels or env, or in compose files.

The secrets are the scenario host's variables whose names say so
(..._password, ..._secret, ..._token, ..._api_key) and that belong to a role
the scenario converges (cc_molecule_roles; all of them for the whole site).
"""
import json
import re

import pytest
from conftest import inventory_hostvars

SECRET_NAME = re.compile(r"(password|passwd|secret|token|api_key|secret_key)$")


def scenario_secrets() -> dict[str, str]:
    hostvars = inventory_hostvars()
    roles = tuple(f"{role}_" for role in hostvars.get("cc_molecule_roles", [])) or ("",)
    return {k: v for k, v in hostvars.items()
            if SECRET_NAME.search(k) and k.startswith(roles) and isinstance(v, str) and len(v) >= 4}


SECRETS = scenario_secrets()
pytestmark = pytest.mark.skipif(not SECRETS, reason="this scenario's host has no secret variables to check")


def _leaks(text: str) -> list[str]:
    return sorted(name for name, value in SECRETS.items() if value in text)


def test_converge_output_at_vvv_holds_no_secret(converge):
    run = converge("-vvv")
    assert run.returncode == 0, run.output[-4000:]
    assert not _leaks(run.output), f"secret values of {_leaks(run.output)} appear in the -vvv converge output"


def test_containers_hold_no_secret_in_labels_or_env(host):
    ids = host.run("docker ps -aq").stdout.split()
    assert ids, "no containers to inspect"
    for container in json.loads(host.run("docker inspect " + " ".join(ids)).stdout):
        exposed = json.dumps(container["Config"].get("Labels") or {}) + json.dumps(container["Config"].get("Env") or [])
        assert not _leaks(exposed), f"{container['Name']}: labels/env carry {_leaks(exposed)}"


def test_compose_files_hold_no_secret(host):
    files = host.run("ls /opt/commandcenter/*/compose.yml /opt/commandcenter/*/releases/*/compose.yml").stdout.split()
    assert files, "no compose files found under /opt/commandcenter"
    for path in files:
        content = host.file(path).content_string
        assert not _leaks(content), f"{path} carries {_leaks(content)}"
