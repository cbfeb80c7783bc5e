# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""Every container of every cc-* compose project is limited and checked: a process limit
(pids_limit), a memory limit without swap (memswap_limit == mem_limit) and a healthcheck.

One-shot containers that exited 0 (migrations) are excepted. The failure names every
offender with what it lacks. A scenario that deploys no compose project (docker_host)
skips it. Runs before the scenario's own tests, on the host as the converge left it.
"""
from __future__ import annotations

import json

import pytest


def project_containers(host) -> list[dict]:
    ids = host.run("docker ps -aq --filter label=com.docker.compose.project").stdout.split()
    if not ids:
        return []
    containers = json.loads(host.run("docker inspect " + " ".join(ids)).stdout)
    return [c for c in containers
            if (c["Config"].get("Labels") or {}).get("com.docker.compose.project", "").startswith("cc-")]


def problems(container: dict) -> list[str]:
    state, hostconfig = container["State"], container["HostConfig"]
    if not state["Running"] and state["Status"] == "exited" and state["ExitCode"] == 0:
        return []  # a one-shot that did its work
    found = []
    if not (hostconfig.get("PidsLimit") or 0) > 0:
        found.append(f"no pids_limit (PidsLimit {hostconfig.get('PidsLimit')})")
    memory, swap = hostconfig.get("Memory") or 0, hostconfig.get("MemorySwap")
    if not memory > 0:
        found.append("no mem_limit (Memory 0)")
    elif swap != memory:
        found.append(f"may swap (MemorySwap {swap} != Memory {memory}: set memswap_limit to mem_limit)")
    healthcheck = container["Config"].get("Healthcheck") or {}
    if not healthcheck.get("Test") or healthcheck["Test"][0] == "NONE":
        found.append("no healthcheck")
    return found


def test_every_container_is_limited_and_has_a_healthcheck(host):
    containers = project_containers(host)
    if not containers:
        pytest.skip("this scenario deploys no cc-* compose project")
    offenders = {c["Name"].lstrip("/"): found for c in containers if (found := problems(c))}
    assert not offenders, "containers without limits or healthcheck:\n" + "\n".join(
        f"  {name}: {'; '.join(found)}" for name, found in sorted(offenders.items()))
