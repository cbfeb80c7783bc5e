# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) 2026, CommandCenter platform team
"""The whole site on one host, through the local inventory's variables."""
import os
import subprocess
from pathlib import Path

from conftest import docker_json

ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def test_engine_serves_the_shared_networks(host):
    assert host.service("docker").is_running
    for name in ("commandcenter", "monitoring"):
        assert docker_json(host, "network", "inspect", name)["Name"] == name


def test_local_inventory_reaches_the_sandbox_and_summary_passes():
    """playbooks/verify.yml through inventories/local: the demo's health summary."""
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(ROOT / "inventories" / "local"), str(ROOT / "playbooks" / "verify.yml")],
        capture_output=True, text=True, check=False, cwd=ROOT,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "All containers healthy" in proc.stdout
    assert "networks: " in proc.stdout and "commandcenter" in proc.stdout
    assert "app: release " in proc.stdout and "/commandcenter/cc-backend:" in proc.stdout, proc.stdout[-2000:]


def test_every_stack_of_the_site_is_up_and_healthy(host):
    """site.yml on one host: each data stack runs, and every container with a healthcheck is healthy."""
    projects = {}
    for line in host.run("docker ps -a --format '{{.Label \"com.docker.compose.project\"}} {{.Names}} {{.Status}}'"
                         ).stdout.splitlines():
        project, name, status = line.split(" ", 2)
        projects.setdefault(project, []).append((name, status))
    for stack in ("cc-postgres", "cc-redis", "cc-nats"):
        assert stack in projects, f"{stack} not deployed: {sorted(projects)}"
        for name, status in projects[stack]:
            assert status.startswith("Up"), f"{name}: {status}"
            assert "unhealthy" not in status and "starting" not in status, f"{name}: {status}"
