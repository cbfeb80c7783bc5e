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
